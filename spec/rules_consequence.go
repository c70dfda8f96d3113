package spec

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/toolclass"
)

func ruleUnguardedSideEffect() *Rule {
	return &Rule{
		ID:       "unguarded-side-effect",
		Severity: probity.SeverityMedium,
		Title:    "a side-effecting tool that nothing guards",
		Rationale: "A tool that changes the world (by its name, its description or its MCP annotations) can be called " +
			"as often and with whatever arguments the model likes when neither the policy nor the prompt asks for a " +
			"confirmation, an approval or a budget. A literal interpreter that misreads one id refunds, deletes or " +
			"sends at once. High for irreversible actions (delete, send, pay, write), medium for other changes, low " +
			"when only the server's readOnlyHint says so.",
		Fix: "add a policy rule with confirm: or action: approve, or a budget (max_calls, sum/max), for the tool; " +
			"or say in the prompt that the agent must get the user's explicit confirmation before calling it",
		check: checkUnguarded,
	}
}

var (
	confirmRE = regexp.MustCompile(`(?i)\b(confirm(?:ation|s|ed)?|approv(?:e|al|ed)|permission|consent|explicit(?:ly)?\s+(?:yes|agree)|ask\s+(?:the\s+)?user\s+(?:before|first))\b`)
	// generic names for every side effect at once.
	allActionsRE = regexp.MustCompile(`(?i)\b(?:consequential|irreversible|destructive|side[- ]effect(?:ing|s)?|write|any|every|all)\s+(?:actions?|operations?|changes?|tool\s+calls?|writes?)\b|\bthat\s+(?:updates?|changes?|modif(?:y|ies)|writes?\s+to)\s+(?:the\s+)?(?:database|data|state|records?)\b`)
	limitRE      = regexp.MustCompile(`(?i)\b(?:at\s+most|no\s+more\s+than|up\s+to|maximum\s+of|max(?:imum)?|limit(?:ed)?\s+to|only)\s+(?:\$?\d[\d,.]*|one|two|three|once|twice|a\s+single)\b`)
)

// specGuards returns, for a tool, the sentence of a prompt that asks for a
// confirmation or sets a limit before it runs, if any.
func specGuards(docs []*Doc, t *Tool) (Span, bool) {
	verbs := map[string]bool{}
	for _, w := range toolclass.Words(t.Name) {
		if nameSideEffect(w) {
			verbs[w] = true
		}
	}
	spaced := strings.Join(toolclass.Words(t.Name), " ")
	for _, d := range docs {
		for _, s := range d.sentences {
			if !confirmRE.MatchString(s.text) && !limitRE.MatchString(s.text) {
				continue
			}
			low := strings.ToLower(s.text)
			hit := strings.Contains(low, strings.ToLower(t.Name)) || strings.Contains(low, spaced) || allActionsRE.MatchString(s.text)
			if !hit {
				for _, w := range proseWords(low) {
					if verbs[w] || verbs[strings.TrimSuffix(w, "s")] || verbs[strings.TrimSuffix(w, "ed")] || verbs[strings.TrimSuffix(w, "d")] {
						hit = true
						break
					}
				}
			}
			if hit {
				return d.span(s.start, s.end), true
			}
		}
	}
	return Span{}, false
}

// proseWords splits lower-case prose into words.
func proseWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z') && r != '_' && r != '-' })
}

func checkUnguarded(in *Input, r *reporter) {
	for _, t := range in.Tools {
		e := classify(t, in.Policy)
		if !e.side {
			continue
		}
		if in.Policy != nil {
			if rules, budgets := in.Policy.P.Guards(t.Name); len(rules)+len(budgets) > 0 {
				continue
			}
		}
		if _, ok := specGuards(in.Docs, t); ok {
			continue
		}
		sev := []probity.Severity{probity.SeverityLow, probity.SeverityLow, probity.SeverityMedium, probity.SeverityHigh}[e.level]
		where := "no policy was given"
		if in.Policy != nil {
			where = fmt.Sprintf("no rule in %s asks for confirmation or approval or caps it, and no budget counts it", in.Policy.File)
			if !in.Policy.P.SideEffecting(t.Name) {
				where += " (the policy does not class it as side-effecting, so side_effects: true rules skip it)"
			}
		}
		fix := fmt.Sprintf("add a policy rule for %s with confirm: '(?i)\\byes\\b' or action: approve, or a budget with max_calls; or require the user's explicit confirmation before %s in the prompt", t.Name, t.Name)
		r.add(Finding{
			Severity: sev,
			Span:     spanAt(t.File, t.Pos()),
			Tool:     t.Name,
			Message:  fmt.Sprintf("%s changes the world (by %s) and nothing guards it: %s, and no prompt sentence asks for confirmation before it", t.Name, e.why, where),
			Fix:      fix,
		})
	}
}

