package eval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Trivial agents: answers that involve no work. A suite whose assertions
// one of them passes measures something other than the agent.
const (
	// TrivialEmpty answers "" and calls nothing.
	TrivialEmpty = "empty"
	// TrivialEcho answers the case's input back, verbatim.
	TrivialEcho = "echo"
	// TrivialRefusal declines politely and calls nothing.
	TrivialRefusal = "refusal"
	// TrivialRandomTool makes one call to a tool drawn from the suite's
	// tool vocabulary, with no arguments, and answers "".
	TrivialRandomTool = "random-tool"
	// TrivialNoTools claims to have done the job and calls nothing.
	TrivialNoTools = "no-tools"
)

// TrivialAgents lists the trivial agents in the order reports show them.
var TrivialAgents = []string{TrivialEmpty, TrivialEcho, TrivialRefusal, TrivialRandomTool, TrivialNoTools}

// doNothing are the trivial agents that take no action and state nothing
// drawn from the case: the share of cases one of them passes is the gate
// of CheckSuite.
var doNothing = []string{TrivialEmpty, TrivialRefusal, TrivialNoTools}

// The words the talking trivial agents say.
const (
	refusalText = "I'm sorry, but I can't help with that request."
	noToolsText = "Done. I have taken care of your request."
)

// DefaultMaxTrivialPass is the default limit on the share of cases a
// do-nothing agent may pass before CheckSuite fails the suite.
const DefaultMaxTrivialPass = 0.05

// CheckOptions tune CheckSuite.
type CheckOptions struct {
	// MaxTrivialPass is the largest acceptable share of cases a do-nothing
	// agent passes (default DefaultMaxTrivialPass; a negative value means 0).
	MaxTrivialPass float64
	// Seed picks the random tool of the random-tool agent.
	Seed uint64
	// Options are passed to CompileAssertions.
	Options Options
}

// SuiteCheck is what CheckSuite found. The JSON keys are a contract.
type SuiteCheck struct {
	Suite string `json:"suite"`
	Cases int    `json:"cases"`
	// Agents gives, per trivial agent, the cases it passes.
	Agents []TrivialResult `json:"agents"`
	// DoNothingPassed are the cases that at least one do-nothing agent
	// (empty, refusal, no-tools) passes; DoNothingShare is their share.
	DoNothingPassed []string `json:"do_nothing_passed"`
	DoNothingShare  float64  `json:"do_nothing_share"`
	MaxTrivialPass  float64  `json:"max_trivial_pass"`
	// Failed is DoNothingShare > MaxTrivialPass.
	Failed bool `json:"failed"`
	// TriviallyPassed lists every case some trivial agent passes, with the
	// agents that pass it.
	TriviallyPassed []CaseNote `json:"trivially_passed"`
	// NoOutcome are cases that no assertion checks the outcome of.
	NoOutcome []CaseNote `json:"no_outcome"`
	// Leaks are cases whose expected values all appear in the input.
	Leaks []CaseNote `json:"leaks"`
	// Duplicates are groups of cases with the same input.
	Duplicates []DuplicateGroup `json:"duplicates"`
	// NotEvaluated names assertions the check cannot run offline (judges):
	// a case a trivial agent passes then stands on those alone.
	NotEvaluated []string `json:"not_evaluated,omitempty"`
}

// TrivialResult is one trivial agent's score.
type TrivialResult struct {
	Agent  string   `json:"agent"`
	Passed []string `json:"passed"`
	Share  float64  `json:"share"`
}

// CaseNote is one finding about one case.
type CaseNote struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// DuplicateGroup is cases with the same input. Conflicting is true when
// their expected values differ: at most one of them can be right.
type DuplicateGroup struct {
	IDs         []string `json:"ids"`
	Conflicting bool     `json:"conflicting"`
}

// Findings counts what the check reports, gate aside.
func (r *SuiteCheck) Findings() int {
	return len(r.TriviallyPassed) + len(r.NoOutcome) + len(r.Leaks) + len(r.Duplicates)
}

