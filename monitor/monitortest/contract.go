// Package monitortest is the contract suite every monitor.Store (and
// monitor.Inbox) must pass: the server's stores, SQLite and PostgreSQL,
// run the same tests, so the engine behaves the same on each.
package monitortest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/monitor"
)

// Run runs the contract suite. fresh makes new, empty storage for one test
// and returns a function that opens it; calling that function again opens
// the same storage anew, as a restarted process would. The caller closes
// what it opens (t.Cleanup).
func Run(t *testing.T, fresh func(t *testing.T) func() monitor.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, open func() monitor.Store)
	}{
		{"SeriesSurviveReopen", testSeries},
		{"AlertsReplaceByIDAndFilter", testAlerts},
		{"ClaimOnePerKeyInOrder", testClaimOrder},
		{"ClaimLeaseHidesRows", testClaimLease},
		{"RetrySurvivesReopen", testRetry},
		{"FailedIsNeverClaimed", testFailed},
		{"PointsReplaceFilterAndSweep", testPoints},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, fresh(t)) })
	}
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func apply(t *testing.T, s monitor.Store, c monitor.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), c); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func testSeries(t *testing.T, open func() monitor.Store) {
	ctx := context.Background()
	s := open()
	a := monitor.SeriesRecord{Monitor: "failure-rate", Group: `{"service.name":"a"}`, Data: []byte(`{"v":1,"n":1}`), UpdatedAt: t0}
	b := monitor.SeriesRecord{Monitor: "failure-rate", Group: `{"service.name":"b"}`, Data: []byte(`{"v":1,"n":7}`), UpdatedAt: t0}
	apply(t, s, monitor.Change{Series: []monitor.SeriesRecord{a, b}})
	a.Data, a.UpdatedAt = []byte(`{"v":1,"n":2}`), t0.Add(time.Second)
	apply(t, s, monitor.Change{Series: []monitor.SeriesRecord{a}})
	got, err := open().LoadSeries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []monitor.SeriesRecord{a, b}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y time.Time) bool { return x.Equal(y) })); diff != "" {
		t.Errorf("LoadSeries after reopen (-want +got):\n%s", diff)
	}
}

func alert(id, mon, state string, fired time.Time) monitor.Alert {
	return monitor.Alert{ID: id, Monitor: mon, Kind: "verdict", State: state, FiredAt: fired, Group: map[string]string{"service.name": "a"},
		Examples: []string{"t1"}, Before: monitor.Rate{Rate: 0.05, Lo: 0.04, Hi: 0.06, Events: 5, N: 100}}
}

