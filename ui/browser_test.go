package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/eval"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/ui"
)

// chromium finds the browser. Outside CI a missing browser skips the
// test; in CI it fails it (.ci/run installs Debian's chromium).
func chromium(t testing.TB) string {
	t.Helper()
	if raceEnabled {
		// The browser tests drive one server from one tab; under -race
		// they take minutes (a 50,000-step trace) and check nothing the
		// server's own race tests do not. CI runs them in their own step
		// without -race, where a missing browser fails.
		t.Skip("browser tests run without -race (CI: go test -run TestBrowser ./ui)")
	}
	if p := os.Getenv("PROBITY_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium: CI must install it (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH; skipping the browser test outside CI")
	return ""
}

// site is a running `probity serve` (the whole server, UI mounted) over a
// real SQLite store.
type site struct {
	st   store.Store
	base string
}

func startSite(t testing.TB, seed func(ctx context.Context, st store.Store)) *site {
	t.Helper()
	return startSiteWith(t, nil, seed)
}

// startSiteWith is startSite with the UI's options changed by opt.
func startSiteWith(t testing.TB, opt func(*ui.Options), seed func(ctx context.Context, st store.Store)) *site {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "probity.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seed(ctx, st)
	uo := ui.Options{Store: st, Monitors: st.MonitorState(), Approvals: st.GuardState(),
		ApproverToken: func() (string, error) { return testApproverToken, nil }}
	if opt != nil {
		opt(&uo)
	}
	pages, err := ui.New(uo)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Store: st, Analyzer: analysis.New(analysis.Options{}), Listen: "127.0.0.1:0", UI: pages})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AnalyseNow(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return &site{st: st, base: "http://" + srv.Addr()}
}

// testApproverToken is the guard's approver token the test sites check.
const testApproverToken = "0123456789abcdef0123456789abcdef"