// CheckSuite asks whether the suite can fail, without calling its target:
// it runs the suite's assertions on what trivial agents would answer for
// each case, and inspects the cases for missing outcome checks, answers
// leaked into the input, and duplicates. Judge assertions are skipped (they
// would call a model), and listed in NotEvaluated.
func CheckSuite(ctx context.Context, s *Suite, cases []Case, o CheckOptions) (*SuiteCheck, error) {
	if o.MaxTrivialPass == 0 {
		o.MaxTrivialPass = DefaultMaxTrivialPass
	}
	o.MaxTrivialPass = max(o.MaxTrivialPass, 0)
	offline := *s
	offline.Assert = nil
	var skipped []string
	for _, a := range s.Assert {
		if a.Type == AssertJudge {
			skipped = append(skipped, assertLabel(a))
			continue
		}
		offline.Assert = append(offline.Assert, a)
	}
	asserts, err := CompileAssertions(&offline, o.Options)
	if err != nil {
		return nil, err
	}
	vocab := toolVocabulary(s, cases)
	r := &SuiteCheck{Suite: s.Name, Cases: len(cases), MaxTrivialPass: o.MaxTrivialPass, NotEvaluated: skipped,
		DoNothingPassed: []string{}, TriviallyPassed: []CaseNote{}, NoOutcome: []CaseNote{}, Leaks: []CaseNote{},
		Duplicates: []DuplicateGroup{}}
	passedBy := make(map[string][]string, len(cases))
	perAgent := make(map[string][]string, len(TrivialAgents))
	for i := range cases {
		c := &cases[i]
		input, _ := decodeJSON(c.Input)
		expected, _ := decodeJSON(c.Expected)
		for _, agent := range TrivialAgents {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			out := trivialOutput(agent, c, input, vocab, o.Seed)
			chk := &Check{Case: c, Input: input, Expected: expected, Output: out}
			ok := true
			for _, a := range asserts {
				if res := a.Check(ctx, chk); !res.Pass || res.Error != "" {
					ok = false
					break
				}
			}
			if ok {
				passedBy[c.ID] = append(passedBy[c.ID], agent)
				perAgent[agent] = append(perAgent[agent], c.ID)
			}
		}
		if agents := passedBy[c.ID]; len(agents) > 0 {
			r.TriviallyPassed = append(r.TriviallyPassed, CaseNote{ID: c.ID, Reason: "passed by " + strings.Join(agents, ", ")})
			if slices.ContainsFunc(agents, func(a string) bool { return slices.Contains(doNothing, a) }) {
				r.DoNothingPassed = append(r.DoNothingPassed, c.ID)
			}
		}
		if why := noOutcomeReason(s.Assert, expected); why != "" {
			r.NoOutcome = append(r.NoOutcome, CaseNote{ID: c.ID, Reason: why})
		}
		if why := leakReason(input, expected); why != "" {
			r.Leaks = append(r.Leaks, CaseNote{ID: c.ID, Reason: why})
		}
	}
	for _, agent := range TrivialAgents {
		p := perAgent[agent]
		if p == nil {
			p = []string{}
		}
		r.Agents = append(r.Agents, TrivialResult{Agent: agent, Passed: p, Share: share(len(p), len(cases))})
	}
	r.DoNothingShare = share(len(r.DoNothingPassed), len(cases))
	r.Failed = r.DoNothingShare > r.MaxTrivialPass
	r.Duplicates = duplicateGroups(cases)
	return r, nil
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(of)*1e6) / 1e6
}

func assertLabel(a AssertSpec) string {
	if a.Name != "" {
		return a.Name
	}
	return a.Type
}

