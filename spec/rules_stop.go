package spec

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/probity/probity"
)

// The three "no way to stop or to know it worked" rules look at all prompt
// documents together: a system prompt and a task file are one specification,
// and a success criterion in either is enough.

func ruleMissingSuccess() *Rule {
	return &Rule{
		ID:       "missing-success-criterion",
		Severity: probity.SeverityMedium,
		Title:    "no success criterion",
		Rationale: "Nothing says what done looks like or how the agent checks that its action worked. A literal " +
			"interpreter then reports success when a tool call returned, whatever the call did (the unverified-success " +
			"failure that analyze finds afterwards).",
		Fix:   "state the outcome and how to check it: \"the task is done when get_order_details shows status 'cancelled'; verify it before telling the user\"",
		check: docRule(successRE, "no sentence says when the task is done or how to check that an action worked"),
	}
}

func ruleMissingStop() *Rule {
	return &Rule{
		ID:       "missing-stop-condition",
		Severity: probity.SeverityMedium,
		Title:    "no stop condition",
		Rationale: "Nothing says when to stop: after how many attempts, on which error, or when the conversation " +
			"ends. A literal interpreter retries, loops or keeps acting until a limit outside the prompt stops it.",
		Fix:   "say when to stop: \"stop after two failed attempts\", \"end the conversation once the request is handled\", \"do not retry a failed refund\"",
		check: docRule(stopRE, "no sentence says when to stop: no attempt limit, no end of the conversation, no 'do not retry'"),
	}
}

func ruleMissingEscalation() *Rule {
	return &Rule{
		ID:       "missing-escalation",
		Severity: probity.SeverityMedium,
		Title:    "no escalation path",
		Rationale: "Nothing says what to do when the request is out of scope, ambiguous or failing: hand off to a " +
			"person, ask the user, or refuse. A literal interpreter improvises instead.",
		Fix:   "add an escalation path: \"if the request cannot be handled with these tools, transfer to a human agent\"; \"if unsure, ask the user\"",
		check: docRule(escalateRE, "no sentence says where to turn when the request cannot be handled: no human hand-off, no 'ask the user', no refusal"),
	}
}

var (
	successRE  = regexp.MustCompile(`(?i)\b(success(?:ful(?:ly)?)?|succeed(?:s|ed)?|done\s+when|complete(?:d)?\s+(?:when|once|if)|task\s+is\s+(?:done|complete|finished)|goal\s+is|definition\s+of\s+done|acceptance\s+criteri(?:a|on)|expected\s+(?:output|result|outcome)|verify\s+(?:that|the|it)|check\s+that|make\s+sure\s+(?:that\s+)?(?:it|the\s+\w+)\s+(?:worked|succeeded|was|is|has))\b`)
	stopRE     = regexp.MustCompile(`(?i)\b(stop(?:s|ping)?\b|end\s+the\s+(?:conversation|session|chat|task)|finish(?:ed)?\s+when|when\s+(?:you\s+are|you're)\s+(?:done|finished)|do\s+not\s+(?:retry|continue|try\s+again)|don't\s+(?:retry|continue)|give\s+up|halt|terminate\s+the|at\s+most\s+\d+\s+(?:attempts|tries|retries|turns|steps|times)|(?:max(?:imum)?|no\s+more\s+than)\s+(?:of\s+)?\d+\s+(?:attempts|tries|retries|turns|steps|times)|until\b)`)
	escalateRE = regexp.MustCompile(`(?i)\b(transfer\s+(?:the\s+\w+\s+)?to\s+(?:a\s+)?(?:human|person|agent|supervisor|operator)|human\s+(?:agent|operator|review)|escalat(?:e|ion|es)|hand\s*(?:-\s*)?off|ask\s+(?:the\s+user|for\s+help|for\s+clarification|a\s+clarifying)|clarifying\s+question|contact\s+(?:support|a\s+human)|defer\s+to|refuse|decline\s+(?:the|to)|if\s+(?:you\s+are\s+)?(?:unsure|uncertain|in\s+doubt|not\s+sure))`)
)

// docRule builds the check of a rule that wants some sentence in the
// prompts to match re, and reports at the first document's start when none
// does.
func docRule(re *regexp.Regexp, msg string) func(*Input, *reporter) {
	return func(in *Input, r *reporter) {
		if len(in.Docs) == 0 {
			return
		}
		var files []string
		for _, d := range in.Docs {
			if re.MatchString(d.Text) {
				return
			}
			files = append(files, d.File)
		}
		r.add(Finding{
			Span:    Span{File: in.Docs[0].File, Line: 1, Column: 1},
			Message: fmt.Sprintf("%s (read %s)", msg, strings.Join(files, ", ")),
		})
	}
}
