package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/store/sqlite"
)

var t0 = time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)

// testStore is the monitor state of the server's own SQLite store: the
// engine is tested on the tables it runs on in production.
type testStore struct {
	*sqlite.MonitorState
	db *sqlite.DB
}

// Close closes the database, as a process that stops would.
func (s testStore) Close() error { return s.db.Close() }

func openStore(t *testing.T, path string) testStore {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return testStore{db.MonitorState(), db}
}

// receiver is a real HTTP server on loopback that records what it is sent
// and answers with the statuses it is told to, then 200.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []request
}

type request struct {
	status int
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.got = append(r.got, request{status, req.Header.Clone(), body})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// traffic yields observations of one service whose traces fail with a
// rate that the caller changes, one second apart.
type traffic struct {
	rng     *rand.Rand
	n       int
	service string
}

func newTraffic(seed uint64, service string) *traffic {
	return &traffic{rng: rand.New(rand.NewPCG(seed, 1)), service: service}
}

func (tr *traffic) next(failRate float64) monitor.Observation {
	tr.n++
	v := probity.VerdictOK
	if tr.rng.Float64() < failRate {
		v = probity.VerdictFail
	}
	return monitor.Observation{
		TraceID: fmt.Sprintf("%s-%05d", tr.service, tr.n),
		Time:    t0.Add(time.Duration(tr.n) * time.Second),
		Attrs:   map[string]string{"service.name": tr.service, "gen_ai.agent.name": "planner"},
		Verdict: v,
	}
}

func parse(t *testing.T, src string) *monitor.Config {
	t.Helper()
	cfg, err := monitor.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func failureConfig(url string, extra string) string {
	return `
monitors:
  - name: failure-rate
    kind: verdict
    group_by: [service.name]
notifiers:
  - name: ops
    type: webhook
    url: ` + url + `
delivery:
  initial_backoff: 20ms
  max_backoff: 200ms
` + extra
}

func run(t *testing.T, e *monitor.Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// A planted rise in the failure rate fires one alert, delivered as the
// documented webhook payload with the change dated near where it was
// planted; traffic at the new rate does not fire again; the rate's return
// resolves it.
func TestEngineFiresOnceAndResolves(t *testing.T) {
	ctx := context.Background()
	rcv := newReceiver(t)
	store := openStore(t, filepath.Join(t.TempDir(), "m.db"))
	e, err := monitor.New(monitor.Options{Config: parse(t, failureConfig(rcv.URL, "")), Store: store, PollEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Load(ctx); err != nil {
		t.Fatal(err)
	}
	defer run(t, e)()
	tr := newTraffic(1, "checkout")
	// A second service at the old rate must stay quiet.
	other := newTraffic(2, "search")
	observe := func(o monitor.Observation) {
		if err := e.Observe(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for range 1500 {
		observe(tr.next(0.05))
		observe(other.next(0.05))
	}
	if as, _ := e.Alerts(ctx, monitor.AlertQuery{}); len(as) != 0 {
		t.Fatalf("alerts before any change: %v", as[0].Summary)
	}
	changeAt := tr.n + 1
	firedAt := 0
	for i := 0; i < 2000 && firedAt == 0; i++ {
		observe(tr.next(0.25))
		observe(other.next(0.05))
		if as, _ := e.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertFiring}); len(as) > 0 {
			firedAt = tr.n
		}
	}
	if firedAt == 0 {
		t.Fatal("no alert within 2000 traces of a rise from 5% to 25%")
	}
	t.Logf("planted at trace %d, alarm at %d (delay %d)", changeAt, firedAt, firedAt-changeAt)
	for range 500 {
		observe(tr.next(0.25))
	}
	as, err := e.Alerts(ctx, monitor.AlertQuery{})
	if err != nil || len(as) != 1 {
		t.Fatalf("Alerts = %d, %v; want exactly one alert while the rate stays high", len(as), err)
	}
	waitFor(t, "the firing notification", func() bool { return len(rcv.requests()) == 1 })
	var p monitor.WebhookPayload
	if err := json.Unmarshal(rcv.requests()[0].body, &p); err != nil {
		t.Fatal(err)
	}
	a := p.Alert
	if p.Version != "1" || p.Event != monitor.AlertFiring || a.Monitor != "failure-rate" || a.Group["service.name"] != "checkout" {
		t.Fatalf("payload = %+v", p)
	}
	changeTime := t0.Add(time.Duration(changeAt) * time.Second)
	if d := a.Change.At.Sub(changeTime); d < -60*time.Second || d > 60*time.Second {
		t.Errorf("change dated %v, planted at %v (off by %v)", a.Change.At, changeTime, d)
	}
	if a.Change.Earliest.After(a.Change.At) || a.Change.Latest.Before(a.Change.At) {
		t.Errorf("change interval [%v, %v] does not hold its estimate %v", a.Change.Earliest, a.Change.Latest, a.Change.At)
	}
	if a.Before.N == 0 || a.Before.Hi >= a.After.Lo {
		t.Errorf("before %v and after %v overlap; the change is from 5%% to 25%%", a.Before, a.After)
	}
	if !(a.After.Lo < 0.25 && 0.25 < a.After.Hi) || !(a.Baseline.Lo < 0.05 && 0.05 < a.Baseline.Hi) {
		t.Errorf("after %v should cover 0.25, baseline %v 0.05", a.After, a.Baseline)
	}
	if len(a.Examples) == 0 {
		t.Error("no example traces")
	}
	for _, id := range a.Examples {
		var n int
		fmt.Sscanf(strings.TrimPrefix(id, "checkout-"), "%d", &n)
		if n < changeAt-60 || n > firedAt {
			t.Errorf("example %s is not from after the change (traces %d..%d)", id, changeAt, firedAt)
		}
	}
	if a.Method.Name != "bernoulli-cusum" || a.Method.ARL0 != 10000 || !(a.Method.Statistic >= a.Method.H) {
		t.Errorf("method = %+v", a.Method)
	}
	if h := rcv.requests()[0].header; h.Get("Content-Type") != "application/json" || h.Get("Idempotency-Key") != a.ID+"/firing" {
		t.Errorf("headers = %v", h)
	}
	// The rate comes back: the alert resolves, the series re-estimates its
	// baseline and does not fire again.
	resolvedAt := 0
	for i := 0; i < 3000; i++ {
		observe(tr.next(0.05))
		if resolvedAt == 0 {
			if as, _ := e.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertResolved}); len(as) == 1 {
				resolvedAt = i + 1
			}
		}
	}
	if resolvedAt == 0 {
		t.Fatal("the alert did not resolve within 3000 traces back at 5%")
	}
	t.Logf("resolved %d traces after the rate returned", resolvedAt)
	if as, _ := e.Alerts(ctx, monitor.AlertQuery{}); len(as) != 1 {
		t.Errorf("%d alerts after recovery, want the one resolved alert", len(as))
	}
	waitFor(t, "the resolved notification", func() bool { return len(rcv.requests()) == 2 })
	var r monitor.WebhookPayload
	if err := json.Unmarshal(rcv.requests()[1].body, &r); err != nil {
		t.Fatal(err)
	}
	if r.Event != monitor.AlertResolved || r.Alert.ID != a.ID || r.Alert.ResolvedAt == nil || r.Alert.Resolution != "recovered" {
		t.Errorf("resolved payload = %+v", r)
	}
	for _, m := range e.Monitors() {
		for _, s := range m.Series {
			if s.Phase == "firing" {
				t.Errorf("series %v still firing", s.Group)
			}
		}
	}
}

// Series survive a restart: a second engine on the same database resumes
// from the checkpoint (baseline, statistic, history) and fires on the
// change the first engine had started to see.
func TestEngineResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	cfg := parse(t, failureConfig("http://127.0.0.1:1/unused", ""))
	tr := newTraffic(3, "checkout")
	e1, err := monitor.New(monitor.Options{Config: cfg, Store: openStore(t, path)})
	if err != nil {
		t.Fatal(err)
	}
	for range 800 {
		if err := e1.Observe(ctx, tr.next(0.05)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e1.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := e1.Monitors()[0].Series[0]
	e2, err := monitor.New(monitor.Options{Config: cfg, Store: openStore(t, path)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	after := e2.Monitors()[0].Series[0]
	if after.Observed != 800 || after.Phase != "watching" || after.Baseline == nil || *after.Baseline != *before.Baseline ||
		after.Statistic != before.Statistic || *after.Recent != *before.Recent {
		t.Fatalf("after restart: %+v\nbefore: %+v", after, before)
	}
	for i := 0; i < 2000; i++ {
		if err := e2.Observe(ctx, tr.next(0.30)); err != nil {
			t.Fatal(err)
		}
	}
	if as, _ := e2.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertFiring}); len(as) != 1 {
		t.Fatalf("firing alerts after restart and change = %d, want 1", len(as))
	}
	// A third start sees the alert firing and does not fire it again.
	e3, _ := monitor.New(monitor.Options{Config: cfg, Store: openStore(t, path)})
	if err := e3.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if s := e3.Monitors()[0].Series[0]; s.Phase != "firing" {
		t.Errorf("after a restart the series is %q, want firing", s.Phase)
	}
	for range 500 {
		e3.Observe(ctx, tr.next(0.30))
	}
	if as, _ := e3.Alerts(ctx, monitor.AlertQuery{}); len(as) != 1 {
		t.Errorf("alerts after a restart while firing = %d, want 1 (deduplicated)", len(as))
	}
}

// A person resolves an alert for a rate that stays high: the series
// estimates the new rate as its baseline and stays quiet meanwhile.
func TestEngineManualResolve(t *testing.T) {
	ctx := context.Background()
	e, err := monitor.New(monitor.Options{Config: parse(t, failureConfig("http://127.0.0.1:1/unused", "")), Store: openStore(t, filepath.Join(t.TempDir(), "m.db"))})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTraffic(4, "checkout")
	for range 700 {
		e.Observe(ctx, tr.next(0.05))
	}
	for i := 0; i < 2000; i++ {
		e.Observe(ctx, tr.next(0.30))
	}
	as, _ := e.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertFiring})
	if len(as) != 1 {
		t.Fatalf("firing = %d, want 1", len(as))
	}
	if _, err := e.Resolve(ctx, "nope", ""); probity.ErrorCode(err) != probity.ENOTFOUND {
		t.Errorf("Resolve(unknown) = %v, want ENOTFOUND", err)
	}
	a, err := e.Resolve(ctx, as[0].ID, "new prompt; accepted")
	if err != nil || a.State != monitor.AlertResolved || a.Resolution != "manual: new prompt; accepted" {
		t.Fatalf("Resolve = %+v, %v", a, err)
	}
	for range 3000 {
		e.Observe(ctx, tr.next(0.30))
	}
	if as, _ := e.Alerts(ctx, monitor.AlertQuery{}); len(as) != 1 {
		t.Errorf("alerts after accepting the new rate = %d, want 1", len(as))
	}
	s := e.Monitors()[0].Series[0]
	if s.Baseline == nil || !(s.Baseline.Lo < 0.30 && 0.30 < s.Baseline.Hi) {
		t.Errorf("new baseline = %+v, want one around 0.30", s.Baseline)
	}
}

// Groups beyond max_groups are counted, not watched.
func TestEngineMaxGroups(t *testing.T) {
	ctx := context.Background()
	cfg := parse(t, "monitors:\n  - {name: f, kind: verdict, group_by: [user], max_groups: 3}\n")
	e, _ := monitor.New(monitor.Options{Config: cfg, Store: openStore(t, filepath.Join(t.TempDir(), "m.db"))})
	for i := range 10 {
		e.Observe(ctx, monitor.Observation{TraceID: "t", Verdict: probity.VerdictOK, Attrs: map[string]string{"user": fmt.Sprint(i)}})
	}
	m := e.Monitors()[0]
	if len(m.Series) != 3 || m.Dropped != 7 {
		t.Errorf("series = %d, dropped = %d; want 3 and 7", len(m.Series), m.Dropped)
	}
}

// FromReport takes what a monitor counts from a real analysed trace.
func TestFromReport(t *testing.T) {
	ts, err := ingest.ReadAll(context.Background(), "../examples/refund-cascade.json", ingest.Options{})
	if err != nil || len(ts) != 1 {
		t.Fatalf("ReadAll = %d traces, %v", len(ts), err)
	}
	tr := ts[0]
	r := analysis.New(analysis.Options{}).Run(tr)
	o := monitor.FromReport(tr, r)
	if o.TraceID != tr.ID || o.Verdict != probity.VerdictFail || len(o.Findings) != len(r.Findings) {
		t.Fatalf("FromReport = %+v; want trace %s, verdict fail, %d findings", o, tr.ID, len(r.Findings))
	}
	for i, f := range r.Findings {
		if o.Findings[i].Detector != f.Detector || o.Findings[i].Severity != f.Severity {
			t.Errorf("finding %d = %+v, want %s/%s", i, o.Findings[i], f.Detector, f.Severity)
		}
	}
	// An OpenTelemetry GenAI trace brings the attributes monitors group by.
	ts, err = ingest.ReadAll(context.Background(), "../examples/support-billing.otlp.json", ingest.Options{})
	if err != nil || len(ts) != 1 {
		t.Fatalf("ReadAll(otlp) = %d traces, %v", len(ts), err)
	}
	ot := monitor.FromReport(ts[0], analysis.New(analysis.Options{}).Run(ts[0]))
	want := map[string]string{"service.name": "acme-support", "gen_ai.agent.name": "support_agent", "gen_ai.request.model": "gpt-4o"}
	for k, v := range want {
		if ot.Attrs[k] != v {
			t.Errorf("otlp Attrs[%s] = %q, want %q", k, ot.Attrs[k], v)
		}
	}
	if ot.Latency <= 0 || ot.Time.IsZero() {
		t.Errorf("otlp latency %v, time %v; want both from the spans", ot.Latency, ot.Time)
	}
	// The verdict monitor and a detector monitor count it.
	cfg := parse(t, "monitors:\n  - {name: f, kind: verdict}\n  - {name: d, kind: detector, detectors: ['"+r.Findings[0].Detector+"'], min_severity: low}\n")
	e, _ := monitor.New(monitor.Options{Config: cfg, Store: openStore(t, filepath.Join(t.TempDir(), "m.db"))})
	if err := e.Observe(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, m := range e.Monitors() {
		if len(m.Series) != 1 || m.Series[0].Recent == nil || m.Series[0].Recent.Events != 1 {
			t.Errorf("monitor %s: series %+v, want one event counted", m.Name, m.Series)
		}
	}
}

// A latency monitor turns runs slower than the baseline's 95th percentile
// into events; runs getting three times slower fire it. Its status is
// valid JSON before and after it has a threshold.
func TestEngineLatencyQuantile(t *testing.T) {
	ctx := context.Background()
	cfg := parse(t, "monitors:\n  - {name: slow, kind: latency, warmup: 300}\n")
	e, _ := monitor.New(monitor.Options{Config: cfg, Store: openStore(t, filepath.Join(t.TempDir(), "m.db"))})
	rng := rand.New(rand.NewPCG(5, 5))
	obs := func(i int, scale float64) monitor.Observation {
		return monitor.Observation{TraceID: fmt.Sprintf("t%d", i), Time: t0.Add(time.Duration(i) * time.Second),
			Attrs: map[string]string{"service.name": "api"}, Latency: time.Duration(rng.ExpFloat64() * scale * float64(time.Second))}
	}
	e.Observe(ctx, obs(0, 1))
	if _, err := json.Marshal(e.Monitors()); err != nil {
		t.Fatalf("Monitors() during warm-up is not JSON: %v", err)
	}
	for i := 1; i < 1000; i++ {
		e.Observe(ctx, obs(i, 1))
	}
	st := e.Monitors()[0].Series[0]
	if st.EventThreshold == nil || *st.EventThreshold < 2 || *st.EventThreshold > 4.5 || st.Recent == nil {
		t.Fatalf("status = %+v; want a threshold near the 95th percentile of Exp(1 s), ln 20 ≈ 3 s", st)
	}
	for i := 1000; i < 3000; i++ {
		e.Observe(ctx, obs(i, 3))
	}
	as, _ := e.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertFiring})
	if len(as) != 1 {
		t.Fatalf("firing alerts = %d, want 1", len(as))
	}
	if a := as[0]; a.Method.Threshold == nil || !strings.HasPrefix(a.Event, "latency above ") || a.After.Rate < 0.3 {
		t.Errorf("alert = %+v", a)
	}
}

// The engine keeps a series' history as time buckets: every observation
// is counted in exactly one bucket across checkpoints and a restart in
// the middle of a bucket, the buckets show the planted rise, and
// History dates the alert's changepoint inside the buckets.
func TestEngineHistory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	cfg := parse(t, failureConfig("http://127.0.0.1:1/unused", ""))
	open := func() *monitor.Engine {
		e, err := monitor.New(monitor.Options{Config: cfg, Store: openStore(t, path), BucketWidth: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return e
	}
	tr := newTraffic(7, "checkout")
	e := open()
	feed := func(n int, rate float64) {
		for i := range n {
			if err := e.Observe(ctx, tr.next(rate)); err != nil {
				t.Fatal(err)
			}
			if i%170 == 0 { // checkpoints fall inside buckets
				if err := e.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := e.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	feed(1000, 0.05)
	e = open() // a restart 16m40s in: inside the fourth bucket
	feed(1000, 0.05)
	changeAt := t0.Add(time.Duration(tr.n+1) * time.Second)
	feed(1500, 0.25)
	total := tr.n

	hs, err := monitor.History(ctx, cfg, openStore(t, path), monitor.PointQuery{Monitor: "failure-rate"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].Group["service.name"] != "checkout" {
		t.Fatalf("History = %d series, want the one of checkout: %+v", len(hs), hs)
	}
	h := hs[0]
	n, before, after := 0, [2]int{}, [2]int{}
	for i, p := range h.Points {
		n += p.Rate.N
		if p.Start.Sub(t0)%(5*time.Minute) != 0 || p.Rate.N > 300 || p.End.Before(p.Start) || p.End.Sub(p.Start) >= 5*time.Minute {
			t.Errorf("point %d: start %s end %s n %d; want a 5-minute bucket of at most 300 observations", i, p.Start, p.End, p.Rate.N)
		}
		if p.Rate.Lo > p.Rate.Rate || p.Rate.Rate > p.Rate.Hi {
			t.Errorf("point %d: rate %v outside its interval", i, p.Rate)
		}
		switch {
		case !p.End.Before(changeAt) && !p.Start.Before(changeAt):
			after[0], after[1] = after[0]+p.Rate.Events, after[1]+p.Rate.N
		case p.End.Before(changeAt):
			before[0], before[1] = before[0]+p.Rate.Events, before[1]+p.Rate.N
		}
	}
	if n != total {
		t.Errorf("points count %d observations, want %d: each exactly once", n, total)
	}
	if want := (total + 299) / 300; len(h.Points) != want {
		t.Errorf("%d points, want %d five-minute buckets", len(h.Points), want)
	}
	rb, ra := float64(before[0])/float64(before[1]), float64(after[0])/float64(after[1])
	if rb > 0.08 || ra < 0.2 {
		t.Errorf("pooled rate before the change %.3f, after %.3f; want about 0.05 and 0.25", rb, ra)
	}
	if h.Points[0].Baseline != nil || h.Points[len(h.Points)-1].Baseline == nil {
		t.Errorf("baseline on the first point %v, the last %v; want none during the warm-up, then one", h.Points[0].Baseline, h.Points[len(h.Points)-1].Baseline)
	}
	if len(h.Changepoints) != 1 {
		t.Fatalf("%d changepoints, want 1", len(h.Changepoints))
	}
	c := h.Changepoints[0]
	if c.At.Before(changeAt.Add(-10*time.Minute)) || c.At.After(c.FiredAt) || c.Earliest.After(c.At) || c.Latest.Before(c.At) || len(c.Examples) == 0 {
		t.Errorf("changepoint %+v; want it near %s, before the alarm, inside its interval, with examples", c, changeAt)
	}
	if _, err := monitor.History(ctx, cfg, openStore(t, path), monitor.PointQuery{Monitor: "nope"}); probity.ErrorCode(err) != probity.ENOTFOUND {
		t.Errorf("History of an unknown monitor: %v, want ENOTFOUND", err)
	}
}
