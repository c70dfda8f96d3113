package localize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/probity/probity"
)

// call is a side-effecting tool call of a run: its step and its canonical
// form.
type call struct {
	step int
	name string
	args map[string]any // nil when the arguments are not a JSON object
	key  string         // name + canonical arguments
}

// canonical returns a comparable key for a call and its decoded arguments.
// Strings compare after trimming and case folding, numbers by value, keys in
// order: the reference and the run write the same call differently.
func canonical(name string, raw json.RawMessage) (string, map[string]any) {
	var args map[string]any
	if len(raw) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if d.Decode(&args) != nil {
			args = nil
		}
	}
	return name + "(" + canonValue(args) + ")", args
}

func canonValue(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("{")
		for _, k := range keys {
			b.WriteString(k + ":" + canonValue(x[k]) + ",")
		}
		b.WriteString("}")
		return b.String()
	case []any:
		// Lists of ids are sets: the order a user listed items in does
		// not make a different action.
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canonValue(e)
		}
		sort.Strings(parts)
		return "[" + strings.Join(parts, ",") + "]"
	case json.Number:
		var f float64
		if _, err := fmt.Sscan(x.String(), &f); err == nil {
			return fmt.Sprint(f)
		}
		return x.String()
	case string:
		return strings.ToLower(strings.TrimSpace(x))
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// sideEffectCalls lists the side-effecting calls of t in order. A call the
// tool refused counts: it changed nothing, but it is where the agent set
// out to do something other than what was wanted.
func sideEffectCalls(t *probity.Trace, tools Classifier) []call {
	var out []call
	for i, s := range t.Steps {
		if s.Kind != probity.KindToolCall || s.Tool == nil || !tools.SideEffecting(s.Tool.Name) {
			continue
		}
		k, a := canonical(s.Tool.Name, s.Tool.Args)
		out = append(out, call{step: i, name: s.Tool.Name, args: a, key: k})
	}
	return out
}

// departure is the first side-effecting call where a run leaves what was
// wanted: a wrong call (got is set, want may be), or a missing one (only
// want is set).
type departure struct {
	got  *call
	want *call
	kind string // "wrong", "extra", "missing"
}

// firstDeparture compares the run's side-effecting calls with want: calls
// match by name and arguments wherever they are (the order of independent
// actions is free); the earliest run call matching no wanted call departs,
// paired with an unmatched wanted call of the same name when there is one.
// With every run call matched and a wanted call left over, the departure is
// that missing call.
func firstDeparture(got, want []call) (departure, bool) {
	used := make([]bool, len(want))
	for gi := range got {
		matched := false
		for wi := range want {
			if !used[wi] && want[wi].key == got[gi].key {
				used[wi], matched = true, true
				break
			}
		}
		if matched {
			continue
		}
		d := departure{got: &got[gi], kind: "extra"}
		for wi := range want {
			if !used[wi] && want[wi].name == got[gi].name {
				d.want, d.kind = &want[wi], "wrong"
				break
			}
		}
		if d.want == nil {
			for wi := range want {
				if !used[wi] {
					d.want, d.kind = &want[wi], "wrong"
					break
				}
			}
		}
		return d, true
	}
	for wi := range want {
		if !used[wi] {
			return departure{want: &want[wi], kind: "missing"}, true
		}
	}
	return departure{}, false
}

// byActions compares the run with the reference's actions. disagree is true
// when the run's side-effecting calls differ from the expected ones.
func byActions(t *probity.Trace, ref *Reference, tools Classifier) (votes []scored, disagree bool) {
	if ref == nil || len(ref.Actions) == 0 {
		return nil, false
	}
	var want []call
	for _, a := range ref.Actions {
		if !tools.SideEffecting(a.Name) {
			continue
		}
		k, args := canonical(a.Name, a.Args)
		want = append(want, call{step: -1, name: a.Name, args: args, key: k})
	}
	got := sideEffectCalls(t, tools)
	d, ok := firstDeparture(got, want)
	if !ok {
		return nil, false
	}
	return departureVotes(t, d, MethodActions, "the reference"), true
}

