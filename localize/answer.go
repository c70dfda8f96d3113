package localize

import (
	"fmt"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// byAnswer follows the final answer backwards. Each step depends on the
// earlier steps where the values it states first appeared (values the task
// itself states depend on nothing), and a tool result depends on the agent
// step that produced it (the code that printed it). Two candidates come of
// it: the team's first action (its first turn with code), which every
// later turn builds on, when it precedes the answer; and the earliest team
// turn in the chain the answer rests on. Where the expected answer was in
// view and the final answer lacks it, the team turn right after it
// dropped it.
func byAnswer(t *probity.Trace, answer string) []scored {
	final := finalAnswerStep(t)
	if final < 0 {
		return nil
	}
	given := map[string]bool{}
	for _, a := range provenance.StepAtoms(probity.Step{Kind: probity.KindUser, Content: t.Task}, t.Clock) {
		given[a.Key()] = true
	}
	keys := make([][]string, len(t.Steps))
	intro := map[string]int{}
	for i, s := range t.Steps {
		for _, a := range provenance.StepAtoms(s, t.Clock) {
			if len(a.Norm) < 2 || given[a.Key()] {
				continue
			}
			k := a.Key()
			keys[i] = append(keys[i], k)
			if _, ok := intro[k]; !ok {
				intro[k] = i
			}
		}
	}
	reached := map[int]bool{final: true}
	frontier := []int{final}
	for len(frontier) > 0 {
		j := frontier[len(frontier)-1]
		frontier = frontier[:len(frontier)-1]
		var srcs []int
		for _, k := range keys[j] {
			if i := intro[k]; i < j {
				srcs = append(srcs, i)
			}
		}
		if t.Steps[j].Kind == probity.KindToolResult {
			if p := producerOf(t, j); p >= 0 {
				srcs = append(srcs, p)
			}
		}
		for _, i := range srcs {
			if !reached[i] {
				reached[i] = true
				frontier = append(frontier, i)
			}
		}
	}
	// A turn is the team's when a team member spoke it: Who&When's first
	// turn is an agent's plan, read in as the task.
	team := map[string]bool{}
	for _, st := range t.Steps {
		if st.Kind == probity.KindAssistant || st.Kind == probity.KindToolCall || st.Kind == probity.KindFinal {
			team[st.Actor] = true
		}
	}
	agentTurn := func(i int) bool {
		st := t.Steps[i]
		return !st.Kind.IsInput() || st.Kind == probity.KindUser && team[st.Actor]
	}
	earliest, firstCode := -1, -1
	for i := range t.Steps {
		if !agentTurn(i) {
			continue
		}
		if firstCode < 0 && strings.Contains(t.Steps[i].Content, "```") {
			firstCode = i
		}
		if earliest < 0 && reached[i] {
			earliest = i
		}
	}
	var votes []scored
	n := len(reached)
	if firstCode >= 0 && firstCode <= final {
		votes = append(votes, scored{step: firstCode, score: 0.6, method: MethodAnswer,
			reason: fmt.Sprintf("the team's first action (code) that the later turns, and the final answer at step %d, build on", t.Steps[final].Pos.Index)})
	}
	if earliest >= 0 {
		votes = append(votes, scored{step: earliest, score: 0.4, method: MethodAnswer,
			reason: fmt.Sprintf("the earliest team turn among the %d steps the final answer (step %d) rests on", n, t.Steps[final].Pos.Index)})
	}
	// Where the expected answer was in view and the run went on without it.
	want := strings.ToLower(strings.TrimSpace(answer))
	if want != "" && !strings.Contains(strings.ToLower(t.Steps[final].Content), want) {
		for i := 0; i < final; i++ {
			if t.Steps[i].Kind.IsInput() && strings.Contains(strings.ToLower(t.Steps[i].Content), want) {
				if next := nextAgentStep(t, i); next >= 0 && next <= final {
					votes = append(votes, scored{step: next, score: 0.3, method: MethodAnswer,
						reason: fmt.Sprintf("the expected answer was in view at step %d and this step went on without it", t.Steps[i].Pos.Index)})
				}
				break
			}
		}
	}
	votes = append(votes, scored{step: final, score: 0.1, method: MethodAnswer,
		reason: "the final answer, which differs from the expected one"})
	return votes
}

// finalAnswerStep returns the last agent step that says something: not a
// tool result, not a bare "TERMINATE", or -1.
func finalAnswerStep(t *probity.Trace) int {
	for i := len(t.Steps) - 1; i >= 0; i-- {
		s := t.Steps[i]
		if s.Kind.IsInput() {
			continue
		}
		c := strings.TrimSpace(s.Content)
		if len(c) < 3 || strings.EqualFold(c, "TERMINATE") {
			continue
		}
		return i
	}
	return -1
}

// producerOf returns the agent step a tool result answers: the last agent
// step before it (a code executor's output answers the message that held
// the code), or -1.
func producerOf(t *probity.Trace, i int) int {
	for j := i - 1; j >= 0; j-- {
		if !t.Steps[j].Kind.IsInput() {
			return j
		}
	}
	return -1
}

// byOutputs handles values the agent was expected to tell the user: one
// the agent never states was dropped at the agent's first message after
// the value came into view (a tool result showed it) that does not state
// it, where it misread or ignored what it had just read.
func byOutputs(t *probity.Trace, outputs []string) []scored {
	var votes []scored
	for _, o := range outputs {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		stated := false
		for _, s := range t.Steps {
			if (s.Kind == probity.KindAssistant || s.Kind == probity.KindFinal) && containsValue(s.Content, o) {
				stated = true
				break
			}
		}
		if stated {
			continue
		}
		seen := -1
		for i, s := range t.Steps {
			if s.Kind.IsInput() && s.Kind != probity.KindUser && s.Kind != probity.KindSystem && containsValue(s.Content, o) {
				seen = i
				break
			}
		}
		at := -1
		for j := seen + 1; seen >= 0 && j < len(t.Steps); j++ {
			if s := t.Steps[j]; (s.Kind == probity.KindAssistant || s.Kind == probity.KindFinal) && strings.TrimSpace(s.Content) != "" {
				at = j
				break
			}
		}
		if w := sameFormStatement(t, o); w >= 0 {
			votes = append(votes, scored{step: w, score: 0.7, method: MethodAnswer,
				reason: fmt.Sprintf("the agent states %q here where the expected output is %q, a value of the same form", sameFormToken(t.Steps[w].Content, o), o)})
		}
		if at >= 0 {
			votes = append(votes, scored{step: at, score: 0.4, method: MethodAnswer,
				reason: fmt.Sprintf("the expected output %q was in view at step %d; the agent's next message does not state it, nor does any later one", o, t.Steps[seen].Pos.Index)})
		} else if last := lastAgentStep(t); last >= 0 {
			votes = append(votes, scored{step: last, score: 0.3, method: MethodAnswer,
				reason: fmt.Sprintf("the agent never states the expected output %q", o)})
		}
	}
	return votes
}

// containsValue reports whether text contains v as a whole token: "10" is
// not in "105" or "W1003".
func containsValue(text, v string) bool {
	lt, lv := strings.ToLower(text), strings.ToLower(v)
	for from := 0; ; {
		i := strings.Index(lt[from:], lv)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(lv)
		if (i == 0 || !isWordByte(lt[i-1])) && (end == len(lt) || !isWordByte(lt[end])) {
			return true
		}
		from = i + 1
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// form is the shape of a value: digits become 9 and letters a, so "10"
// and "11", or two tracking numbers, share a form.
func form(v string) string {
	b := []byte(v)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			b[i] = '9'
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			b[i] = 'a'
		}
	}
	return string(b)
}

// sameFormToken returns the first token of text with the form of want but
// another value, or "".
func sameFormToken(text, want string) string {
	f := form(want)
	for _, tok := range strings.FieldsFunc(text, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '_' || r == '-')
	}) {
		tok = strings.TrimRight(tok, ".-")
		if tok != want && form(tok) == f {
			return tok
		}
	}
	return ""
}

// sameFormStatement returns the first agent message that states a value
// of the expected output's form other than it: the wrong answer given in
// its place ("11 available" where 10 were). Words are left out: only a
// form with a digit is specific enough.
func sameFormStatement(t *probity.Trace, want string) int {
	if !strings.ContainsAny(want, "0123456789") {
		return -1
	}
	for i, s := range t.Steps {
		if (s.Kind == probity.KindAssistant || s.Kind == probity.KindFinal) && sameFormToken(s.Content, want) != "" {
			return i
		}
	}
	return -1
}
