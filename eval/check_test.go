package eval

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/taubench"
)

func checkSuiteText(t *testing.T, yaml string) *SuiteCheck {
	t.Helper()
	s, err := ParseSuite("suite.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := s.LoadCases()
	if err != nil {
		t.Fatal(err)
	}
	r, err := CheckSuite(context.Background(), s, cases, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func noteIDs(notes []CaseNote) []string {
	var ids []string
	for _, n := range notes {
		ids = append(ids, n.ID)
	}
	return ids
}

func TestCheckSuiteFindsWhatTrivialAgentsPass(t *testing.T) {
	r := checkSuiteText(t, `name: capitals
target: {http: {url: http://127.0.0.1:1/}}
cases:
  - {id: sound, input: {question: What is the capital of France?}, expected: {answer: Paris}}
  - {id: leaky, input: {question: "Paris is the capital of France. What is the capital of France?"}, expected: {answer: Paris}}
  - {id: blank, input: {question: What is the capital of Peru?}}
  - {id: dup1, input: {question: "What is the capital of  Chile?"}, expected: {answer: Santiago}}
  - {id: dup2, input: {question: "what is the capital of Chile?"}, expected: {answer: Valparaiso}}
assert:
  - {type: equals, path: $.answer}
`)
	if len(r.TriviallyPassed) != 0 || r.Failed || r.DoNothingShare != 0 {
		t.Errorf("trivially passed = %v, failed %v, share %v; want none", r.TriviallyPassed, r.Failed, r.DoNothingShare)
	}
	if got, want := noteIDs(r.NoOutcome), []string{"blank"}; !slices.Equal(got, want) {
		t.Errorf("no outcome = %v, want %v", got, want)
	}
	if got, want := noteIDs(r.Leaks), []string{"leaky"}; !slices.Equal(got, want) {
		t.Errorf("leaks = %v, want %v", got, want)
	}
	if len(r.Duplicates) != 1 || !slices.Equal(r.Duplicates[0].IDs, []string{"dup1", "dup2"}) || !r.Duplicates[0].Conflicting {
		t.Errorf("duplicates = %+v, want one conflicting group dup1, dup2", r.Duplicates)
	}
}

func TestCheckSuiteAgents(t *testing.T) {
	tests := []struct {
		name   string
		assert string
		want   map[string]bool // agent → passes the one case
		failed bool
	}{
		{"negated contains passes everyone", `{not: true, contains: error}`,
			map[string]bool{TrivialEmpty: true, TrivialEcho: true, TrivialRefusal: true, TrivialRandomTool: true, TrivialNoTools: true}, true},
		{"budget only", `{type: max-steps, max: 5}`,
			map[string]bool{TrivialEmpty: true, TrivialEcho: true, TrivialRefusal: true, TrivialRandomTool: true, TrivialNoTools: true}, true},
		{"contains expected leaks to echo", `{type: contains}`, map[string]bool{TrivialEcho: true}, false},
		{"refusal rewarded", `{regex: "(?i)sorry|cannot"}`, map[string]bool{TrivialRefusal: true}, true},
		{"any tool call", `{type: tool-called, tool: refund}`, map[string]bool{TrivialRandomTool: true}, false},
		{"tool not called", `{type: tool-not-called, tool: refund}`,
			map[string]bool{TrivialEmpty: true, TrivialEcho: true, TrivialRefusal: true, TrivialNoTools: true}, true},
		{"claims done", `{contains: done, ignore_case: true}`, map[string]bool{TrivialNoTools: true}, true},
		{"sound", `{cel: 'output.answer == expected'}`, map[string]bool{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := checkSuiteText(t, `name: one
target: {http: {url: http://127.0.0.1:1/}}
cases:
  - {id: c, input: {question: "Refund order 123 and say ok"}, expected: "order 123"}
assert:
  - `+tt.assert+"\n")
			for _, a := range r.Agents {
				if got := len(a.Passed) == 1; got != tt.want[a.Agent] {
					t.Errorf("%s passes = %v, want %v", a.Agent, got, tt.want[a.Agent])
				}
			}
			if r.Failed != tt.failed {
				t.Errorf("failed = %v, want %v", r.Failed, tt.failed)
			}
		})
	}
}

func TestCheckSuiteSkipsJudges(t *testing.T) {
	r := checkSuiteText(t, `name: judged
target: {http: {url: http://127.0.0.1:1/}}
cases:
  - {id: c, input: hi}
assert:
  - {type: judge, name: helpful, rubric: Is it helpful?, model: m, base_url: "http://127.0.0.1:1/v1"}
`)
	if !slices.Equal(r.NotEvaluated, []string{"helpful"}) || !r.Failed {
		t.Errorf("not evaluated = %v, failed %v; want [helpful], true (nothing else stands)", r.NotEvaluated, r.Failed)
	}
}

// tauWrites are τ-bench airline's state-changing tools: the database check
// sees only these.
var tauWrites = []string{"book_reservation", "cancel_reservation", "update_reservation_flights",
	"update_reservation_baggages", "update_reservation_passengers", "send_certificate"}

// TestCheckSuiteTauBenchAirline measures the published anchor: a
// do-nothing agent passes 38% of τ-bench airline tasks (Agentic Benchmark
// Checklist, 2025). The expected set is derived here from the raw file,
// independently of the dataset reader and the suite's assertions: the tasks
// that expect no state change and no stated output.
func TestCheckSuiteTauBenchAirline(t *testing.T) {
	path := shareddata.Path(t, "tau-bench", "gpt-4o-airline.json")
	s, err := LoadSuite("../examples/eval/taubench/airline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := LoadDataset(path, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := CheckSuite(context.Background(), s, cases, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var runs []struct {
		TaskID int `json:"task_id"`
		Info   struct {
			Task struct {
				Actions []struct{ Name string } `json:"actions"`
				Outputs []string                `json:"outputs"`
			} `json:"task"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &runs); err != nil {
		t.Fatal(err)
	}
	var want []string
	seen := map[int]bool{}
	for _, run := range runs {
		if seen[run.TaskID] {
			continue
		}
		seen[run.TaskID] = true
		writes := slices.ContainsFunc(run.Info.Task.Actions, func(a struct{ Name string }) bool { return slices.Contains(tauWrites, a.Name) })
		if !writes && len(run.Info.Task.Outputs) == 0 {
			want = append(want, jsonNumber(run.TaskID))
		}
	}
	slices.SortFunc(want, cmpNumeric)
	got := slices.Clone(r.DoNothingPassed)
	slices.SortFunc(got, cmpNumeric)
	if !slices.Equal(got, want) {
		t.Errorf("do-nothing passes %v, want %v", got, want)
	}
	t.Logf("do-nothing agent passes %d of %d τ-bench airline tasks (%.0f%%; published: 38%%): %s",
		len(got), r.Cases, 100*r.DoNothingShare, strings.Join(got, " "))
	if r.Cases != 50 || !r.Failed {
		t.Errorf("cases = %d, failed = %v; want 50, true", r.Cases, r.Failed)
	}
}

// TestTauBenchAssertionAgreesWithReward measures how well the suite's
// assertions (expected end-state calls, stated outputs) stand in for
// τ-bench's database check: on the 200 recorded GPT-4o runs, the verdict of
// the assertions against the recorded reward.
func TestTauBenchAssertionAgreesWithReward(t *testing.T) {
	path := shareddata.Path(t, "tau-bench", "gpt-4o-airline.json")
	s, err := LoadSuite("../examples/eval/taubench/airline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := LoadDataset(path, "")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Case{}
	for i := range cases {
		byID[cases[i].ID] = &cases[i]
	}
	asserts, err := CompileAssertions(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tp, fp, fn, tn int
	var disagree []string
	err = taubench.Read(context.Background(), path, f, func(tr *probity.Trace) error {
		c := byID[tr.Meta["task_id"]]
		if c == nil || tr.Labels.Reward == nil {
			t.Errorf("%s: no case or reward", tr.ID)
			return nil
		}
		in, _ := decodeJSON(c.Input)
		exp, _ := decodeJSON(c.Expected)
		chk := &Check{Case: c, Input: in, Expected: exp, Output: &Output{Trace: tr}}
		pass := true
		for _, a := range asserts {
			if res := a.Check(context.Background(), chk); !res.Pass {
				pass = false
			}
		}
		reward := *tr.Labels.Reward == 1
		switch {
		case pass && reward:
			tp++
		case pass:
			fp++
			disagree = append(disagree, tr.ID+"(assert pass, reward 0)")
		case reward:
			fn++
			disagree = append(disagree, tr.ID+"(assert fail, reward 1)")
		default:
			tn++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := tp + fp + fn + tn
	agree := float64(tp+tn) / float64(n)
	t.Logf("assertions vs τ-bench reward on %d runs: agree %.3f (pass/reward1 %d, pass/reward0 %d, fail/reward1 %d, fail/reward0 %d); disagreements: %s",
		n, agree, tp, fp, fn, tn, strings.Join(disagree, " "))
	// The strongest trivial baseline is "always fail" (116 of 200 runs
	// have reward 0): the assertions must beat it clearly.
	if base := float64(fp+tn) / float64(n); n != 200 || agree < base+0.2 {
		t.Errorf("agreement %.3f on %d runs; want 200 runs and at least always-fail's %.3f + 0.2", agree, n, base)
	}
}

func jsonNumber(i int) string { b, _ := json.Marshal(i); return string(b) }

func cmpNumeric(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
