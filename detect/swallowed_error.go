package detect

import (
	"fmt"
	"strings"

	"github.com/probity/probity"
)

// SwallowedError finds tool or command results that signal failure (an
// error field, a leading "Error:", an exception, a non-zero exit with error
// output, failing tests, an HTTP status >= 400) after which the agent goes
// on without addressing the failure.
//
// The agent addresses a failure when, before it next speaks to the user or
// acts elsewhere, it retries the same tool, or its own words acknowledge the
// problem (error, failed, unable, unfortunately, not available, ...). The
// finding sits on the failed result, the origin of what follows. It is high
// when the agent's next message claims success anyway, medium when it
// silently goes on to other actions or ends the run.
type SwallowedError struct{}

// ID returns "swallowed-error".
func (SwallowedError) ID() string { return "swallowed-error" }

// Detect implements Detector.
func (d SwallowedError) Detect(c *Context) []probity.Finding {
	steps := c.Trace.Steps
	var out []probity.Finding
	for i := range steps {
		s := &steps[i]
		if !isObservation(s) {
			continue
		}
		fail, ok := failureOf(s)
		if !ok {
			continue
		}
		if f, ok := d.judge(c, i, fail); ok {
			out = append(out, f)
		}
	}
	return out
}

// judge decides whether the agent addressed the failure at step i.
func (d SwallowedError) judge(c *Context, i int, fail failure) (probity.Finding, bool) {
	steps := c.Trace.Steps
	failedTool := ""
	if t := steps[i].Tool; t != nil {
		failedTool = t.Name
	}
	var reached []int
	for j := i + 1; j < len(steps) && len(reached) < 8; j++ {
		s := &steps[j]
		if !isAgent(s) {
			if s.Kind == probity.KindUser && !isObservation(s) {
				// A person spoke before the agent said anything to them:
				// they now drive the conversation.
				return probity.Finding{}, false
			}
			continue
		}
		text := agentText(s)
		if s.Kind == probity.KindToolCall && s.Tool != nil && failedTool != "" && s.Tool.Name == failedTool {
			return probity.Finding{}, false // a retry addresses it
		}
		if reAcknowledge.MatchString(text) || mentionsFailure(text, fail.quote) {
			return probity.Finding{}, false
		}
		reached = append(reached, j)
		if claim, ok := claimsSuccess(messageText(s)); ok && speaksToUser(s) {
			return c.finding(i, probity.Finding{
				Detector:   d.ID(),
				Severity:   probity.SeverityHigh,
				Confidence: 0.9,
				Message:    fmt.Sprintf("%s, yet the agent's next message claims success without mentioning it", describeFailure(steps[i], fail)),
				Evidence: []probity.Evidence{
					{Kind: fail.kind, Source: fail.quote, SourceStep: steps[i].Pos.Index, Note: "the result says it failed"},
					{Kind: "success-claim", Source: claim, SourceStep: s.Pos.Index, Note: "the agent says it worked"},
				},
				BlastRadius: positions(c, reached),
			}), true
		}
		if speaksToUser(s) && messageText(s) != "" {
			// The agent spoke about something else: the failure is
			// swallowed, but nothing claims it succeeded.
			break
		}
	}
	sev := probity.SeverityMedium
	msg := fmt.Sprintf("%s and the agent goes on without addressing it", describeFailure(steps[i], fail))
	if len(reached) == 0 {
		msg = fmt.Sprintf("%s and the run ends without the agent addressing it", describeFailure(steps[i], fail))
	}
	return c.finding(i, probity.Finding{
		Detector:    d.ID(),
		Severity:    sev,
		Confidence:  0.6,
		Message:     msg,
		Evidence:    []probity.Evidence{{Kind: fail.kind, Source: fail.quote, SourceStep: steps[i].Pos.Index, Note: "the result says it failed"}},
		BlastRadius: positions(c, reached),
	}), true
}

// mentionsFailure reports whether text repeats a distinctive word of the
// failure: an identifier or number ("HAT030", "SECRET_KEY", "305",
// "reproduce_app_foo"), the kind of word an agent quotes when it reacts.
func mentionsFailure(text, quote string) bool {
	for _, w := range strings.FieldsFunc(quote, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z')
	}) {
		if len(w) < 3 || !distinctive(w) {
			continue
		}
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}

// distinctive reports whether w looks like an identifier or a number rather
// than an English word: it has a digit, an underscore, or an inner capital.
func distinctive(w string) bool {
	if strings.ContainsAny(w, "0123456789_") {
		return true
	}
	for i := 1; i < len(w); i++ {
		if w[i] >= 'A' && w[i] <= 'Z' {
			return true
		}
	}
	return false
}

func describeFailure(s probity.Step, f failure) string {
	what := "a tool result"
	if s.Tool != nil && s.Tool.Name != "" {
		what = "the " + s.Tool.Name + " result"
	} else if s.Kind == probity.KindUser {
		what = "the command output"
	}
	switch f.kind {
	case "failing-tests":
		return what + " shows failing tests"
	case "non-zero-exit":
		return what + " shows a failed command"
	case "exception":
		return what + " shows an exception"
	case "http-status":
		return what + " carries an HTTP error status"
	}
	return what + " is an error"
}

// speaksToUser reports whether s is a message (not a tool call): what the
// agent tells the user or its team.
func speaksToUser(s *probity.Step) bool {
	return s.Kind == probity.KindAssistant || s.Kind == probity.KindFinal
}

// messageText is the text of a message step, or "" for tool calls.
func messageText(s *probity.Step) string {
	if s.Kind == probity.KindToolCall {
		return ""
	}
	return s.Content
}

func positions(c *Context, idx []int) []int {
	out := make([]int, 0, len(idx))
	last := -1
	for _, j := range idx {
		p := c.Trace.Steps[j].Pos.Index
		if p != last {
			out = append(out, p)
			last = p
		}
	}
	return out
}
