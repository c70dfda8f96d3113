package judge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/internal/judgetest"
	"github.com/probity/probity/judge"
	"github.com/probity/probity/localize"
	"github.com/probity/probity/proxy"
)

// labelSecret is in every test run's attribution labels; it must never
// reach a prompt.
const labelSecret = "LABEL-SECRET"

// retailRun is a failed τ-bench-like run: the user asks to cancel order
// #W2 and the agent cancels #W1. Its task names the model's script.
func retailRun(id, script string) (*probity.Trace, *detect.Report) {
	reward, mistake := 0.0, 4
	call := func(pos int, name, args string) probity.Step {
		return probity.Step{Pos: probity.Position{Index: pos}, Kind: probity.KindToolCall, Actor: "assistant",
			Tool: &probity.ToolCall{ID: "c" + name, Name: name, Args: json.RawMessage(args)}}
	}
	result := func(pos int, name, content string) probity.Step {
		return probity.Step{Pos: probity.Position{Index: pos}, Kind: probity.KindToolResult, Actor: "tool",
			Tool: &probity.ToolCall{Name: name}, Content: content}
	}
	t := &probity.Trace{
		ID: id, Source: "runs.json", Format: "taubench",
		Task:   "Cancel my pending order #W2, I no longer need it. [script:" + script + "]",
		Labels: probity.Labels{Reward: &reward, MistakeAgent: "assistant", MistakeStep: &mistake, MistakeReason: labelSecret + ": cancelled #W1"},
		Expected: []probity.ToolCall{
			{Name: "get_order_details", Args: json.RawMessage(`{"order_id":"#W2"}`)},
			{Name: "cancel_pending_order", Args: json.RawMessage(`{"order_id":"#W2","reason":"no longer needed"}`)},
		},
		Meta: map[string]string{"task_id": "7"},
		Steps: []probity.Step{
			{Pos: probity.Position{Index: 0}, Kind: probity.KindSystem, Actor: "system", Content: "You are a retail agent.\nCancel only pending orders."},
			{Pos: probity.Position{Index: 1}, Kind: probity.KindUser, Actor: "user", Content: "Please cancel order #W2, I no longer need it."},
			call(2, "get_order_details", `{"order_id":"#W2"}`),
			result(3, "get_order_details", `{"order_id":"#W2","status":"pending","other_order":"#W1"}`),
			call(4, "cancel_pending_order", `{"order_id":"#W1","reason":"no longer needed"}`),
			result(5, "cancel_pending_order", `{"order_id":"#W1","status":"cancelled"}`),
			{Pos: probity.Position{Index: 6}, Kind: probity.KindFinal, Actor: "assistant", Content: "Your order has been cancelled."},
		},
	}
	// The report is built here rather than by the detectors, so the
	// recorded prompts depend on this package alone and a change to a
	// detector's wording does not invalidate the cassettes.
	r := &detect.Report{TraceID: id, Source: t.Source, Verdict: probity.VerdictSuspect,
		Findings: []probity.Finding{{Detector: "ungrounded-argument", Severity: probity.SeverityMedium, Step: 4,
			Message: `cancel_pending_order order_id "#W1" was not what the user asked for`}},
		Localization: &probity.Localization{Step: 4, Agent: "assistant", Method: "reference:actions", Confidence: 0.62,
			Candidates: []probity.LocalizationCandidate{
				{Step: 4, Agent: "assistant", Score: 0.62, Reason: `cancel_pending_order called with order_id "#W1"; expected "#W2"`},
				{Step: 3, Agent: "tool", Score: 0.25, Reason: `"#W1" entered in the get_order_details result`},
				{Step: 1, Agent: "user", Score: 0.13, Reason: "the request"},
			}}}
	return t, r
}

var scripts = []string{"agree", "split", "malformed", "garbage"}

// providers are the two wire formats, each with its cassette.
var providers = []struct{ name, base string }{
	{"openai", "/v1"},
	{"anthropic", ""},
}

