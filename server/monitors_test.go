package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/probity/probity/monitor"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store/sqlite"
)

// hook is a webhook receiver on loopback that records what it accepted
// and answers with status (503 until told otherwise).
type hook struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []monitor.WebhookPayload
	tries  atomic.Int32
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.status.Store(http.StatusServiceUnavailable)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.tries.Add(1)
		b, _ := io.ReadAll(r.Body)
		st := int(h.status.Load())
		if st == http.StatusOK {
			var p monitor.WebhookPayload
			if err := json.Unmarshal(b, &p); err != nil {
				t.Errorf("webhook body is not the documented payload: %v: %s", err, b)
			}
			h.mu.Lock()
			h.got = append(h.got, p)
			h.mu.Unlock()
		}
		w.WriteHeader(st)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) payloads() []monitor.WebhookPayload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// TestMonitorsAlertSurvivesRestart runs the monitors inside the server: a
// stream of failing traces raises a failure-rate alert, which is in the
// API at once; its webhook is refused while the server runs, the server
// stops, and a new server on the same database delivers it.
func TestMonitorsAlertSurvivesRestart(t *testing.T) {
	h := newHook(t)
	cfg, err := monitor.Parse("monitors.yaml", []byte(fmt.Sprintf(`
monitors:
  - name: failure-rate
    kind: verdict
    verdicts: [fail]
    baseline: 0.05
    group_by: [service.name]
notifiers:
  - name: ops
    type: webhook
    url: %s/hook
delivery:
  initial_backoff: 50ms
  max_backoff: 100ms
`, h.srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "probity.db")
	run := func() (*testServer, *sqlite.DB) {
		db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		ts := start(t, db, func(o *server.Options) {
			o.MonitorState, o.Monitors = db.MonitorState(), cfg
		})
		return ts, db
	}
	ts, db := run()

	// Copies of the refund cascade under new trace ids: every one fails.
	req := readRequest(t, exampleFiles[0])
	const n = 12
	var ids []string
	for k := range n {
		r := proto.Clone(req).(*coltrace.ExportTraceServiceRequest)
		tid := syntheticTraceID(9000 + k)
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					sp.TraceId = tid
				}
			}
		}
		ids = append(ids, fmt.Sprintf("%x", tid))
		b, _ := proto.Marshal(r)
		if st, _, body := post(t, "http://"+ts.OTLPHTTPAddr()+"/v1/traces", "application/x-protobuf", b, nil); st != 200 {
			t.Fatalf("export %d: status %d: %s", k, st, body)
		}
	}
	waitAnalysed(t, ts, n, 30*time.Second)

	var alerts struct {
		Alerts []monitor.Alert `json:"alerts"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(alerts.Alerts) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		getJSON(t, ts.api("/api/v1/alerts?state=firing"), &alerts)
	}
	if len(alerts.Alerts) != 1 {
		t.Fatalf("firing alerts after %d failing traces = %+v, want one", n, alerts.Alerts)
	}
	a := alerts.Alerts[0]
	if a.Monitor != "failure-rate" || a.Baseline.Rate != 0.05 || len(a.Examples) == 0 || !slices.Contains(ids, a.Examples[0]) {
		t.Errorf("alert = %+v; want failure-rate against the 0.05 baseline, quoting pushed traces", a)
	}
	var mons struct {
		Monitors []monitor.MonitorStatus `json:"monitors"`
	}
	getJSON(t, ts.api("/api/v1/monitors"), &mons)
	if len(mons.Monitors) != 1 || len(mons.Monitors[0].Series) != 1 || mons.Monitors[0].Series[0].Phase != "firing" {
		t.Errorf("monitors = %+v, want one series, firing", mons.Monitors)
	}
	checkSeries(t, ts, a, n)
	for h.tries.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if h.tries.Load() == 0 {
		t.Fatal("the webhook was never tried")
	}

	// Stop; the notification is still owed. A new server delivers it.
	ts.Stop()
	if err := <-ts.done; err != nil {
		t.Fatal(err)
	}
	ts.done <- nil // the cleanup of start reads it
	db.Close()
	h.status.Store(http.StatusOK)
	ts2, db2 := run()
	deadline = time.Now().Add(20 * time.Second)
	for len(h.payloads()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := h.payloads()
	if len(got) != 1 || got[0].Event != monitor.AlertFiring || got[0].Alert == nil || got[0].Alert.ID != a.ID {
		ds, _ := db2.MonitorState().Deliveries(context.Background(), "", 10)
		var outbox []string
		for _, d := range ds {
			outbox = append(outbox, fmt.Sprintf("%s %s: %s after %d attempts, next at %v", d.AlertID, d.Event, d.State, d.Attempts, d.NextAt))
		}
		t.Fatalf("delivered after restart = %+v, want the firing notice of %s once; outbox: %q", got, a.ID, outbox)
	}
	// Feedback reaches the monitors through the same queue.
	if st, _, body := post(t, ts2.api("/api/v1/traces/"+ids[0]+"/feedback"), "application/json", []byte(`{"label":"incorrect"}`), nil); st != http.StatusCreated {
		t.Fatalf("feedback: %d %s", st, body)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		left, err := db2.MonitorState().Pending(context.Background(), 10)
		if err == nil && len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feedback observation was never counted: %d queued, %v", len(left), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMonitorsCountEvalRunsOnce feeds a pushed eval run's trials to an
// eval pass-rate monitor; pushing the same file again counts nothing.
func TestMonitorsCountEvalRunsOnce(t *testing.T) {
	cfg, err := monitor.Parse("monitors.yaml", []byte(`
monitors:
  - name: eval-pass-rate
    kind: eval
    baseline: 0.05
    group_by: [eval.suite]
`))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "probity.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ts := start(t, db, func(o *server.Options) { o.MonitorState, o.Monitors = db.MonitorState(), cfg })
	run := "{\"type\":\"run\",\"version\":1,\"suite\":\"refunds\",\"started\":\"2026-03-01T12:00:00Z\",\"trials\":12}\n"
	for i := range 12 {
		run += fmt.Sprintf("{\"type\":\"trial\",\"case\":\"c%d\",\"trial\":0,\"status\":\"fail\"}\n", i)
	}
	run += "{\"type\":\"trial\",\"case\":\"c0\",\"trial\":1,\"status\":\"error\"}\n"
	for range 2 {
		if st, _, body := post(t, ts.api("/api/v1/eval-runs"), "application/x-ndjson", []byte(run), nil); st != http.StatusCreated {
			t.Fatalf("push eval run: %d %s", st, body)
		}
	}
	var mons struct {
		Monitors []monitor.MonitorStatus `json:"monitors"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		getJSON(t, ts.api("/api/v1/monitors"), &mons)
		// The leader counts the batch one observation at a time: wait for
		// all twelve, then make sure nothing more arrives.
		if len(mons.Monitors) == 1 && len(mons.Monitors[0].Series) == 1 && mons.Monitors[0].Series[0].Observed >= 12 {
			time.Sleep(300 * time.Millisecond)
			getJSON(t, ts.api("/api/v1/monitors"), &mons)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitors = %+v: the eval trials were never counted", mons.Monitors)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := mons.Monitors[0].Series[0]
	if s.Observed != 12 || s.Group[monitor.AttrSuite] != "refunds" || s.Phase != "firing" {
		t.Errorf("series = %+v; want 12 trials of suite refunds (errors and the second push not counted), firing", s)
	}
}

// checkSeries reads the monitor's history through the API: the pushed
// traces counted in its points, the alert's changepoint, and bad
// requests answered with the error's status.
func checkSeries(t *testing.T, ts *testServer, a monitor.Alert, n int) {
	t.Helper()
	var got struct {
		Monitor string                  `json:"monitor"`
		Series  []monitor.SeriesHistory `json:"series"`
	}
	group := ""
	for k, v := range a.Group {
		group = k + "=" + v
	}
	path := "/api/v1/monitors/failure-rate/series?since=2000-01-01T00:00:00Z&group=" + url.QueryEscape(group)
	// The points are written at the leader's checkpoint after the batch.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st := getJSON(t, ts.api(path), &got); st != http.StatusOK {
			t.Fatalf("GET %s: %d", path, st)
		}
		counted := 0
		if len(got.Series) == 1 {
			for _, p := range got.Series[0].Points {
				counted += p.Rate.N
			}
		}
		if counted == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.Monitor != "failure-rate" || len(got.Series) != 1 || got.Series[0].GroupKey != a.GroupKey {
		t.Fatalf("series = %+v; want the alert's group %s", got, a.GroupKey)
	}
	sh := got.Series[0]
	events, counted := 0, 0
	for _, p := range sh.Points {
		events, counted = events+p.Rate.Events, counted+p.Rate.N
		if p.Baseline == nil || p.Baseline.Rate != 0.05 {
			t.Errorf("point %+v: want the fixed 0.05 baseline", p)
		}
	}
	if counted != n || events != n {
		t.Errorf("points count %d events of %d traces, want %d of %d (every pushed trace fails)", events, counted, n, n)
	}
	if len(sh.Changepoints) != 1 || sh.Changepoints[0].AlertID != a.ID || !sh.Changepoints[0].At.Equal(a.Change.At) {
		t.Errorf("changepoints = %+v, want the one of alert %s at %s", sh.Changepoints, a.ID, a.Change.At)
	}
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/api/v1/monitors/no-such/series", http.StatusNotFound},
		{"/api/v1/monitors/failure-rate/series?since=yesterday", http.StatusBadRequest},
		{"/api/v1/monitors/failure-rate/series?group=nonsense", http.StatusBadRequest},
		{"/api/v1/monitors/failure-rate/series?group=service.name%3Dnobody", http.StatusOK},
	} {
		var body struct {
			Series []monitor.SeriesHistory `json:"series"`
		}
		if st := getJSON(t, ts.api(tt.path), &body); st != tt.want || st == http.StatusOK && len(body.Series) != 0 {
			t.Errorf("GET %s = %d with %d series, want %d and none", tt.path, st, len(body.Series), tt.want)
		}
	}
}

