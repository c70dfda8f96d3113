package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/probity/probity"
)

func ruleContradiction() *Rule {
	return &Rule{
		ID:       "contradiction",
		Severity: probity.SeverityHigh,
		Title:    "\"always X\" against \"never X\"",
		Rationale: "Two unconditional instructions demand and forbid the same action. Whichever the model happens to " +
			"weigh more wins, differently from run to run; a literal interpreter can satisfy at most one of them.",
		Fix:   "keep one of the two, or make one an explicit exception of the other (\"never X, except when ...\")",
		check: checkContradiction,
	}
}

func rulePriorityGap() *Rule {
	return &Rule{
		ID:       "priority-gap",
		Severity: probity.SeverityMedium,
		Title:    "two rules for one case with no order between them",
		Rationale: "Two conditional instructions apply to the same situation and prescribe different actions, and " +
			"nothing says which comes first or which wins. The agent picks one at random, or does both.",
		Fix:   "merge them into one rule, or say which takes precedence (\"if both apply, X first\")",
		check: checkPriorityGap,
	}
}

var (
	mustRE  = regexp.MustCompile(`(?i)\b(?:always|must(?:\s+always)?|have\s+to|has\s+to)\s+((?:[a-z'-]+\s*){1,6})`)
	neverRE = regexp.MustCompile(`(?i)\b(?:never|must\s+not|mustn't|do\s+not|don't|may\s+not)\s+((?:[a-z'-]+\s*){1,6})`)
	// conditionRE marks a sentence as conditional: its directive is an
	// exception, not a rule for every case.
	conditionRE = regexp.MustCompile(`(?i)\b(?:if|when|whenever|unless|except|only|before|after|once|while|until|in\s+case)\b`)
	stopWords   = map[string]bool{
		"the": true, "a": true, "an": true, "to": true, "of": true, "any": true, "your": true, "their": true,
		"his": true, "her": true, "its": true, "this": true, "that": true, "these": true, "those": true,
		"be": true, "is": true, "are": true, "and": true, "or": true, "for": true, "with": true, "at": true,
		"in": true, "on": true, "all": true, "every": true, "you": true, "it": true, "them": true, "by": true,
		"from": true, "as": true, "same": true, "time": true, "also": true, "ever": true, "even": true,
	}
)

var notRE = regexp.MustCompile(`(?i)^not\b`)

// order ranks a directive by document, then by offset.
func order(docs []*Doc, d directive) int {
	for i, x := range docs {
		if x == d.doc {
			return i<<32 | d.start
		}
	}
	return d.start
}

// directive is one "always X" or "never X" in a prompt.
type directive struct {
	doc        *Doc
	start, end int // of the match in doc.Text
	verb       string
	objects    map[string]bool
	negative   bool
	sentence   sentence
}

// stem makes "refunds", "refunded" and "refunding" one word.
func stem(w string) string {
	w = strings.ToLower(strings.Trim(w, "'-"))
	for _, suf := range []string{"ing", "ed", "es", "s"} {
		if strings.HasSuffix(w, suf) && len(w)-len(suf) >= 3 {
			return strings.TrimSuffix(w, suf)
		}
	}
	return w
}

func contentWords(s string) []string {
	var out []string
	for _, w := range wordRE.FindAllString(s, -1) {
		if lw := strings.ToLower(w); !stopWords[lw] {
			out = append(out, stem(lw))
		}
	}
	return out
}