func ruleUnboundedScope() *Rule {
	return &Rule{
		ID:       "unbounded-scope",
		Severity: probity.SeverityMedium,
		Title:    "an instruction whose side effects have no bound",
		Rationale: "\"Delete all old files\", \"whenever a customer complains, issue a refund\": a literal interpreter " +
			"applies the instruction to every case it can find, with no number, amount or scope that stops it. The " +
			"instruction should say how many, how much, or which.",
		Fix:   "bound the instruction: a number (\"at most 3\"), an amount (\"up to $50\"), a scope (\"only the order the user named\"), or a confirmation",
		check: checkUnbounded,
	}
}

var (
	quantifierRE = regexp.MustCompile(`(?i)^(?:\s+(?:\w+))?\s+(all|every|each|any|everything|anything|everyone|anyone|everybody)\b`)
	wheneverRE   = regexp.MustCompile(`(?i)\b(whenever|always)\b`)
	negationRE   = regexp.MustCompile(`(?i)\b(?:not|never|no|cannot|can't|don't|won't|mustn't|shouldn't|nothing)\b`)
	boundRE      = regexp.MustCompile(`(?i)\b(?:\d+|at\s+most|no\s+more\s+than|up\s+to|limit(?:ed)?|maximum|max|once|twice|single|only\s+(?:one|the|if|when|after)|unless|except|confirm\w*|approv\w*)\b|\$\d`)
	wordRE       = regexp.MustCompile(`[A-Za-z][A-Za-z'-]*`)
)

// sideWord reports whether a prose word is a verb of change ("deletes",
// "refunded"), by the name classifier on its base form. Words that are as
// often nouns or harmless in prose are left out.
func sideWord(w string) bool {
	w = strings.ToLower(w)
	switch w {
	case "return", "returns", "set", "sets", "place", "places", "close", "book", "books", "issue", "issues",
		"store", "stores", "post", "posts", "apply", "applies", "change", "changes", "save", "saves", "run", "runs",
		"add", "adds", "put", "puts", "register", "email", "emails", "schedule", "commit", "reply", "assign":
		return false
	}
	for _, c := range []string{w, strings.TrimSuffix(w, "s"), strings.TrimSuffix(w, "es"), strings.TrimSuffix(w, "ed"), strings.TrimSuffix(w, "d")} {
		if len(c) > 2 && nameSideEffect(c) {
			return true
		}
	}
	return false
}

func checkUnbounded(in *Input, r *reporter) {
	for _, d := range in.Docs {
		for _, s := range d.sentences {
			if boundRE.MatchString(s.text) {
				continue
			}
			for _, loc := range wordRE.FindAllStringIndex(s.text, -1) {
				w := s.text[loc[0]:loc[1]]
				if !sideWord(w) {
					continue
				}
				before := s.text[:loc[0]]
				if negationRE.MatchString(lastWords(before, 4)) {
					continue
				}
				q := quantifierRE.FindStringSubmatchIndex(s.text[loc[1]:])
				trigger := ""
				end := loc[1]
				if q != nil {
					trigger = s.text[loc[1]+q[2] : loc[1]+q[3]]
					end = loc[1] + q[3]
				} else if m := wheneverRE.FindStringIndex(before); m != nil {
					trigger = before[m[0]:m[1]]
				} else {
					continue
				}
				r.add(Finding{
					Span:    d.span(s.start+loc[0], s.start+end),
					Quote:   oneLine(s.text, 160),
					Message: fmt.Sprintf("%q with %q and no number, amount or scope: a literal agent applies it to every case it finds", w, strings.ToLower(trigger)),
				})
				break
			}
		}
	}
}

// lastWords returns the last n words of s.
func lastWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[len(f)-n:]
	}
	return strings.Join(f, " ")
}

// oneLine collapses whitespace and trims s to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