func testAlerts(t *testing.T, open func() monitor.Store) {
	ctx := context.Background()
	s := open()
	apply(t, s, monitor.Change{Alerts: []monitor.Alert{
		alert("a1", "failure-rate", monitor.AlertFiring, t0),
		alert("a2", "cost-per-run", monitor.AlertFiring, t0.Add(time.Minute)),
		alert("a3", "failure-rate", monitor.AlertFiring, t0.Add(2*time.Minute)),
	}})
	res := alert("a1", "failure-rate", monitor.AlertResolved, t0)
	at := t0.Add(time.Hour)
	res.ResolvedAt, res.Resolution = &at, "recovered"
	apply(t, s, monitor.Change{Alerts: []monitor.Alert{res}})
	s = open()
	ids := func(q monitor.AlertQuery) []string {
		as, err := s.Alerts(ctx, q)
		if err != nil {
			t.Fatalf("Alerts(%+v): %v", q, err)
		}
		out := []string{}
		for _, a := range as {
			out = append(out, a.ID+":"+a.State)
		}
		return out
	}
	for _, tt := range []struct {
		q    monitor.AlertQuery
		want []string
	}{
		{monitor.AlertQuery{}, []string{"a3:firing", "a2:firing", "a1:resolved"}},
		{monitor.AlertQuery{State: monitor.AlertFiring}, []string{"a3:firing", "a2:firing"}},
		{monitor.AlertQuery{State: monitor.AlertResolved}, []string{"a1:resolved"}},
		{monitor.AlertQuery{Monitor: "failure-rate"}, []string{"a3:firing", "a1:resolved"}},
		{monitor.AlertQuery{Limit: 1}, []string{"a3:firing"}},
	} {
		if got := ids(tt.q); !cmp.Equal(got, tt.want) {
			t.Errorf("Alerts(%+v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	as, _ := s.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertResolved})
	if len(as) != 1 || as[0].ResolvedAt == nil || !as[0].ResolvedAt.Equal(at) || as[0].Resolution != "recovered" || as[0].Before.N != 100 {
		t.Errorf("resolved alert did not round-trip: %+v", as)
	}
}

func delivery(key, event string, at time.Time) monitor.Delivery {
	return monitor.Delivery{Key: key, Notifier: "ops", AlertID: key, Event: event, ContentType: "application/json",
		Body: []byte(`{"event":"` + event + `"}`), State: monitor.DeliveryPending, NextAt: at, CreatedAt: at}
}

func claim(t *testing.T, s monitor.Store, now time.Time) []string {
	t.Helper()
	ds, err := s.Claim(context.Background(), now, time.Minute, 10)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	out := []string{}
	for _, d := range ds {
		out = append(out, d.Key+":"+d.Event)
	}
	return out
}

func testClaimOrder(t *testing.T, open func() monitor.Store) {
	ctx := context.Background()
	s := open()
	apply(t, s, monitor.Change{Deliveries: []monitor.Delivery{delivery("ops/a", "firing", t0), delivery("ops/b", "firing", t0)}})
	apply(t, s, monitor.Change{Deliveries: []monitor.Delivery{delivery("ops/a", "resolved", t0)}})
	if got, want := claim(t, s, t0), []string{"ops/a:firing", "ops/b:firing"}; !cmp.Equal(got, want) {
		t.Fatalf("first claim = %v, want %v (one per key, the oldest)", got, want)
	}
	ds, _ := s.Deliveries(ctx, monitor.DeliveryPending, 10)
	for _, d := range ds {
		if d.Key == "ops/a" && d.Event == "firing" {
			if err := s.Settle(ctx, d.ID, monitor.Settlement{State: monitor.DeliveryDelivered, Attempts: 1, At: t0}); err != nil {
				t.Fatal(err)
			}
			if string(d.Body) != `{"event":"firing"}` || d.ContentType != "application/json" || d.Notifier != "ops" {
				t.Errorf("delivery did not round-trip: %+v", d)
			}
		}
	}
	// ops/b is still leased; ops/a's resolved notice is next.
	if got, want := claim(t, s, t0.Add(time.Second)), []string{"ops/a:resolved"}; !cmp.Equal(got, want) {
		t.Errorf("claim after the firing notice was delivered = %v, want %v", got, want)
	}
}

func testClaimLease(t *testing.T, open func() monitor.Store) {
	s := open()
	apply(t, s, monitor.Change{Deliveries: []monitor.Delivery{delivery("ops/a", "firing", t0)}})
	if got := claim(t, s, t0.Add(-time.Second)); len(got) != 0 {
		t.Errorf("claim before NextAt = %v, want none", got)
	}
	if got := claim(t, s, t0); len(got) != 1 {
		t.Fatalf("claim at NextAt = %v, want one", got)
	}
	if got := claim(t, open(), t0.Add(30*time.Second)); len(got) != 0 {
		t.Errorf("claim within the lease = %v, want none", got)
	}
	if got := claim(t, open(), t0.Add(61*time.Second)); len(got) != 1 {
		t.Errorf("claim after the lease expired = %v, want the delivery again", got)
	}
	next, ok, err := s.NextDue(context.Background())
	if err != nil || !ok || !next.Equal(t0.Add(121*time.Second)) {
		t.Errorf("NextDue = %v, %v, %v; want the end of the second lease %v", next, ok, err, t0.Add(121*time.Second))
	}
}

func testRetry(t *testing.T, open func() monitor.Store) {
	ctx := context.Background()
	s := open()
	if _, ok, err := s.NextDue(ctx); ok || err != nil {
		t.Errorf("NextDue on an empty outbox = %v, %v; want false, nil", ok, err)
	}
	apply(t, s, monitor.Change{Deliveries: []monitor.Delivery{delivery("ops/a", "firing", t0)}})
	ds, err := s.Claim(ctx, t0, time.Minute, 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Claim = %v, %v", ds, err)
	}
	retryAt := t0.Add(8 * time.Second)
	if err := s.Settle(ctx, ds[0].ID, monitor.Settlement{State: monitor.DeliveryPending, Attempts: 1, NextAt: retryAt, At: t0, Error: "503"}); err != nil {
		t.Fatal(err)
	}
	s = open()
	if next, ok, _ := s.NextDue(ctx); !ok || !next.Equal(retryAt) {
		t.Errorf("NextDue after a retry was scheduled = %v, %v; want %v", next, ok, retryAt)
	}
	if got := claim(t, s, retryAt.Add(-time.Millisecond)); len(got) != 0 {
		t.Errorf("claim before the retry is due = %v", got)
	}
	ds, err = s.Claim(ctx, retryAt, time.Minute, 10)
	if err != nil || len(ds) != 1 || ds[0].Attempts != 1 || ds[0].LastError != "503" || !ds[0].CreatedAt.Equal(t0) {
		t.Fatalf("Claim at the retry time = %+v, %v; want the delivery with 1 attempt, its error and creation time", ds, err)
	}
	if err := s.Settle(ctx, ds[0].ID, monitor.Settlement{State: monitor.DeliveryDelivered, Attempts: 2, At: retryAt}); err != nil {
		t.Fatal(err)
	}
	done, _ := open().Deliveries(ctx, monitor.DeliveryDelivered, 10)
	if len(done) != 1 || done[0].Attempts != 2 || !done[0].SettledAt.Equal(retryAt) {
		t.Errorf("delivered = %+v; want one delivery after 2 attempts settled at %v", done, retryAt)
	}
	if _, ok, _ := s.NextDue(ctx); ok {
		t.Error("NextDue reports a pending delivery after everything was delivered")
	}
}

func testFailed(t *testing.T, open func() monitor.Store) {
	ctx := context.Background()
	s := open()
	apply(t, s, monitor.Change{Deliveries: []monitor.Delivery{delivery("ops/a", "firing", t0), delivery("ops/a", "resolved", t0)}})
	ds, _ := s.Claim(ctx, t0, time.Minute, 10)
	if len(ds) != 1 {
		t.Fatalf("Claim = %d deliveries, want 1", len(ds))
	}
	if err := s.Settle(ctx, ds[0].ID, monitor.Settlement{State: monitor.DeliveryFailed, Attempts: 1, At: t0, Error: "400 Bad Request"}); err != nil {
		t.Fatal(err)
	}
	// A failed firing notice no longer holds back its resolved one.
	if got, want := claim(t, s, t0), []string{"ops/a:resolved"}; !cmp.Equal(got, want) {
		t.Errorf("claim after a failure = %v, want %v", got, want)
	}
	failed, _ := s.Deliveries(ctx, monitor.DeliveryFailed, 10)
	if len(failed) != 1 || failed[0].LastError != "400 Bad Request" {
		t.Errorf("failed deliveries = %+v", failed)
	}
	if err := s.Settle(ctx, 999999, monitor.Settlement{State: monitor.DeliveryDelivered}); err == nil {
		t.Error("Settle of an unknown id succeeded; want an error")
	}
}

// RunInbox is the contract suite of a monitor.Inbox: oldest first, Ack by
// ID, and what was enqueued survives a reopen. fresh is as for Run.
func RunInbox(t *testing.T, fresh func(t *testing.T) func() monitor.Inbox) {
	t.Run("InboxOrderAckReopen", func(t *testing.T) {
		ctx := context.Background()
		open := fresh(t)
		in := open()
		cost := 0.25
		obs := []monitor.Observation{
			{TraceID: "t1", Time: t0, Attrs: map[string]string{"service.name": "a"}, Verdict: probity.VerdictFail,
				Findings: []monitor.Finding{{Detector: "cascade", Severity: probity.SeverityHigh}}, CostUSD: &cost, Latency: time.Second},
			{TraceID: "t2", Time: t0.Add(time.Second), Feedback: &monitor.Feedback{Label: monitor.FeedbackIncorrect}},
		}
		if err := in.Enqueue(ctx, obs[:1]); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		if err := in.Enqueue(ctx, obs[1:]); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		in = open()
		got, err := in.Pending(ctx, 10)
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		if len(got) != 2 || got[0].ID >= got[1].ID {
			t.Fatalf("Pending after reopen = %+v, want 2 in increasing ID order", got)
		}
		for i := range got {
			if diff := cmp.Diff(obs[i], got[i].Observation, cmp.Comparer(func(x, y time.Time) bool { return x.Equal(y) })); diff != "" {
				t.Errorf("observation %d did not round-trip (-want +got):\n%s", i, diff)
			}
		}
		if lim, _ := in.Pending(ctx, 1); len(lim) != 1 || lim[0].TraceID != "t1" {
			t.Errorf("Pending(limit 1) = %+v, want only t1", lim)
		}
		if err := in.Ack(ctx, []int64{got[0].ID}); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		if rest, _ := open().Pending(ctx, 10); len(rest) != 1 || rest[0].TraceID != "t2" {
			t.Errorf("Pending after Ack(first) = %+v, want only t2", rest)
		}
	})
}

func point(group string, start time.Time, events, n int, base *monitor.Rate) monitor.Point {
	return monitor.Point{Monitor: "failure-rate", Group: group, Start: start, End: start.Add(time.Minute),
		Rate: monitor.Rate{Rate: float64(events) / float64(n), Lo: 0.01, Hi: 0.5, Events: events, N: n}, Baseline: base}
}

// testPoints: a point is replaced by its (monitor, group, start), read
// back oldest first with the newest kept under a limit, filtered by
// group and time, and swept by its start.
func testPoints(t *testing.T, open func() monitor.Store) {
	ctx := context.Background()
	s := open()
	ga, gb := `{"service.name":"a"}`, `{"service.name":"b"}`
	base := &monitor.Rate{Rate: 0.05, Lo: 0.03, Hi: 0.08, Events: 25, N: 500}
	apply(t, s, monitor.Change{Points: []monitor.Point{
		point(ga, t0, 1, 10, nil),
		point(ga, t0.Add(5*time.Minute), 2, 10, base),
		point(gb, t0.Add(5*time.Minute), 0, 3, base),
	}})
	// The open bucket is written again with its counts so far.
	apply(t, s, monitor.Change{Points: []monitor.Point{point(ga, t0.Add(5*time.Minute), 4, 20, base), point(ga, t0.Add(10*time.Minute), 1, 1, base)}})
	s = open()
	type row struct {
		Group     string
		Start     time.Time
		Events, N int
		Base      bool
	}
	read := func(q monitor.PointQuery) []row {
		t.Helper()
		ps, err := s.Points(ctx, q)
		if err != nil {
			t.Fatalf("Points(%+v): %v", q, err)
		}
		out := []row{}
		for _, p := range ps {
			if p.Monitor != "failure-rate" {
				t.Errorf("Points(%+v): monitor %q", q, p.Monitor)
			}
			if p.Baseline != nil && *p.Baseline != *base {
				t.Errorf("Points(%+v): baseline %+v, want %+v", q, *p.Baseline, *base)
			}
			out = append(out, row{p.Group, p.Start.UTC(), p.Rate.Events, p.Rate.N, p.Baseline != nil})
		}
		return out
	}
	for _, tt := range []struct {
		q    monitor.PointQuery
		want []row
	}{
		{monitor.PointQuery{Monitor: "failure-rate", Group: ga}, []row{{ga, t0, 1, 10, false}, {ga, t0.Add(5 * time.Minute), 4, 20, true}, {ga, t0.Add(10 * time.Minute), 1, 1, true}}},
		{monitor.PointQuery{Monitor: "failure-rate", Group: ga, Limit: 2}, []row{{ga, t0.Add(5 * time.Minute), 4, 20, true}, {ga, t0.Add(10 * time.Minute), 1, 1, true}}},
		{monitor.PointQuery{Monitor: "failure-rate", Since: t0.Add(time.Minute)}, []row{{ga, t0.Add(5 * time.Minute), 4, 20, true}, {gb, t0.Add(5 * time.Minute), 0, 3, true}, {ga, t0.Add(10 * time.Minute), 1, 1, true}}},
		{monitor.PointQuery{Monitor: "cost-per-run"}, []row{}},
	} {
		if diff := cmp.Diff(tt.want, read(tt.q)); diff != "" {
			t.Errorf("Points(%+v) (-want +got):\n%s", tt.q, diff)
		}
	}
	ps, _ := s.Points(ctx, monitor.PointQuery{Monitor: "failure-rate", Group: ga, Limit: 1})
	if len(ps) != 1 || !ps[0].End.Equal(t0.Add(11*time.Minute)) || ps[0].Rate.Lo != 0.01 || ps[0].Rate.Hi != 0.5 || ps[0].Rate.Rate != 1 {
		t.Errorf("point did not round-trip: %+v", ps)
	}
	n, err := s.DeletePointsBefore(ctx, t0.Add(5*time.Minute))
	if err != nil || n != 1 {
		t.Errorf("DeletePointsBefore = %d, %v; want 1 deleted", n, err)
	}
	if got := read(monitor.PointQuery{Monitor: "failure-rate"}); len(got) != 3 || !got[0].Start.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("after the sweep: %+v, want the three points from t0+5m", got)
	}
}