// storeFiles stores the traces of files (at most limit, 0 for all).
func storeFiles(ctx context.Context, t testing.TB, st store.Store, limit int, files ...string) {
	t.Helper()
	var ts []*probity.Trace
	stop := errors.New("enough")
	err := ingest.Each(ctx, files, ingest.Options{}, func(tr *probity.Trace) error {
		ts = append(ts, tr)
		if limit > 0 && len(ts) >= limit {
			return stop
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		t.Fatal(err)
	}
	if _, err := server.StoreTraces(ctx, st, ts...); err != nil {
		t.Fatal(err)
	}
}

// browser is one headless Chromium tab that records what must never
// happen on these pages: a dialog, a console error or exception (a CSP
// violation is one), a request to another origin.
type browser struct {
	ctx    context.Context
	origin string
	shots  string

	mu       sync.Mutex
	dialogs  []string
	errs     []string
	foreign  []string
	requests int
}

func newBrowser(t testing.TB, origin string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 1000), chromedp.Flag("disable-gpu", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx, origin: origin, shots: os.Getenv("PROBITY_SCREENSHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.dialogs = append(b.dialogs, ev.Message)
			// A dialog stalls the page until answered; answer off the
			// event loop.
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				b.errs = append(b.errs, "console."+string(ev.Type))
			}
		case *runtime.EventExceptionThrown:
			b.errs = append(b.errs, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				b.errs = append(b.errs, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			b.requests++
			if u := ev.Request.URL; !strings.HasPrefix(u, b.origin+"/") && u != b.origin {
				b.foreign = append(b.foreign, u)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		call(ctx, network.Enable, network.EnableParams{}),
		call(ctx, log.Enable, cdp.Empty{}),
		call(ctx, runtime.Enable, cdp.Empty{}),
		call(ctx, page.Enable, page.EnableParams{}),
	} {
		if err != nil {
			t.Fatalf("enable devtools domains: %v", err)
		}
	}
	return b
}

func call[P, R any](ctx context.Context, cmd cdp.Command[P, R], p P) error {
	_, err := chromedp.Call(ctx, cmd, p)
	return err
}

// do runs actions with a deadline, failing the test with what it was doing.
func (b *browser) do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](t testing.TB, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// follow runs actions that make the page navigate (a form submit, a
// click on a link) and waits for the new page to load.
func (b *browser) follow(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	loaded := chromedp.Events(ctx, page.LoadEventFired)
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for _, err := range loaded {
		if err != nil {
			t.Fatalf("%s: waiting for the page: %v", what, err)
		}
		break
	}
}

// open loads a page and waits until its main content is there.
func (b *browser) open(t testing.TB, path string) {
	t.Helper()
	b.do(t, "open "+path, chromedp.Navigate(b.origin+path), chromedp.WaitReady(chromedp.CSS("main h1")))
}

// text is the text at sel. It reads textContent, not innerText: steps
// off screen are not rendered (content-visibility: auto) until scrolled
// to, and innerText of what is not rendered is empty.
func (b *browser) text(t testing.TB, sel string) string {
	t.Helper()
	return run(t, b, "text of "+sel, chromedp.TextContent(chromedp.CSS(sel)))
}

func (b *browser) count(t testing.TB, sel string) int {
	t.Helper()
	return run(t, b, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// shot saves a full-page screenshot as a test artifact.
func (b *browser) shot(t testing.TB, name string) string {
	t.Helper()
	png := run(t, b, "screenshot", chromedp.FullScreenshot(100))
	p := filepath.Join(b.shots, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
	return p
}

// clean checks that nothing the browser must never do happened.
func (b *browser) clean(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.dialogs) > 0 {
		t.Errorf("dialogs opened: %q", b.dialogs)
	}
	if len(b.errs) > 0 {
		t.Errorf("console errors: %q", b.errs)
	}
	if len(b.foreign) > 0 {
		t.Errorf("requests left the origin %s: %q", b.origin, b.foreign)
	}
	if b.requests == 0 {
		t.Errorf("no request seen: the network listener is not working, so the checks above prove nothing")
	}
}

// traceByName finds the stored trace whose analysed report names the
// trace id the file gave it.
func traceByName(ctx context.Context, t testing.TB, st store.Store, name string) string {
	t.Helper()
	p, err := st.ListTraces(ctx, store.Filter{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Traces {
		a, err := st.Analysis(ctx, s.TraceID)
		if err != nil {
			continue
		}
		var r struct {
			TraceID string `json:"trace_id"`
		}
		if json.Unmarshal(a.Report, &r) == nil && r.TraceID == name {
			return s.TraceID
		}
	}
	t.Fatalf("no stored trace named %q", name)
	return ""
}

// evalRunFile writes the τ-bench runs of the given trials as an eval run
// file: a case per task, a trial passes when its reward is 1. These are
// real outcomes, so the forest plot and the comparison show real
// flakiness.
func evalRunFile(t testing.TB, traces []*probity.Trace, suite string, trials ...int) []byte {
	t.Helper()
	keep := map[int]int{}
	for i, n := range trials {
		keep[n] = i
	}
	var lines []string
	h := eval.RunHeader{Type: "run", Version: eval.RunFileVersion, Suite: suite, Started: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Trials: len(trials), Seed: 1}
	seen := map[string]bool{}
	var recs []eval.TrialRecord
	for _, tr := range traces {
		task, trial, ok := strings.Cut(tr.ID, "/")
		n, err := strconv.Atoi(strings.TrimPrefix(trial, "trial-"))
		if !ok || err != nil || tr.Labels.Reward == nil {
			continue
		}
		k, want := keep[n]
		if !want {
			continue
		}
		if !seen[task] {
			seen[task] = true
			h.Cases = append(h.Cases, eval.CaseInfo{ID: task})
		}
		status := eval.StatusFail
		if *tr.Labels.Reward >= 1 {
			status = eval.StatusPass
		}
		recs = append(recs, eval.TrialRecord{Type: "trial", Case: task, Trial: k, Status: status, Started: h.Started, LatencyMS: 1})
	}
	for _, v := range append([]any{h}, anySlice(recs)...) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func addEvalRun(ctx context.Context, t testing.TB, st store.Store, data []byte) string {
	t.Helper()
	run, err := server.ParseEvalRun(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddEvalRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

func putAlert(ctx context.Context, t testing.TB, st store.Store, a monitor.Alert) {
	t.Helper()
	if err := st.(*sqlite.DB).MonitorState().Apply(ctx, monitor.Change{Alerts: []monitor.Alert{a}}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser uses the UI as a person would: every page, a filter, the
// failing trace with its cascade, feedback read back through the API.
func TestBrowser(t *testing.T) {
	chromium(t)
	ctx := context.Background()
	tau := shareddata.Path(t, "tau-bench", "gpt-4o-airline.json")
	var tauTraces []*probity.Trace
	if err := ingest.Each(ctx, []string{tau}, ingest.Options{}, func(tr *probity.Trace) error {
		tauTraces = append(tauTraces, tr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var runA, runB string
	var planted monitor.Alert
	s := startSite(t, func(ctx context.Context, st store.Store) {
		planted = plantChange(ctx, t, st)
		storeFiles(ctx, t, st, 0, "../examples/refund-cascade.json", "../examples/refund-ok.json", "../examples/support-billing.otlp.json")
		if _, err := server.StoreTraces(ctx, st, tauTraces[:12]...); err != nil {
			t.Fatal(err)
		}
		runA = addEvalRun(ctx, t, st, evalRunFile(t, tauTraces, "tau-airline gpt-4o", 0, 1))
		runB = addEvalRun(ctx, t, st, evalRunFile(t, tauTraces, "tau-airline gpt-4o", 2, 3))
		putAlert(ctx, t, st, monitor.Alert{ID: "al-1", Monitor: "failure-rate", Kind: "verdict", Event: "verdict fail", State: monitor.AlertFiring,
			Group: map[string]string{"service.name": "support"}, FiredAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
			Baseline: monitor.Rate{Rate: 0.05, Lo: 0.03, Hi: 0.08, Events: 25, N: 500}, Before: monitor.Rate{Rate: 0.05, Lo: 0.03, Hi: 0.08, Events: 20, N: 400},
			After: monitor.Rate{Rate: 0.2, Lo: 0.12, Hi: 0.3, Events: 12, N: 60}, Summary: "failure rate rose from 5% to 20%"})
	})
	cascade := traceByName(ctx, t, s.st, "refund-cascade")
	okTrace := traceByName(ctx, t, s.st, "refund-ok")
	b := newBrowser(t, s.base)

	b.open(t, "/")
	if got := b.text(t, "main"); !strings.Contains(got, "Failure rate") || !strings.Contains(got, "failure-rate") {
		t.Errorf("overview shows no failure rate or firing alert:\n%s", got)
	}
	b.shot(t, "overview.png")

	// Keyboard: the first Tab reaches the skip link, which leads to main.
	b.do(t, "tab", chromedp.KeyEvent("\t"))
	if got := run(t, b, "focus", chromedp.Evaluate[string]("document.activeElement.textContent")); got != "Skip to content" {
		t.Errorf("first Tab focuses %q, want the skip link", got)
	}

	// Apply a filter as a person would: pick "fail" and submit the form.
	b.open(t, "/traces")
	all := b.count(t, "table.list tbody tr")
	b.follow(t, "filter by verdict",
		chromedp.SetValue(chromedp.CSS(`select[name="verdict"]`), "fail"),
		chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)))
	loc := run(t, b, "location", chromedp.Location())
	if !strings.Contains(loc, "verdict=fail") {
		t.Errorf("after filtering, location %s has no verdict=fail", loc)
	}
	rows := b.count(t, "table.list tbody tr")
	fails := b.count(t, "table.list tbody tr td:first-child .sev-high")
	if rows == 0 || rows != fails || rows >= all {
		t.Errorf("filtered list: %d rows, %d marked fail, %d unfiltered; want only failing traces, fewer than all", rows, fails, all)
	}
	b.shot(t, "traces.png")

	// Open the failing trace from the list.
	b.follow(t, "open the cascade", chromedp.Click(chromedp.CSS(`a[href="/traces/`+cascade+`"]`)))
	tti := run(t, b, "timing", chromedp.Evaluate[float64]("performance.getEntriesByType('navigation')[0].domInteractive"))
	t.Logf("cascade trace page interactive after %.0f ms", tti)
	if got := b.text(t, "li#step-8"); !strings.Contains(got, "root cause") || !strings.Contains(got, "cascade") {
		t.Errorf("step 8 (the cascade's origin) is not marked root cause with its cascade finding:\n%s", got)
	}
	for _, step := range []string{"10", "12"} {
		if got := b.text(t, "li#step-"+step); !strings.Contains(got, "side effect") {
			t.Errorf("step %s (a side-effecting call the error reached) is not marked:\n%s", step, got)
		}
	}
	if got := b.text(t, "#blast figure"); !strings.Contains(got, "origin · step 8") || !strings.Contains(got, "step 12 · side effect") {
		t.Errorf("blast radius graph does not draw origin 8 reaching side-effecting step 12:\n%s", got)
	}
	shot := b.shot(t, "trace.png")
	if os.Getenv("PROBITY_README_SCREENSHOT") != "" {
		// The top of the page down to the findings at the origin step.
		b.do(t, "viewport", chromedp.EmulateViewport(1280, 1900))
		png := run(t, b, "viewport screenshot", chromedp.CaptureScreenshot())
		b.do(t, "viewport", chromedp.EmulateViewport(1280, 1000))
		if err := os.WriteFile("../docs/img/trace.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = shot
	}

	// Feedback through the form, read back through the API.
	b.follow(t, "send feedback",
		chromedp.Click(chromedp.CSS(`input[name="label"][value="incorrect"]`)),
		chromedp.SetValue(chromedp.CSS(`input[name="step"]`), "8"),
		chromedp.SetValue(chromedp.CSS(`textarea[name="note"]`), "the order id is right, the refund was wrong"),
		chromedp.Click(chromedp.CSS(`form.fbform button`)))
	if got := b.text(t, "ul.fb"); !strings.Contains(got, "incorrect") {
		t.Errorf("trace page after feedback does not list it: %q", got)
	}
	resp, err := http.Get(s.base + "/api/v1/traces/" + cascade)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Feedback []struct {
			Label string `json:"label"`
			Step  *int   `json:"step"`
			Note  string `json:"note"`
		} `json:"feedback"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Feedback) != 1 || got.Feedback[0].Label != "incorrect" || got.Feedback[0].Step == nil || *got.Feedback[0].Step != 8 ||
		got.Feedback[0].Note != "the order id is right, the refund was wrong" {
		t.Errorf("API feedback after the form = %+v, want one incorrect at step 8 with the note", got.Feedback)
	}

	b.open(t, "/compare?a="+cascade+"&b="+okTrace)
	if got := b.text(t, "#divergence"); !strings.Contains(got, "first divergence") {
		t.Errorf("compare marks no first divergence: %q", got)
	}
	b.shot(t, "compare.png")

	b.open(t, "/evals")
	if n := b.count(t, "table.list tbody tr"); n != 2 {
		t.Errorf("eval runs listed: %d, want 2", n)
	}
	b.shot(t, "evals.png")
	b.open(t, "/evals/"+runB)
	if n := b.count(t, "#forest-h ~ svg circle.pt"); n != 50 {
		t.Errorf("forest plot has %d case points, want 50 (τ-bench airline tasks)", n)
	}
	if n := b.count(t, "#pk-h ~ svg circle.pt"); n != 2 {
		t.Errorf("pass^k curve has %d points, want 2 (k = 1, 2)", n)
	}
	b.shot(t, "eval.png")
	b.follow(t, "compare runs", chromedp.SetValue(chromedp.CSS(`select[name="a"]`), runA),
		chromedp.Click(chromedp.CSS(`form[action="/evals/compare"] button`)))
	if got := b.text(t, "main"); !strings.Contains(got, "P(B worse by more than") {
		t.Errorf("eval comparison shows no P(worse):\n%s", got)
	}
	b.shot(t, "evalcompare.png")

	b.open(t, "/monitors")
	if n := b.count(t, "article.alert svg line.change"); n != 2 {
		t.Errorf("alert charts have %d changepoint marks, want 2", n)
	}
	if n := b.count(t, "#series-0 svg polygon.band"); n != 1 {
		t.Errorf("the first series chart has %d interval bands, want 1", n)
	}
	if n := b.count(t, "#series-0 svg circle.pt"); n < 20 {
		t.Errorf("the first series chart draws %d points, want its buckets", n)
	}
	b.shot(t, "monitors.png")
	// The changepoint on the chart leads to its alert, and the alert to
	// its evidence.
	b.do(t, "follow the changepoint", chromedp.Click(chromedp.CSS(`#series-0 svg a[href="#alert-`+planted.ID+`"] text.cp`)))
	if loc := run(t, b, "location", chromedp.Location()); !strings.HasSuffix(loc, "#alert-"+planted.ID) {
		t.Errorf("after clicking the changepoint, location %s, want #alert-%s", loc, planted.ID)
	}
	if n := b.count(t, "#alert-"+planted.ID+` a[href^="/traces/"]`); n == 0 {
		t.Errorf("alert %s links to no example trace", planted.ID)
	}
	// A call a guard on this store holds, with hostile arguments: listed
	// inert, and approved with the form and the approver token.
	gs := s.st.(*sqlite.DB).GuardState()
	now := time.Now()
	if err := gs.AddApproval(ctx, guard.Approval{ID: "ap_browser", Status: guard.StatusPending, Run: "conv-9", Tool: "refund",
		Args: json.RawMessage(fmt.Sprintf(`{"amount": 300, "note": %q}`, hostile[0])), Rule: "confirm-big-refund",
		Reason: "amount over 200", Created: now, Deadline: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	b.open(t, "/approvals")
	if got := b.text(t, "main"); !strings.Contains(got, "confirm-big-refund") || !strings.Contains(got, "conv-9") {
		t.Errorf("approvals page does not list the held call:\n%s", got)
	}
	b.shot(t, "approvals.png")
	b.follow(t, "approve", chromedp.SendKeys(chromedp.CSS(`tr#ap_browser input[name="token"]`), testApproverToken),
		chromedp.SendKeys(chromedp.CSS(`tr#ap_browser input[name="by"]`), "alice"),
		chromedp.Click(chromedp.CSS(`tr#ap_browser button[value="approve"]`)))
	if got := b.text(t, "main"); !strings.Contains(got, "approved ap_browser") || !strings.Contains(got, "No call is waiting") {
		t.Errorf("approvals page after approving does not say so:\n%s", got)
	}
	if a, err := gs.Approval(ctx, "ap_browser"); err != nil || a.Status != guard.StatusApproved || a.By != "alice" {
		t.Errorf("stored approval after the browser approved it = %+v, %v; want approved by alice", a, err)
	}
	b.clean(t)
}

// hostile is text that would run, load or mislead if it reached the page as
// markup.
var hostile = []string{
	`<script>window.__pwned=1;alert(1)</script>`,
	`<img src=x onerror="window.__pwned=2;alert(2)">`,
	`<svg onload="window.__pwned=3;alert(3)"><script>alert(4)</script></svg>`,
	`<a href="javascript:alert(5)">click me</a>`,
	`{{.}}{{template "content" .}}{{define "x"}}{{end}}`,
	"\u202Egnp.exe\u202C and \u2066isolate\u2069",
	`<iframe src="https://evil.example/"></iframe><link rel=stylesheet href="https://evil.example/x.css">`,
	`<meta http-equiv="refresh" content="0;url=https://evil.example/">`,
	`<style>body{background:url(https://evil.example/bg.png)}</style>`,
	`"><script>alert(6)</script><"`,
}

func hostileTrace() *probity.Trace {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	all := strings.Join(hostile, " ")
	tr := &probity.Trace{ID: `"><svg onload=alert(7)>` + hostile[0], Task: all, Format: "chatlog", Clock: start}
	add := func(s probity.Step) {
		s.Pos.Index = len(tr.Steps)
		s.Start = start.Add(time.Duration(len(tr.Steps)) * time.Second)
		s.End = s.Start.Add(time.Millisecond)
		tr.Steps = append(tr.Steps, s)
	}
	add(probity.Step{Kind: probity.KindUser, Actor: hostile[9], Content: all})
	args, _ := json.Marshal(map[string]string{"order_id": "#W1234567", "note": all, "url": "javascript:alert(8)"})
	add(probity.Step{Kind: probity.KindToolCall, Actor: "assistant", Tool: &probity.ToolCall{ID: "c1", Name: `javascript:alert(9)`, Args: args}})
	// 10 MB of markup in one tool result.
	add(probity.Step{Kind: probity.KindToolResult, Actor: "tool", Tool: &probity.ToolCall{ID: "c1", Name: `javascript:alert(9)`},
		Content: strings.Repeat(`<b onmouseover="alert(10)">x</b>`, 10<<20/32)})
	add(probity.Step{Kind: probity.KindAssistant, Actor: "assistant", Content: "Refunded order #W7654321. " + all})
	return tr
}

func longTrace(n int) *probity.Trace {
	start := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)
	tr := &probity.Trace{ID: "long-" + strconv.Itoa(n), Format: "chatlog", Clock: start}
	for i := range n {
		k := probity.KindUser
		if i%2 == 1 {
			k = probity.KindAssistant
		}
		s := start.Add(time.Duration(i) * time.Millisecond)
		tr.Steps = append(tr.Steps, probity.Step{Pos: probity.Position{Index: i}, Kind: k, Actor: string(k), Start: s, End: s,
			Content: hostile[i%len(hostile)]})
	}
	return tr
}

// TestBrowserHostileTrace loads pages full of hostile trace text and checks
// that it stays text: no script ran, no dialog opened, no console error
// (a CSP violation would be one), no request left the origin.
func TestBrowserHostileTrace(t *testing.T) {
	chromium(t)
	ctx := context.Background()
	s := startSite(t, func(ctx context.Context, st store.Store) {
		if _, err := server.StoreTraces(ctx, st, hostileTrace()); err != nil {
			t.Fatal(err)
		}
		if _, err := server.StoreTraces(ctx, st, longTrace(50000)); err != nil {
			t.Fatal(err)
		}
		h := eval.RunHeader{Type: "run", Version: eval.RunFileVersion, Suite: hostile[0], Trials: 1, Cases: []eval.CaseInfo{{ID: hostile[1]}, {ID: hostile[5]}}}
		var lines []string
		for _, v := range []any{h, eval.TrialRecord{Type: "trial", Case: hostile[1], Status: eval.StatusPass},
			eval.TrialRecord{Type: "trial", Case: hostile[5], Status: eval.StatusFail}} {
			b, _ := json.Marshal(v)
			lines = append(lines, string(b))
		}
		addEvalRun(ctx, t, st, []byte(strings.Join(lines, "\n")+"\n"))
		putAlert(ctx, t, st, monitor.Alert{ID: hostile[2], Monitor: hostile[3], State: monitor.AlertFiring, Summary: strings.Join(hostile, " "),
			Group: map[string]string{hostile[0]: hostile[6]}, Examples: []string{`javascript:alert(11)`}, FiredAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
		// A series whose group and alert are hostile, drawn on the chart.
		gk, _ := json.Marshal(map[string]string{hostile[0]: hostile[5], hostile[4]: hostile[1]})
		at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		var pts []monitor.Point
		for i := range 30 {
			pts = append(pts, monitor.Point{Monitor: "failure-rate", Group: string(gk), Start: at.Add(time.Duration(i) * 5 * time.Minute),
				End: at.Add(time.Duration(i)*5*time.Minute + time.Minute), Rate: monitor.JeffreysRate(i%4, 20)})
		}
		if err := st.(*sqlite.DB).MonitorState().Apply(ctx, monitor.Change{Points: pts}); err != nil {
			t.Fatal(err)
		}
		putAlert(ctx, t, st, monitor.Alert{ID: hostile[8], Monitor: "failure-rate", State: monitor.AlertFiring, GroupKey: string(gk),
			Change:   monitor.ChangeEstimate{At: at.Add(time.Hour), Earliest: at.Add(50 * time.Minute), Latest: at.Add(70 * time.Minute)},
			Examples: []string{`javascript:alert(12)`, hostile[1]}, FiredAt: at.Add(2 * time.Hour)})
	})
	evil := traceByName(ctx, t, s.st, hostileTrace().ID)
	long := traceByName(ctx, t, s.st, "long-50000")
	if _, err := s.st.AddFeedback(ctx, store.Feedback{TraceID: evil, Label: store.LabelIncorrect, Note: strings.Join(hostile, " ")}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.st.EvalRuns(ctx)
	if err != nil || len(runs) != 1 {
		t.Fatalf("eval runs: %v %v", runs, err)
	}
	b := newBrowser(t, s.base)
	for _, path := range []string{"/", "/traces", "/traces/" + evil, "/traces?q=" + "%3Cscript%3E", "/compare?a=" + evil + "&b=" + long,
		"/evals", "/evals/" + runs[0].ID, "/monitors"} {
		b.open(t, path)
		if pwned := run(t, b, "probe", chromedp.Evaluate[bool]("typeof window.__pwned !== 'undefined'")); pwned {
			t.Errorf("%s: a script from the trace ran", path)
		}
	}
	b.open(t, "/monitors")
	if n := b.count(t, "#series-0 svg line.change"); n != 1 {
		t.Errorf("the hostile series is drawn with %d changepoints, want 1", n)
	}
	if got := b.text(t, "#series-0 h3"); !strings.Contains(got, "<script>window.__pwned=1") || !strings.Contains(got, "⟨U+202E⟩") {
		t.Errorf("the hostile group is not shown as text: %q", got)
	}
	b.shot(t, "monitors-hostile.png")
	// The hostile text is shown, as text.
	b.open(t, "/traces/"+evil)
	body := b.text(t, "main")
	for _, want := range []string{`<script>window.__pwned=1;alert(1)</script>`, `{{template "content" .}}`, "⟨U+202E⟩gnp.exe", `javascript:alert(9)`} {
		if !strings.Contains(body, want) {
			t.Errorf("trace page does not show %q as text", want)
		}
	}
	b.shot(t, "hostile.png")
	size := run(t, b, "page size", chromedp.Evaluate[int]("document.documentElement.outerHTML.length"))
	if size > 2<<20 {
		t.Errorf("trace page with a 10 MB step is %d bytes; long text must be cut", size)
	}

	start := time.Now()
	b.open(t, "/traces/"+long)
	t.Logf("50,000-step trace page (first 1,000 steps) loaded in %s", time.Since(start).Round(time.Millisecond))
	if n := b.count(t, "ol.timeline > li"); n != 1000 {
		t.Errorf("50,000-step trace shows %d steps, want a window of 1000", n)
	}
	if n := b.count(t, `a[href$="?from=1000"]`); n == 0 {
		t.Errorf("50,000-step trace page has no link to the next steps")
	}
	b.clean(t)
}