// departureVotes turns a departure into candidates: the wrong call, the
// step where its wrong argument entered the agent's words or was read from
// a tool, and for a missing call the agent's last word before it gave up.
func departureVotes(t *probity.Trace, d departure, method, against string) []scored {
	if d.got == nil {
		// Nothing wrong was done, something was left undone: the run
		// ended short of it.
		last := len(t.Steps) - 1
		return []scored{{step: last, score: 0.6, method: method,
			reason: fmt.Sprintf("%s expects %s, which the run never calls; the run ends here without it", against, d.want.name)}}
	}
	g := d.got
	var votes []scored
	diff := diffArgs(g, d.want)
	what := fmt.Sprintf("%s is not what %s expects", g.name, against)
	switch {
	case d.want != nil && d.want.name == g.name && len(diff) > 0:
		what = fmt.Sprintf("%s with %s different from %s", g.name, strings.Join(diff, ", "), against)
	case d.want != nil && d.want.name != g.name:
		what = fmt.Sprintf("%s where %s expects %s", g.name, against, d.want.name)
	case d.kind == "extra":
		what = fmt.Sprintf("%s, a side effect %s does not expect", g.name, against)
	}
	votes = append(votes, scored{step: g.step, score: 0.7, method: method, reason: "first departing call: " + what})
	// The wrong argument's origin: the earliest agent message before the
	// call that states it (the proposal the user then confirmed), else the
	// tool result it was read from.
	vals := wrongValues(g, d.want, diff)
	if origin, kind := originOf(t, g.step, vals); origin >= 0 {
		switch kind {
		case "agent":
			votes = append(votes, scored{step: origin, score: 0.3, method: method,
				reason: fmt.Sprintf("the agent first stated %s here, before calling %s", quoteList(vals), g.name)})
		case "input":
			if next := nextAgentStep(t, origin); next >= 0 && next < g.step {
				votes = append(votes, scored{step: next, score: 0.2, method: method,
					reason: fmt.Sprintf("the agent acted on %s right after reading it (step %d)", quoteList(vals), t.Steps[origin].Pos.Index)})
			}
		}
	}
	// The agent's message just before the call: where it told the user
	// what it would do.
	if p := proposalBefore(t, g.step); p >= 0 {
		votes = append(votes, scored{step: p, score: 0.2, method: method,
			reason: fmt.Sprintf("the agent proposed the departing %s here", g.name)})
	}
	return votes
}

// diffArgs names the arguments of got that differ from want's.
func diffArgs(got, want *call) []string {
	if want == nil || got.args == nil {
		return nil
	}
	var out []string
	for k, v := range got.args {
		if w, ok := want.args[k]; !ok || canonValue(w) != canonValue(v) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// wrongValues lists the scalar values of got's differing arguments that
// want does not have: the values that carry the mistake.
func wrongValues(got, want *call, diff []string) []string {
	wanted := map[string]bool{}
	if want != nil {
		collect(want.args, func(s string) { wanted[s] = true })
	}
	var out []string
	seen := map[string]bool{}
	for _, k := range diff {
		collect(got.args[k], func(s string) {
			if !wanted[s] && !seen[s] && len(s) >= 3 {
				seen[s] = true
				out = append(out, s)
			}
		})
	}
	if len(diff) == 0 && got.args != nil && want == nil {
		collect(got.args, func(s string) {
			if !seen[s] && len(s) >= 3 {
				seen[s] = true
				out = append(out, s)
			}
		})
	}
	sort.Strings(out)
	return out
}

func collect(v any, fn func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			collect(e, fn)
		}
	case []any:
		for _, e := range x {
			collect(e, fn)
		}
	case string:
		fn(strings.TrimPrefix(strings.TrimSpace(x), "#"))
	case json.Number:
		fn(x.String())
	}
}

// originOf finds where the first of vals entered the run before step
// before: the earliest step whose text or arguments contain it. kind is
// "agent" for a model step, "input" for a tool result or a user message.
func originOf(t *probity.Trace, before int, vals []string) (int, string) {
	best := -1
	for _, v := range vals {
		for i := 0; i < before && (best < 0 || i < best); i++ {
			if mentions(&t.Steps[i], v) {
				best = i
				break
			}
		}
	}
	if best < 0 {
		return -1, ""
	}
	if t.Steps[best].Kind.IsInput() {
		return best, "input"
	}
	return best, "agent"
}

func mentions(s *probity.Step, v string) bool {
	if strings.Contains(s.Content, v) {
		return true
	}
	return s.Tool != nil && bytes.Contains(s.Tool.Args, []byte(v))
}

// nextAgentStep returns the first model step after i, or -1.
func nextAgentStep(t *probity.Trace, i int) int {
	for j := i + 1; j < len(t.Steps); j++ {
		if !t.Steps[j].Kind.IsInput() {
			return j
		}
	}
	return -1
}

// proposalBefore returns the last agent message (text, not a call) before
// step i, or -1.
func proposalBefore(t *probity.Trace, i int) int {
	for j := i - 1; j >= 0; j-- {
		switch t.Steps[j].Kind {
		case probity.KindAssistant, probity.KindFinal:
			return j
		}
	}
	return -1
}

// lastAgentStep returns the last model step of t, or -1.
func lastAgentStep(t *probity.Trace) int {
	for j := len(t.Steps) - 1; j >= 0; j-- {
		if !t.Steps[j].Kind.IsInput() {
			return j
		}
	}
	return -1
}

func quoteList(vs []string) string {
	if len(vs) > 3 {
		vs = vs[:3]
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