// trivialOutput is what agent would answer for c: never a function of the
// case's expected value.
func trivialOutput(agent string, c *Case, input any, vocab []string, seed uint64) *Output {
	user := map[string]any{"role": "user", "content": text(input)}
	final := func(s string) map[string]any { return map[string]any{"role": "assistant", "content": s} }
	var value any
	msgs := []any{user}
	switch agent {
	case TrivialEmpty:
		value = ""
		msgs = append(msgs, final(""))
	case TrivialEcho:
		value = input
		msgs = append(msgs, final(text(input)))
	case TrivialRefusal:
		value = refusalText
		msgs = append(msgs, final(refusalText))
	case TrivialNoTools:
		value = noToolsText
		msgs = append(msgs, final(noToolsText))
	case TrivialRandomTool:
		tool := "search"
		if len(vocab) > 0 {
			tool = vocab[pick(seed, c.ID, len(vocab))]
		}
		value = ""
		msgs = append(msgs,
			map[string]any{"role": "assistant", "content": "", "tool_calls": []any{map[string]any{
				"id": "call_0", "type": "function", "function": map[string]any{"name": tool, "arguments": "{}"}}}},
			map[string]any{"role": "tool", "tool_call_id": "call_0", "content": `{"ok": true}`},
			final(""))
	}
	tr, err := traceFromMessages(msgs)
	if err != nil {
		tr = nil // cannot happen for these fixed shapes; a nil trace fails trace assertions
	}
	return &Output{Value: value, Trace: tr}
}

// pick draws an index in [0, n) from (seed, key), so a case's random tool
// does not depend on the order or number of other cases.
func pick(seed uint64, key string, n int) int {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h := sha256.New()
	h.Write(b[:])
	h.Write([]byte(key))
	sum := h.Sum(nil)
	return int(binary.LittleEndian.Uint64(sum[:8]) % uint64(n))
}

