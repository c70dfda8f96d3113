package eval

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probity/probity/internal/testagent"
)

// errorCasesSuite mixes cases that pass, fail, and make the target fail in
// every way it can: the errors must be recorded as errors, apart from the
// failures, and the run must go on.
func errorCasesSuite(target string) string {
	return `name: errors
target:
` + target + `
trials: 4
concurrency: 6
timeout: 1s
retries: 2
cases:
  - {id: good, input: {answer: ok, p: 1, tools: [lookup]}, expected: {answer: ok}}
  - {id: bad, input: {answer: ok, p: 0}, expected: {answer: ok}}
  - {id: http500, input: {error: "500"}, expected: {answer: ok}}
  - {id: crash, input: {error: crash}, expected: {answer: ok}}
  - {id: hang, input: {error: hang}, expected: {answer: ok}}
  - {id: garbage, input: {error: garbage}, expected: {answer: ok}}
  - {id: limited, input: {error: "429", answer: ok}, expected: {answer: ok}}
assert:
  - {type: equals, path: $.answer}
`
}

func TestRunErrorsStayApartHTTP(t *testing.T) {
	url := startAgent(t, &testagent.Agent{Seed: 1})
	dir := writeFiles(t, map[string]string{"s.yaml": errorCasesSuite("  http: {url: '" + url + "'}")})
	run, res := runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
	checkErrorRun(t, run, res, map[string]string{"http500": "http", "crash": "transport", "hang": "timeout", "garbage": "garbage"})
	// The 429 case was retried after Retry-After and then answered.
	for _, tr := range run.Trials {
		if tr.Case == "limited" && (tr.Status != StatusPass || tr.Attempts != 2) {
			t.Errorf("limited trial %d: status %s after %d attempts, want pass after 2", tr.Trial, tr.Status, tr.Attempts)
		}
	}
}

func TestRunErrorsStayApartExec(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	target := fmt.Sprintf("  exec: {command: [%q], env: {PROBITY_TESTAGENT_EXEC: '1', PROBITY_AGENT_SEED: '1'}}", exe)
	src := strings.Replace(errorCasesSuite(target), "  - {id: limited, input: {error: \"429\", answer: ok}, expected: {answer: ok}}\n", "", 1)
	// A subprocess (this test binary, race-instrumented in CI) can take a
	// second to start on a loaded machine; only the hanging case waits.
	src = strings.Replace(src, "timeout: 1s", "timeout: 10s", 1)
	src = strings.Replace(src, "concurrency: 6", "concurrency: 8", 1)
	dir := writeFiles(t, map[string]string{"s.yaml": src})
	run, res := runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
	checkErrorRun(t, run, res, map[string]string{"http500": "crash", "crash": "crash", "hang": "timeout", "garbage": "garbage"})
}

func checkErrorRun(t *testing.T, run *Run, res *RunResult, kinds map[string]string) {
	t.Helper()
	if res.Interrupted {
		t.Fatal("run reports interruption")
	}
	sum := Summarize(run, nil)
	byID := map[string]CaseSummary{}
	for _, c := range sum.Cases {
		byID[c.ID] = c
	}
	if c := byID["good"]; c.Class != ClassStablePass || c.Passes != 4 || c.Errors != 0 {
		t.Errorf("good = %s %d/%d errors %d, want stable-pass 4/4", c.Class, c.Passes, c.Trials, c.Errors)
	}
	if c := byID["bad"]; c.Class != ClassStableFail || c.Trials != 4 || c.Errors != 0 {
		t.Errorf("bad = %s %d/%d errors %d, want stable-fail 0/4", c.Class, c.Passes, c.Trials, c.Errors)
	}
	for id, kind := range kinds {
		c := byID[id]
		if c.Class != ClassError || c.Trials != 0 || c.Errors != 4 {
			t.Errorf("%s = %s, %d valid, %d errors; want class error with 4 errors and no valid trials", id, c.Class, c.Trials, c.Errors)
		}
		for _, tr := range run.Trials {
			if tr.Case == id && (tr.Error == nil || tr.Error.Kind != kind) {
				t.Errorf("%s trial %d error = %+v, want kind %s", id, tr.Trial, tr.Error, kind)
			}
		}
	}
	// Errors are not failures: the suite rate is over valid trials only.
	valid := 8
	if _, ok := byID["limited"]; ok {
		valid = 12
	}
	if got := sum.Suite.Trials; got != valid {
		t.Errorf("suite valid trials = %d, want %d", got, valid)
	}
	if got, want := sum.Suite.Errors, 4*len(kinds); got != want {
		t.Errorf("suite errors = %d, want %d", got, want)
	}
	if math.Abs(sum.Suite.PassRate-float64(valid-4)/float64(valid)) > 1e-6 {
		t.Errorf("pass rate = %v, want %v", sum.Suite.PassRate, float64(valid-4)/float64(valid))
	}
}