// TestRetentionSweepsMonitorPoints: the retention sweep deletes the
// monitors' history older than --retain, as it does traces, and keeps the
// rest.
func TestRetentionSweepsMonitorPoints(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "probity.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now().UTC().Truncate(time.Minute)
	pt := func(start time.Time) monitor.Point {
		return monitor.Point{Monitor: "failure-rate", Group: `{"service.name":"a"}`, Start: start, End: start, Rate: monitor.Rate{Rate: 0.5, Lo: 0.1, Hi: 0.9, Events: 1, N: 2}}
	}
	ms := db.MonitorState()
	if err := ms.Apply(t.Context(), monitor.Change{Points: []monitor.Point{pt(now.Add(-48 * time.Hour)), pt(now.Add(-25 * time.Hour)), pt(now.Add(-time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	start(t, db, func(o *server.Options) {
		o.MonitorState, o.Retain, o.SweepEvery = ms, 24*time.Hour, 20*time.Millisecond
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps, err := ms.Points(t.Context(), monitor.PointQuery{Monitor: "failure-rate"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 1 {
			if !ps[0].Start.Equal(now.Add(-time.Hour)) {
				t.Errorf("the sweep kept %s, want the point of an hour ago", ps[0].Start)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the sweep %d points remain, want 1 (the two older than 24h deleted)", len(ps))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