// toolVocabulary is every tool name the suite mentions: in assertions, in
// the openai target's tools file, in fixtures, and in expected actions
// (τ-bench's {"actions": [{"name": ...}]}).
func toolVocabulary(s *Suite, cases []Case) []string {
	seen := map[string]bool{}
	add := func(n string) {
		if n != "" {
			seen[n] = true
		}
	}
	for _, a := range s.Assert {
		switch c := a.Config.(type) {
		case interface{ toolName() string }:
			add(c.toolName())
		case *SequenceSpec:
			for _, t := range c.Tools {
				add(t)
			}
		}
	}
	if t := s.Target.OpenAI; t != nil && t.Tools != "" {
		if b, err := os.ReadFile(s.resolve(t.Tools)); err == nil {
			var defs []toolDef
			if json.Unmarshal(b, &defs) == nil {
				for _, d := range defs {
					add(d.Name)
					if d.Function != nil {
						add(d.Function.Name)
					}
				}
			}
		}
	}
	for _, c := range cases {
		if f, _ := decodeJSON(c.Fixtures); f != nil {
			if m, ok := f.(map[string]any); ok {
				for k := range m {
					add(k)
				}
			}
		}
		if e, _ := decodeJSON(c.Expected); e != nil {
			if m, ok := e.(map[string]any); ok {
				if l, ok := m["actions"].([]any); ok {
					for _, x := range l {
						if a, ok := x.(map[string]any); ok {
							if n, ok := a["name"].(string); ok {
								add(n)
							}
						}
					}
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

var celOutcomeRe = regexp.MustCompile(`\b(output|trace)\b`)
var celExpectedRe = regexp.MustCompile(`\bexpected\b`)

// noOutcomeReason says why no assertion checks this case's outcome, or "".
// An assertion checks the outcome when it looks at the answer or at what
// the agent did; budgets (max-steps, max-cost, max-latency) and prohibitions
// (tool-not-called, no-findings, policy) do not: doing nothing meets them.
// An assertion that compares with the case's expected value checks nothing
// for a case whose expected value is empty.
func noOutcomeReason(specs []AssertSpec, expected any) string {
	sawOutcome, sawExpectedOnly := false, false
	for _, a := range specs {
		switch a.Type {
		case AssertMaxSteps, AssertMaxCost, AssertMaxLatency, AssertToolNotCalled, AssertNoFindings, AssertPolicy:
			continue
		case AssertEquals, AssertContains, AssertNumeric:
			var v []any
			switch c := a.Config.(type) {
			case *EqualsSpec:
				v = []any{c.Value, c.Equals}
			case *ContainsSpec:
				v = []any{c.Value, c.Contains}
			case *NumericSpec:
				v = []any{c.Value}
			}
			if firstSet(v...) != nil {
				return ""
			}
		case AssertCEL:
			expr := ""
			if c, ok := a.Config.(*CELSpec); ok {
				expr = c.CEL + c.Expr
			}
			if !celOutcomeRe.MatchString(expr) {
				continue
			}
			if !celExpectedRe.MatchString(expr) {
				return ""
			}
		default:
			return ""
		}
		sawOutcome = true
		if !emptyValue(expected) {
			return ""
		}
		sawExpectedOnly = true
	}
	switch {
	case sawExpectedOnly:
		return "every outcome assertion compares with expected, and this case's expected is empty"
	case !sawOutcome:
		return "the suite's assertions check only budgets or prohibitions, which doing nothing meets"
	}
	return ""
}

// emptyValue is true for null, "", [], {} and objects of empty values.
func emptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, y := range x {
			if !emptyValue(y) {
				return false
			}
		}
		return true
	}
	return false
}

// leakReason reports when every value of expected (or of one of its top
// keys) appears in the input's text: the answer is in the question. Short
// strings (under 4 characters) and booleans are ignored, since "yes" in
// "answer yes or no" is a choice, not a leak.
func leakReason(input, expected any) string {
	in := strings.ToLower(text(input))
	if in == "" || expected == nil {
		return ""
	}
	check := func(v any) (leaked []string, ok bool) {
		leaves := leafTexts(v)
		if len(leaves) == 0 {
			return nil, false
		}
		for _, l := range leaves {
			if !strings.Contains(in, strings.ToLower(l)) {
				return nil, false
			}
		}
		return leaves, true
	}
	if leaves, ok := check(expected); ok {
		return "the input contains every expected value: " + clip(strings.Join(leaves, ", "), 120)
	}
	if m, ok := expected.(map[string]any); ok {
		for _, k := range sortedKeys(m) {
			if leaves, ok := check(m[k]); ok {
				return fmt.Sprintf("the input contains every value of expected.%s: %s", k, clip(strings.Join(leaves, ", "), 120))
			}
		}
	}
	return ""
}

// leafTexts returns the strings (4+ characters) and numbers in v.
func leafTexts(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if t := strings.TrimSpace(x); len([]rune(t)) >= 4 {
				out = append(out, t)
			}
		case float64, json.Number:
			out = append(out, fmt.Sprint(x))
		case []any:
			for _, y := range x {
				walk(y)
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(x[k])
			}
		}
	}
	walk(v)
	return out
}

var spaceRe = regexp.MustCompile(`\s+`)

// duplicateGroups groups cases whose inputs are equal once strings are
// lower-cased and their whitespace collapsed.
func duplicateGroups(cases []Case) []DuplicateGroup {
	byKey := map[string][]int{}
	var order []string
	for i, c := range cases {
		if c.VariantOf != "" {
			continue // a variant restates its case on purpose (casing, spacing)
		}
		in, _ := decodeJSON(c.Input)
		b, _ := json.Marshal(struct {
			I any `json:"i"`
			F any `json:"f"`
		}{foldStrings(in), foldStrings(mustDecode(c.Fixtures))})
		k := string(b)
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	out := []DuplicateGroup{}
	for _, k := range order {
		idx := byKey[k]
		if len(idx) < 2 {
			continue
		}
		g := DuplicateGroup{}
		first, _ := decodeJSON(cases[idx[0]].Expected)
		for _, i := range idx {
			g.IDs = append(g.IDs, cases[i].ID)
			e, _ := decodeJSON(cases[i].Expected)
			if !jsonEqual(first, e) {
				g.Conflicting = true
			}
		}
		out = append(out, g)
	}
	return out
}

func mustDecode(b []byte) any {
	v, _ := decodeJSON(b)
	return v
}

func foldStrings(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ToLower(strings.TrimSpace(spaceRe.ReplaceAllString(x, " ")))
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = foldStrings(y)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, y := range x {
			out[k] = foldStrings(y)
		}
		return out
	}
	return v
}