// TestResumeAfterCancel cancels a run midway, as Ctrl-C does, and resumes
// it: every trial runs exactly once and the result is a complete run.
func TestResumeAfterCancel(t *testing.T) {
	url := startAgent(t, &testagent.Agent{Seed: 3})
	var lines []string
	for i := range 10 {
		lines = append(lines, fmt.Sprintf(`{"id": "c%d", "input": {"answer": "ok", "p": 0.5, "latency_ms": 2}, "expected": {"answer": "ok"}}`, i))
	}
	dir := writeFiles(t, map[string]string{
		"s.yaml":      "name: resume\ntarget: {http: {url: '" + url + "'}}\ndataset: cases.jsonl\ntrials: 10\nconcurrency: 4\nassert: [{type: equals, path: $.answer}]\n",
		"cases.jsonl": jsonlCases(lines...),
	})
	s, err := LoadSuite(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cases, _ := s.LoadCases()
	ctx, cancel := context.WithCancel(context.Background())
	var done atomic.Int32
	r, err := NewRunner(s, cases, Options{Progress: func(p Progress) {
		if done.Add(1) == 30 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "run.jsonl")
	w, _ := CreateRun(path, r.Header())
	res, err := r.Run(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if !res.Interrupted {
		t.Fatal("run not interrupted")
	}
	// Simulate a crash mid-write too: a torn last line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"type": "trial", "case": "c0", "tri`)
	f.Close()

	prior, err := ReadRun(path)
	if err != nil {
		t.Fatalf("ReadRun of an interrupted run: %v", err)
	}
	if !prior.Torn || len(prior.Trials) < 30 || len(prior.Trials) >= 100 {
		t.Fatalf("prior: torn %v, %d trials; want torn and 30..99 trials", prior.Torn, len(prior.Trials))
	}
	r2, _ := NewRunner(s, cases, Options{})
	w2, err := AppendRun(path, prior.ValidSize)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := r2.Run(context.Background(), w2, prior)
	if err != nil {
		t.Fatal(err)
	}
	w2.Close()
	if got, want := res2.Done, 100-len(prior.Trials); got != want {
		t.Errorf("resume ran %d trials, want %d", got, want)
	}
	final, err := ReadRun(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, tr := range final.Trials {
		seen[fmt.Sprintf("%s/%d", tr.Case, tr.Trial)]++
	}
	if len(seen) != 100 || len(final.Trials) != 100 || final.Torn {
		t.Errorf("final run: %d distinct trials, %d records, torn %v; want 100, 100, false", len(seen), len(final.Trials), final.Torn)
	}
	if sum := Summarize(final, nil); !sum.Suite.Complete {
		t.Errorf("resumed run is not complete")
	}
}

// TestCacheKeysIncludeTrial: a cached rerun answers from disk, and the k
// trials of a case are k different cache entries with their own outcomes.
func TestCacheKeysIncludeTrial(t *testing.T) {
	srv := startAgent(t, &testagent.Agent{Seed: 5})
	dir := writeFiles(t, map[string]string{
		"s.yaml": "name: cache\ntarget: {http: {url: '" + srv + "'}}\ncache: cache\ntrials: 20\ncases: [{id: a, input: {answer: ok, p: 0.5}, expected: {answer: ok}}]\nassert: [{type: equals, path: $.answer}]\n",
	})
	first, _ := runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
	second, _ := runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
	s1, s2 := Summarize(first, nil), Summarize(second, nil)
	if s2.Suite.Cached != 20 || s1.Suite.Cached != 0 {
		t.Errorf("cached = %d then %d, want 0 then 20", s1.Suite.Cached, s2.Suite.Cached)
	}
	if s1.Cases[0].Passes != s2.Cases[0].Passes || s1.Cases[0].Passes == 0 || s1.Cases[0].Passes == 20 {
		t.Errorf("passes = %d then %d; want equal and strictly between 0 and 20 (distinct trials)", s1.Cases[0].Passes, s2.Cases[0].Passes)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "cache", "*", "*.json"))
	if len(entries) != 20 {
		t.Errorf("cache entries = %d, want 20", len(entries))
	}
}

// TestRateLimitPacesRequests: with requests_per_second 40 and burst 1, 20
// trials complete over at least 19/40 s whatever the concurrency. (Starts
// are stamped before the limiter's wait, so completions are compared.)
func TestRateLimitPacesRequests(t *testing.T) {
	url := startAgent(t, &testagent.Agent{Seed: 8})
	dir := writeFiles(t, map[string]string{
		"s.yaml": "name: rl\ntarget: {http: {url: '" + url + "'}}\ntrials: 20\nconcurrency: 16\nrate_limit: {requests_per_second: 40}\ncases: [{id: a, input: {answer: ok}, expected: {answer: ok}}]\nassert: [{type: equals, path: $.answer}]\n",
	})
	run, _ := runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
	var first, last time.Time
	for i, tr := range run.Trials {
		end := tr.Started.Add(time.Duration(tr.LatencyMS * float64(time.Millisecond)))
		if i == 0 || end.Before(first) {
			first = end
		}
		if end.After(last) {
			last = end
		}
	}
	if span, want := last.Sub(first), 19*25*time.Millisecond*9/10; span < want {
		t.Errorf("20 trials at 40 requests/s completed within %v, want at least %v", span, want)
	}
}