func config(t *testing.T, provider, base, cache string) *judge.Config {
	t.Helper()
	src := "provider: " + provider + "\nmodel: judge-test\nbase_url: " + base + "\napi_key_env: JUDGE_TEST_KEY\nvotes: 3\ncache_dir: " + cache + "\n"
	c, err := judge.ParseConfig("judge.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newJudge(t *testing.T, c *judge.Config) *judge.Judge {
	t.Helper()
	j, err := judge.New(c, judge.WithLookupEnv(func(k string) (string, bool) {
		if k == "JUDGE_TEST_KEY" {
			return "sk-test-not-a-key", true
		}
		return "", false
	}))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// serve serves h on a loopback port until the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { proxy.Serve(ctx, ln, h); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

func judgeAll(t *testing.T, j *judge.Judge) map[string]*judge.Result {
	t.Helper()
	out := map[string]*judge.Result{}
	for _, s := range scripts {
		tr, r := retailRun("run-"+s, s)
		res, err := j.Judge(context.Background(), tr, r, nil)
		if err != nil {
			t.Fatalf("Judge(%s): %v", s, err)
		}
		out[s] = res
	}
	return out
}

// TestRecordCassettes records the fixtures replayed by TestReplayed: the
// judge asks the scripted model through the recording proxy, over real
// HTTP. It runs only with PROBITY_RECORD_JUDGE=1, after a change to the
// prompt.
func TestRecordCassettes(t *testing.T) {
	if os.Getenv("PROBITY_RECORD_JUDGE") == "" {
		t.Skip("set PROBITY_RECORD_JUDGE=1 to re-record testdata/cassettes")
	}
	upstream := serve(t, &judgetest.Model{})
	dir := t.TempDir()
	p, err := proxy.New(proxy.Options{Upstream: upstream, RecordDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, p)
	for _, pv := range providers {
		j := newJudge(t, config(t, pv.name, base+"/_probity/run/"+pv.name+pv.base, t.TempDir()))
		judgeAll(t, j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pv := range providers {
		b, err := os.ReadFile(filepath.Join(dir, "cassettes", pv.name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "cassettes", pv.name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// replay serves the recorded cassette of one provider as probity replay
// does, and returns its base URL and the replayer.
func replay(t *testing.T, name string) (string, *proxy.Replayer) {
	t.Helper()
	cs, err := proxy.Open(filepath.Join("testdata", "cassettes", name+".json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := proxy.NewReplayer(proxy.ReplayOptions{Recordings: cs})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, rp), rp
}

// TestReplayed judges four runs against recorded answers of each provider,
// over real HTTP through the replay server: a request that departs from
// the recording gets a 409 and fails the test. Then it judges them again
// with the cache warm and checks that no request was made.
func TestReplayed(t *testing.T) {
	for _, pv := range providers {
		t.Run(pv.name, func(t *testing.T) {
			base, rp := replay(t, pv.name)
			cache := t.TempDir()
			j := newJudge(t, config(t, pv.name, base+"/_probity/run/"+pv.name+pv.base, cache))
			got := judgeAll(t, j)

			agree := got["agree"]
			if agree != nil && strings.Contains(agree.Error, "HTTP 409") {
				t.Fatalf("the prompt departs from the recording (re-record with PROBITY_RECORD_JUDGE=1 go test ./judge -run TestRecordCassettes if the change is meant): %s", agree.Error)
			}
			if agree == nil || agree.Status != judge.StatusJudged || agree.Step == nil || *agree.Step != 4 || agree.Agent != "assistant" {
				t.Fatalf("agree = %+v, want step 4 by assistant", agree)
			}
			if agree.Agreeing != 3 || agree.Votes != 3 || agree.Agreement != 1 || !agree.FixSaves || agree.Cached {
				t.Errorf("agree = %+v, want 3/3 votes, fix saves, not cached", agree)
			}
			// Wilson 95% for 3 of 3: [0.439, 1].
			if agree.Interval != [2]float64{0.439, 1} {
				t.Errorf("agree interval = %v, want [0.439 1]", agree.Interval)
			}
			if !strings.Contains(agree.Reason, "step 4") || agree.Confidence != 0.8 || agree.Model != "judge-test" {
				t.Errorf("agree = %+v, want the recorded reason and confidence 0.8", agree)
			}
			split := got["split"]
			if split.Step == nil || *split.Step != 4 || split.Agreeing != 2 || split.Agreement != 0.667 {
				t.Errorf("split = %+v, want step 4 with 2 of 3 votes", split)
			}
			// Wilson 95% for 2 of 3: [0.208, 0.939].
			if split.Interval != [2]float64{0.208, 0.939} {
				t.Errorf("split interval = %v, want [0.208 0.939]", split.Interval)
			}
			mal := got["malformed"]
			if mal.Status != judge.StatusJudged || mal.Malformed != 2 || mal.Agreeing != 1 || mal.Step == nil || *mal.Step != 4 {
				t.Errorf("malformed = %+v, want judged on the one well-formed vote of 3, 2 malformed", mal)
			}
			if !strings.Contains(mal.Error, "vote 0: answer is not the JSON object") {
				t.Errorf("malformed error = %q, want vote 0's", mal.Error)
			}
			bad := got["garbage"]
			if bad.Status != judge.StatusError || bad.Step != nil || bad.Malformed != 3 || !strings.Contains(bad.Error, "not a step of the run") {
				t.Errorf("garbage = %+v, want status error, 3 malformed, the first reason", bad)
			}
			u := j.Usage()
			if u.Calls != 12 || u.CacheHits != 0 || u.Judged != 3 || u.Failed != 1 || u.Malformed != 5 || u.InputTokens == 0 {
				t.Errorf("usage = %+v, want 12 calls, 3 judged, 1 failed, 5 malformed, tokens counted", u)
			}
			served := rp.Served()
			if served != 12 {
				t.Errorf("replay served %d calls, want 12", served)
			}

			// A rerun hits the cache: the same results, no request.
			j2 := newJudge(t, config(t, pv.name, base+"/_probity/run/"+pv.name+pv.base, cache))
			again := judgeAll(t, j2)
			if n := rp.Served(); n != served {
				t.Errorf("the rerun made %d requests, want 0", n-served)
			}
			if u := j2.Usage(); u.Calls != 0 || u.CacheHits != 12 || u.InputTokens != 0 {
				t.Errorf("rerun usage = %+v, want 0 calls, 12 cache hits, nothing spent", u)
			}
			for _, s := range scripts {
				a, b := *got[s], *again[s]
				if !b.Cached {
					t.Errorf("rerun %s not marked cached", s)
				}
				b.Cached = false
				if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
					t.Errorf("rerun %s = %s, want %s", s, jb, ja)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCacheNeedsNoServer: with the cache warm, a judge whose server is
// gone still answers, which is what "a rerun makes no HTTP calls" means.
func TestCacheNeedsNoServer(t *testing.T) {
	m := &judgetest.Model{}
	srv := httptest.NewServer(m)
	cache := t.TempDir()
	tr, r := retailRun("run-1", "agree")
	first, err := newJudge(t, config(t, "openai", srv.URL+"/v1", cache)).Judge(context.Background(), tr, r, nil)
	if err != nil || first.Status != judge.StatusJudged {
		t.Fatalf("first judge = %+v, %v", first, err)
	}
	srv.Close()
	j := newJudge(t, config(t, "openai", srv.URL+"/v1", cache))
	again, err := j.Judge(context.Background(), tr, r, nil)
	if err != nil || again.Status != judge.StatusJudged || !again.Cached || *again.Step != *first.Step {
		t.Fatalf("cached judge = %+v, %v; want the first answer from the cache", again, err)
	}
	if n := len(m.Requests()); n != 3 {
		t.Errorf("the model got %d requests, want 3 (the first run's votes only)", n)
	}
}

// TestLabelsNeverReachTheModel: the attribution labels are in no request
// the model receives, and a run with them stripped gets the same prompt
// byte for byte.
func TestLabelsNeverReachTheModel(t *testing.T) {
	m := &judgetest.Model{}
	base := serve(t, m)
	j := newJudge(t, config(t, "anthropic", base, t.TempDir()))
	judgeAll(t, j)
	reqs := m.Requests()
	if len(reqs) != 12 {
		t.Fatalf("model got %d requests, want 12", len(reqs))
	}
	for _, body := range reqs {
		if strings.Contains(body, labelSecret) || strings.Contains(body, "mistake_") {
			t.Fatalf("a request carries an attribution label: %s", body)
		}
		if !strings.Contains(body, `cancel_pending_order called with order_id \"#W1\"`) || !strings.Contains(body, `[4] assistant tool_call cancel_pending_order`) {
			t.Fatalf("a request lacks the evidence or the step listing: %s", body)
		}
	}
	tr, r := retailRun("run-1", "agree")
	with := judge.Prompt(tr, r, nil)
	tr.Labels.MistakeAgent, tr.Labels.MistakeStep, tr.Labels.MistakeReason = "", nil, ""
	if without := judge.Prompt(tr, r, nil); without != with {
		t.Errorf("the prompt changes when labels are stripped:\n%s\n---\n%s", with, without)
	}
}

// TestBudgetStopsCalls: a budget too small for one run makes no call at
// all; a budget for one run judges it and stops before the next, saying
// why, and a failing API is an error in the result, not a crash.
func TestBudgetStopsCalls(t *testing.T) {
	m := &judgetest.Model{}
	base := serve(t, m)
	c := config(t, "openai", base+"/v1", t.TempDir())
	c.Budget.Tokens = 10
	j := newJudge(t, c)
	tr, r := retailRun("run-1", "agree")
	res, err := j.Judge(context.Background(), tr, r, nil)
	if err != nil || res.Status != judge.StatusBudget || res.Step != nil || !strings.Contains(res.Error, "of the budget's 10") {
		t.Fatalf("over budget = %+v, %v; want status budget saying why", res, err)
	}
	if n := len(m.Requests()); n != 0 {
		t.Fatalf("%d requests over budget, want 0", n)
	}
	if u := j.Usage(); !u.Stopped || u.OverBudget != 1 || u.Calls != 0 {
		t.Errorf("usage = %+v, want stopped, 1 over budget, no call", u)
	}

	// Dollars: answer tokens at $1 per thousand, input free. Each call is
	// reserved at its full max_tokens ($1), so a run of three fits $3.05;
	// the answers then cost about $0.14, so the next run's $3 does not.
	c = config(t, "openai", base+"/v1", t.TempDir())
	c.MaxTokens = 1000
	c.Budget.Dollars, c.Budget.Price = 3.05, judge.Price{Output: 1000}
	j = newJudge(t, c)
	var results []*judge.Result
	for _, s := range []string{"agree", "split", "malformed"} {
		tr, r := retailRun("run-"+s, s)
		res, err := j.Judge(context.Background(), tr, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	if results[0].Status != judge.StatusJudged || results[1].Status != judge.StatusBudget || results[2].Status != judge.StatusBudget {
		t.Fatalf("statuses = %s, %s, %s; want judged, budget, budget", results[0].Status, results[1].Status, results[2].Status)
	}
	if !strings.Contains(results[1].Error, "could cost $") || !strings.Contains(results[2].Error, "stopped") {
		t.Errorf("budget errors = %q, %q", results[1].Error, results[2].Error)
	}
	u := j.Usage()
	if n := len(m.Requests()); n != 3 || u.Calls != 3 {
		t.Errorf("%d requests, %d calls; want 3 (one run)", n, u.Calls)
	}
	if u.Dollars <= 0.05 || u.Dollars > 3.05 || !u.Stopped || u.OverBudget != 2 {
		t.Errorf("usage = %+v, want between $0.05 and $3.05 spent, stopped, 2 over budget", u)
	}
}

// TestAPIFailureIsAResult: a server that refuses the request makes the run's result an error, never a crash, and the
// batch goes on.
func TestAPIFailureIsAResult(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"message":"model overloaded"}}`, http.StatusBadRequest)
	}))
	defer srv.Close()
	j := newJudge(t, config(t, "openai", srv.URL+"/v1", t.TempDir()))
	tr, r := retailRun("run-1", "agree")
	res, err := j.Judge(context.Background(), tr, r, nil)
	if err != nil || res.Status != judge.StatusError || !strings.Contains(res.Error, "model overloaded") {
		t.Fatalf("Judge against a failing API = %+v, %v; want status error naming the API's message", res, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := j.Judge(ctx, tr, r, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Judge with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestOnlyFailedSampledRuns: a run that passed is not judged, and the
// sample is decided by the trace id alone.
func TestOnlyFailedSampledRuns(t *testing.T) {
	m := &judgetest.Model{}
	base := serve(t, m)
	c := config(t, "openai", base+"/v1", t.TempDir())
	j := newJudge(t, c)
	tr, _ := retailRun("run-1", "agree")
	one := 1.0
	tr.Labels.Reward = &one
	if res, err := j.Judge(context.Background(), tr, &detect.Report{Verdict: probity.VerdictOK}, nil); res != nil || err != nil {
		t.Errorf("a passed run was judged: %+v, %v", res, err)
	}
	zero := 0.0
	c.Sample = &zero
	tr, r := retailRun("run-1", "agree")
	if res, _ := j.Judge(context.Background(), tr, r, nil); res != nil {
		t.Errorf("sample 0 judged a run: %+v", res)
	}
	if n := len(m.Requests()); n != 0 || j.Usage().Skipped != 1 {
		t.Errorf("%d requests, usage %+v; want none, 1 skipped", n, j.Usage())
	}
}

func TestSampled(t *testing.T) {
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = "tau-retail/" + strconv.Itoa(i/5) + "/trial-" + strconv.Itoa(i%5)
	}
	n := 0
	for _, id := range ids {
		half, fifth := judge.Sampled(id, 0.5), judge.Sampled(id, 0.2)
		if half {
			n++
		}
		if fifth && !half {
			t.Fatalf("%s is in the 0.2 sample but not the 0.5 one: a larger rate must keep every run a smaller one judged", id)
		}
		if judge.Sampled(id, 0.5) != half {
			t.Fatalf("Sampled(%q) changed between calls", id)
		}
		if !judge.Sampled(id, 1) || judge.Sampled(id, 0) {
			t.Fatalf("rates 1 and 0 must take all and none")
		}
	}
	// Binomial(2000, 0.5): sd 22; 6 sd either side.
	if n < 868 || n > 1132 {
		t.Errorf("rate 0.5 sampled %d of 2000", n)
	}
}

// TestPromptEvidence: the prompt says which expected calls the run made,
// made differently or never made, lists every step by source position,
// and uses a reference given from outside in place of the trace's own.
func TestPromptEvidence(t *testing.T) {
	tr, r := retailRun("run-1", "agree")
	p := judge.Prompt(tr, r, nil)
	for _, want := range []string{
		"- get_order_details {\"order_id\":\"#W2\"}: made at step [2]\n",
		"- cancel_pending_order {\"order_id\":\"#W2\",\"reason\":\"no longer needed\"}: made at step [4] with other arguments {\"order_id\":\"#W1\",\"reason\":\"no longer needed\"}\n",
		"- step [4] by assistant, score 0.62: cancel_pending_order called with order_id \"#W1\"; expected \"#W2\"\n",
		"- step [4] ungrounded-argument (medium): ",
		"[0] system system: You are a retail agent. ⏎ Cancel only pending orders.\n",
		"[6] assistant final: Your order has been cancelled.\n",
		"failed: reward 0 (1 is success); deterministic verdict suspect\n",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("prompt lacks %q:\n%s", want, p)
		}
	}
	p = judge.Prompt(tr, r, &localize.Reference{Actions: []probity.ToolCall{{Name: "refund", Args: json.RawMessage(`{"amount": 5}`)}}, Answer: "42"})
	if !strings.Contains(p, "- refund {\"amount\":5}: never made\n") || !strings.Contains(p, "Expected final answer: 42\n") || strings.Contains(p, "get_order_details {\"order_id\":\"#W2\"}:") {
		t.Errorf("prompt with an outside reference:\n%s", p)
	}
}

// TestBudgetCheckedBeforeEachCall: a server that counts far more tokens
// than estimated uses up the room reserved for a run; the next vote is not
// asked, and the run is judged on the votes it got, out of k.
func TestBudgetCheckedBeforeEachCall(t *testing.T) {
	var calls atomic.Int32
	base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"{\"step\":4,\"agent\":\"assistant\",\"reason\":\"wrong order\",\"fix\":\"cancel #W2\",\"fix_saves\":true,\"confidence\":0.9}"}}],"usage":{"prompt_tokens":100000,"completion_tokens":20}}`))
	}))
	c := config(t, "openai", base+"/v1", t.TempDir())
	c.MaxTokens, c.Budget.Tokens = 1000, 50_000
	j := newJudge(t, c)
	tr, r := retailRun("run-1", "agree")
	res, err := j.Judge(context.Background(), tr, r, nil)
	if err != nil || res.Status != judge.StatusJudged || res.Agreeing != 1 || res.Votes != 3 || res.Agreement != 0.333 {
		t.Fatalf("result = %+v, %v; want judged on 1 vote of 3", res, err)
	}
	if !strings.Contains(res.Error, "vote 1: the next 1 calls could take") || calls.Load() != 1 {
		t.Errorf("error %q after %d calls; want the budget to stop vote 1 after 1 call", res.Error, calls.Load())
	}
	tr2, r2 := retailRun("run-2", "agree")
	res, _ = j.Judge(context.Background(), tr2, r2, nil)
	if res.Status != judge.StatusBudget || calls.Load() != 1 {
		t.Errorf("next run = %+v after %d calls; want status budget, no call", res, calls.Load())
	}
	if u := j.Usage(); !u.Stopped || u.Judged != 1 || u.OverBudget != 1 || u.InputTokens != 100000 {
		t.Errorf("usage = %+v", u)
	}
}