func directives(docs []*Doc) []directive {
	var out []directive
	for _, d := range docs {
		for _, s := range d.sentences {
			if conditionRE.MatchString(s.text) {
				continue
			}
			for _, neg := range []bool{false, true} {
				re := mustRE
				if neg {
					re = neverRE
				}
				for _, m := range re.FindAllStringSubmatchIndex(s.text, -1) {
					phrase := s.text[m[2]:m[3]]
					if !neg && notRE.MatchString(phrase) {
						continue
					}
					words := contentWords(phrase)
					if len(words) == 0 {
						continue
					}
					// End the quoted span at the last content word.
					end := m[3]
					for _, w := range slices.Backward(wordRE.FindAllStringIndex(phrase, -1)) {
						if !stopWords[strings.ToLower(phrase[w[0]:w[1]])] {
							end = m[2] + w[1]
							break
						}
					}
					dv := directive{doc: d, start: s.start + m[0], end: s.start + end, verb: words[0], objects: map[string]bool{}, negative: neg, sentence: s}
					for _, w := range words[1:] {
						dv.objects[w] = true
					}
					out = append(out, dv)
				}
			}
		}
	}
	return out
}

func checkContradiction(in *Input, r *reporter) {
	ds := directives(in.Docs)
	for _, a := range ds {
		if a.negative {
			continue
		}
		for _, b := range ds {
			if !b.negative || a.verb != b.verb {
				continue
			}
			shared := 0
			for w := range a.objects {
				if b.objects[w] {
					shared++
				}
			}
			if shared == 0 && (len(a.objects) > 0 || len(b.objects) > 0) {
				continue
			}
			first, second := a, b
			if order(in.Docs, b) < order(in.Docs, a) {
				first, second = b, a
			}
			r.add(Finding{
				Span:    second.doc.span(second.start, second.end),
				Related: []Span{first.doc.span(first.start, first.end)},
				Quote:   oneLine(second.doc.Text[second.start:second.end], 120),
				Message: fmt.Sprintf("%q contradicts %q (%s:%d): both are unconditional", oneLine(second.doc.Text[second.start:second.end], 80), oneLine(first.doc.Text[first.start:first.end], 80), first.doc.File, first.doc.pos(first.start).Line),
			})
		}
	}
}

var (
	ifThenRE     = regexp.MustCompile(`(?is)^\W*(?:if|when|whenever|in\s+case)\s+(.{3,}?),\s*(?:then\s+)?(.+)$`)
	precedenceRE = regexp.MustCompile(`(?i)\b(precedence|take(?:s)?\s+priority|prioriti[sz]e|overrides?|in\s+case\s+of\s+(?:a\s+)?conflict|if\s+both\s+apply|in\s+(?:this|that)\s+order|first\b.*\bthen\b)`)
)

// conditional is one "if C, A" in a prompt.
type conditional struct {
	doc      *Doc
	s        sentence
	cond     map[string]bool
	action   []string
	actStart int
}

func checkPriorityGap(in *Input, r *reporter) {
	for _, d := range in.Docs {
		if precedenceRE.MatchString(d.Text) {
			return
		}
	}
	var cs []conditional
	for _, d := range in.Docs {
		for _, s := range d.sentences {
			m := ifThenRE.FindStringSubmatchIndex(s.text)
			if m == nil {
				continue
			}
			c := conditional{doc: d, s: s, cond: map[string]bool{}, action: contentWords(s.text[m[4]:m[5]]), actStart: m[4]}
			for _, w := range contentWords(s.text[m[2]:m[3]]) {
				c.cond[w] = true
			}
			if len(c.cond) >= 2 && len(c.action) > 0 {
				cs = append(cs, c)
			}
		}
	}
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			a, b := cs[i], cs[j]
			inter := 0
			for w := range a.cond {
				if b.cond[w] {
					inter++
				}
			}
			union := len(a.cond) + len(b.cond) - inter
			if float64(inter)/float64(union) < 0.75 {
				continue
			}
			if a.action[0] == b.action[0] || sameWords(a.action, b.action) {
				continue // the same action said twice is redundancy, not a gap
			}
			r.add(Finding{
				Span:    b.doc.span(b.s.start, b.s.end),
				Related: []Span{a.doc.span(a.s.start, a.s.end)},
				Quote:   oneLine(b.s.text, 160),
				Message: fmt.Sprintf("this rule and the one at %s:%d apply to the same case but prescribe different actions, and nothing says which wins", a.doc.File, a.doc.pos(a.s.start).Line),
			})
		}
	}
}

func sameWords(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
