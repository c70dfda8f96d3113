// Package storetest is the contract every store.Store backend passes: one
// suite, run against SQLite always and against PostgreSQL wherever one is
// reachable (in CI, always). A backend's test calls Run with a function
// that makes a fresh, empty database and returns an opener for it; the
// suite opens it more than once where it plays several processes sharing
// one database.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/probity/probity"
	"github.com/probity/probity/store"
)

// Clock is a settable clock shared by the handles of one test database.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Opener opens a handle to one test database, with clock as its clock.
// Handles opened from one Opener share the database, as processes would.
type Opener func(t *testing.T, clock *Clock) store.Store

// NewDB makes a fresh, empty database and returns its Opener.
type NewDB func(t *testing.T) Opener

// Run runs the contract suite.
func Run(t *testing.T, newDB NewDB) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"AddSpansIdempotent", testAddSpansIdempotent},
		{"AddSpansInvalid", testAddSpansInvalid},
		{"SpansOrderAndBytes", testSpansOrderAndBytes},
		{"ReadyAfterIdle", testReadyAfterIdle},
		{"OrphanTrace", testOrphanTrace},
		{"LeaseExpiry", testLeaseExpiry},
		{"LateSpansReopen", testLateSpansReopen},
		{"SpansDuringAnalysis", testSpansDuringAnalysis},
		{"Release", testRelease},
		{"SaveAnalysesBatch", testSaveBatch},
		{"ConcurrentClaimsAcrossHandles", testConcurrentClaims},
		{"ConcurrentAddSpansAcrossHandles", testConcurrentAdd},
		{"AnalysisRoundTrip", testAnalysisRoundTrip},
		{"AnalysisError", testAnalysisError},
		{"ListFiltersAndPages", testList},
		{"ListInvalid", testListInvalid},
		{"Feedback", testFeedback},
		{"EvalRuns", testEvalRuns},
		{"Lock", testLock},
		{"DeleteBefore", testDeleteBefore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newDB(t))
		})
	}
}

var ctx = context.Background()

// tid and sid make ids from small numbers.
// Trace ids do not sort like the traces' start times, so a list that
// orders by id alone fails.
func tid(n int) string { return fmt.Sprintf("%016x%016x", uint64(n)*0x9e3779b97f4a7c15, n+1) }
func sid(n int) string { return fmt.Sprintf("%016x", n+1) }

var resA = []byte("resource A: service.name=shop")

// span makes a span of trace tr with id n, starting at second n after
// base; parent -1 makes it a root.
func span(tr, n, parent int, base time.Time) store.Span {
	s := store.Span{
		TraceID: tid(tr), SpanID: sid(n),
		Start: base.Add(time.Duration(n) * time.Second), End: base.Add(time.Duration(n)*time.Second + 500*time.Millisecond),
		Service: "shop", Resource: resA, Data: []byte(fmt.Sprintf("span %d of trace %d", n, tr)),
	}
	if parent >= 0 {
		s.ParentID = sid(parent)
	}
	return s
}

var base = time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)

func code(err error) string { return probity.ErrorCode(err) }

func add(t *testing.T, s store.Store, spans ...store.Span) store.AddResult {
	t.Helper()
	r, err := s.AddSpans(ctx, spans)
	if err != nil {
		t.Fatalf("AddSpans: %v", err)
	}
	return r
}

var opts = store.ClaimOptions{Idle: 10 * time.Second, OrphanIdle: time.Minute, Lease: 30 * time.Second, Limit: 100}

func claim(t *testing.T, s store.Store) []store.Claim {
	t.Helper()
	cs, err := s.ClaimReady(ctx, opts)
	if err != nil {
		t.Fatalf("ClaimReady: %v", err)
	}
	return cs
}

func claimedIDs(cs []store.Claim) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.TraceID)
	}
	sort.Strings(out)
	return out
}

func report(traceID string, v probity.Verdict, detectors ...string) store.Analysis {
	var fs []probity.Finding
	for i, d := range detectors {
		fs = append(fs, probity.Finding{Detector: d, Severity: probity.SeverityHigh, Step: i})
	}
	b, _ := json.Marshal(map[string]any{"trace_id": traceID, "verdict": v, "findings": fs})
	return store.Analysis{TraceID: traceID, Verdict: v, Detectors: store.DetectorsOf(fs), Steps: 3, Report: b}
}

func save(t *testing.T, s store.Store, c store.Claim, a store.Analysis) {
	t.Helper()
	if err := store.SaveAnalysis(ctx, s, c, a); err != nil {
		t.Fatalf("SaveAnalysis(%s): %v", c.TraceID, err)
	}
}

func summary(t *testing.T, s store.Store, id string) store.TraceSummary {
	t.Helper()
	ts, err := s.Trace(ctx, id)
	if err != nil {
		t.Fatalf("Trace(%s): %v", id, err)
	}
	return ts
}

func testAddSpansIdempotent(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	child := span(1, 2, 1, base)
	child.Service, child.Agent = "worker", "planner"
	spans := []store.Span{span(1, 1, -1, base), child, span(1, 3, 1, base), span(1, 3, 1, base)}
	if got, want := add(t, s, spans...), (store.AddResult{Added: 3, Duplicates: 1}); got != want {
		t.Errorf("first AddSpans = %+v, want %+v", got, want)
	}
	before := summary(t, s, tid(1))
	clock.Advance(time.Second)
	if got, want := add(t, s, spans[:3]...), (store.AddResult{Added: 0, Duplicates: 3}); got != want {
		t.Errorf("repeated AddSpans = %+v, want %+v", got, want)
	}
	after := summary(t, s, tid(1))
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("a batch of duplicates changed the trace (-before +after):\n%s", diff)
	}
	want := store.TraceSummary{TraceID: tid(1), Service: "shop", Agent: "planner",
		StartedAt: base.Add(time.Second), EndedAt: base.Add(3500 * time.Millisecond), Spans: 3, ReceivedAt: NewClock().Now(), Stale: true}
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("Trace (-want +got):\n%s", diff)
	}
	if _, err := s.Trace(ctx, tid(99)); code(err) != probity.ENOTFOUND {
		t.Errorf("Trace(unknown) error code = %q, want %q (%v)", code(err), probity.ENOTFOUND, err)
	}
}

func testAddSpansInvalid(t *testing.T, open Opener) {
	s := open(t, NewClock())
	for _, bad := range []store.Span{
		{TraceID: "xyz", SpanID: sid(1)},
		{TraceID: tid(1), SpanID: "12"},
		{TraceID: tid(1), SpanID: sid(1), ParentID: "nothex-nothex-no"},
	} {
		_, err := s.AddSpans(ctx, []store.Span{span(2, 1, -1, base), bad})
		if code(err) != probity.EINVALID {
			t.Errorf("AddSpans(%+v) error code = %q, want %q (%v)", bad, code(err), probity.EINVALID, err)
		}
	}
	if _, err := s.Trace(ctx, tid(2)); code(err) != probity.ENOTFOUND {
		t.Errorf("a rejected batch stored its good span too: Trace error = %v", err)
	}
}

func testSpansOrderAndBytes(t *testing.T, open Opener) {
	s := open(t, NewClock())
	resB := []byte("resource B")
	a, b, c := span(3, 5, -1, base), span(3, 2, 5, base), span(3, 9, 5, base)
	c.Start = b.Start // ties order by span id
	c.Resource = resB
	add(t, s, a)
	add(t, s, c, b)
	got, err := s.Spans(ctx, tid(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*store.Span{&a, &b, &c} {
		w.Service, w.Agent = "", ""
	}
	if diff := cmp.Diff([]store.Span{b, c, a}, got); diff != "" {
		t.Errorf("Spans (-want +got):\n%s", diff)
	}
	if _, err := s.Spans(ctx, tid(4)); code(err) != probity.ENOTFOUND {
		t.Errorf("Spans(unknown) error code = %q, want %q", code(err), probity.ENOTFOUND)
	}
	if _, err := s.Spans(ctx, "nope"); code(err) != probity.EINVALID {
		t.Errorf("Spans(bad id) error code = %q, want %q", code(err), probity.EINVALID)
	}
}

func testReadyAfterIdle(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 2, 1, base), span(1, 1, -1, base)) // root ended: ready after idle
	add(t, s, span(2, 2, 1, base))                       // no root yet
	if cs := claim(t, s); len(cs) != 0 {
		t.Fatalf("claimed %v before the idle period", claimedIDs(cs))
	}
	clock.Advance(9 * time.Second)
	add(t, s, span(1, 3, 1, base)) // a new span restarts the quiet period
	clock.Advance(9 * time.Second)
	if cs := claim(t, s); len(cs) != 0 {
		t.Fatalf("claimed %v though a span arrived 9s ago", claimedIDs(cs))
	}
	clock.Advance(time.Second)
	cs := claim(t, s)
	if got, want := claimedIDs(cs), []string{tid(1)}; !cmp.Equal(got, want) {
		t.Fatalf("claimed %v, want %v", got, want)
	}
	if again := claim(t, s); len(again) != 0 {
		t.Errorf("claimed %v again while the lease holds", claimedIDs(again))
	}
	save(t, s, cs[0], report(tid(1), probity.VerdictFail, "cascade"))
	got := summary(t, s, tid(1))
	if got.Verdict != probity.VerdictFail || got.Revision != 1 || got.Stale || got.Steps != 3 || !cmp.Equal(got.Detectors, []string{"cascade"}) {
		t.Errorf("after SaveAnalysis: %+v; want verdict fail, revision 1, not stale, 3 steps, detectors [cascade]", got)
	}
	clock.Advance(time.Hour)
	if cs := claim(t, s); !cmp.Equal(claimedIDs(cs), []string{tid(2)}) {
		t.Errorf("an hour later claimed %v, want only the orphan %v", claimedIDs(cs), tid(2))
	}
}

func testOrphanTrace(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 2, 1, base))
	clock.Advance(opts.OrphanIdle - time.Second)
	if cs := claim(t, s); len(cs) != 0 {
		t.Fatalf("claimed a trace without its root after %v", opts.OrphanIdle-time.Second)
	}
	clock.Advance(time.Second)
	if cs := claim(t, s); len(cs) != 1 {
		t.Fatalf("a trace without its root was not ready after OrphanIdle: claimed %v", claimedIDs(cs))
	}
}

func testLeaseExpiry(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 1, -1, base))
	clock.Advance(opts.Idle)
	first := claim(t, s)
	if len(first) != 1 {
		t.Fatalf("claimed %d, want 1", len(first))
	}
	clock.Advance(opts.Lease + time.Second)
	second := claim(t, s)
	if len(second) != 1 || second[0].Token == first[0].Token {
		t.Fatalf("after the lease ran out: claimed %+v, want the trace under a new token", second)
	}
	err := store.SaveAnalysis(ctx, s, first[0], report(tid(1), probity.VerdictOK))
	if code(err) != probity.ECONFLICT {
		t.Errorf("SaveAnalysis with a lost claim: error code %q, want %q (%v)", code(err), probity.ECONFLICT, err)
	}
	if _, err := s.Analysis(ctx, tid(1)); code(err) != probity.ENOTFOUND {
		t.Errorf("a lost claim's analysis was stored: %v", err)
	}
	save(t, s, second[0], report(tid(1), probity.VerdictOK))
	if got := summary(t, s, tid(1)); got.Revision != 1 {
		t.Errorf("revision = %d, want 1", got.Revision)
	}
}

func testLateSpansReopen(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 1, -1, base))
	clock.Advance(opts.Idle)
	save(t, s, claim(t, s)[0], report(tid(1), probity.VerdictOK))
	clock.Advance(time.Minute)
	add(t, s, span(1, 1, -1, base)) // a retried export: nothing new
	clock.Advance(opts.Idle)
	if cs := claim(t, s); len(cs) != 0 {
		t.Fatalf("a duplicate span reopened the trace: claimed %v", claimedIDs(cs))
	}
	add(t, s, span(1, 2, 1, base))
	if got := summary(t, s, tid(1)); !got.Stale || got.Verdict != probity.VerdictOK {
		t.Errorf("after a late span: stale %v verdict %q, want stale with the old verdict kept", got.Stale, got.Verdict)
	}
	clock.Advance(opts.Idle)
	cs := claim(t, s)
	if len(cs) != 1 {
		t.Fatalf("a late span did not reopen the trace: claimed %v", claimedIDs(cs))
	}
	save(t, s, cs[0], report(tid(1), probity.VerdictFail, "loop"))
	got := summary(t, s, tid(1))
	if got.Revision != 2 || got.Verdict != probity.VerdictFail || got.Spans != 2 || got.Stale {
		t.Errorf("after re-analysis: %+v; want revision 2, verdict fail, 2 spans, not stale", got)
	}
	a, err := s.Analysis(ctx, tid(1))
	if err != nil {
		t.Fatal(err)
	}
	if a.Revision != 2 || !strings.Contains(string(a.Report), `"fail"`) {
		t.Errorf("Analysis = revision %d report %s; want the second one", a.Revision, a.Report)
	}
}

func testSpansDuringAnalysis(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 1, -1, base))
	clock.Advance(opts.Idle)
	c := claim(t, s)[0]
	add(t, s, span(1, 2, 1, base)) // arrives while the analyser works
	save(t, s, c, report(tid(1), probity.VerdictOK))
	if got := summary(t, s, tid(1)); !got.Stale {
		t.Errorf("a span that arrived during analysis is not pending: %+v", got)
	}
	clock.Advance(opts.Idle)
	if cs := claim(t, s); len(cs) != 1 {
		t.Errorf("the trace was not analysed again for its new span: claimed %v", claimedIDs(cs))
	}
}

// testSaveBatch saves several analyses at once, one of them under a lost
// claim: that one is refused, the others stored.
func testSaveBatch(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 1, -1, base), span(2, 1, -1, base), span(3, 1, -1, base))
	clock.Advance(opts.Idle)
	cs := claim(t, s)
	if len(cs) != 3 {
		t.Fatalf("claimed %d, want 3", len(cs))
	}
	lost := cs[1]
	lost.Token = "not-the-token"
	var batch []store.ClaimedAnalysis
	for i, c := range []store.Claim{cs[0], lost, cs[2]} {
		batch = append(batch, store.ClaimedAnalysis{Claim: c, Analysis: report(c.TraceID, []probity.Verdict{probity.VerdictOK, probity.VerdictFail, probity.VerdictSuspect}[i])})
	}
	errs, err := s.SaveAnalyses(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 3 || errs[0] != nil || code(errs[1]) != probity.ECONFLICT || errs[2] != nil {
		t.Fatalf("SaveAnalyses errors = %v; want nil, %s, nil", errs, probity.ECONFLICT)
	}
	for i, c := range cs {
		got := summary(t, s, c.TraceID)
		if saved := i != 1; (got.Revision == 1) != saved {
			t.Errorf("trace %d: revision %d, saved %v", i, got.Revision, saved)
		}
	}
}

func testRelease(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 1, -1, base))
	clock.Advance(opts.Idle)
	c := claim(t, s)[0]
	if err := s.Release(ctx, c); err != nil {
		t.Fatal(err)
	}
	again := claim(t, s)
	if len(again) != 1 {
		t.Fatalf("a released trace was not claimable at once: %v", claimedIDs(again))
	}
	if err := s.Release(ctx, c); err != nil { // stale: ignored
		t.Errorf("Release of a stale claim: %v", err)
	}
	if cs := claim(t, s); len(cs) != 0 {
		t.Errorf("a stale Release freed the new claim: claimed %v", claimedIDs(cs))
	}
}

// testConcurrentClaims plays replicas: several handles claim from one
// database at once, and no trace may be handed out twice.
func testConcurrentClaims(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	const traces = 60
	var spans []store.Span
	for i := range traces {
		spans = append(spans, span(i, 1, -1, base))
	}
	add(t, s, spans...)
	clock.Advance(opts.Idle)
	handles := []store.Store{s, open(t, clock), open(t, clock)}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func(h store.Store) {
			defer wg.Done()
			o := opts
			o.Limit = 7
			for {
				cs, err := h.ClaimReady(ctx, o)
				if err != nil {
					t.Errorf("ClaimReady: %v", err)
					return
				}
				if len(cs) == 0 {
					return
				}
				for _, c := range cs {
					mu.Lock()
					seen[c.TraceID]++
					mu.Unlock()
					if err := store.SaveAnalysis(ctx, h, c, report(c.TraceID, probity.VerdictOK)); err != nil {
						t.Errorf("SaveAnalysis: %v", err)
					}
				}
			}
		}(handles[w%len(handles)])
	}
	wg.Wait()
	if len(seen) != traces {
		t.Errorf("claimed %d distinct traces, want %d", len(seen), traces)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("trace %s claimed %d times, want once", id, n)
		}
	}
}

// testConcurrentAdd sends each trace's spans through different handles at
// once: every span counted once, each trace whole.
func testConcurrentAdd(t *testing.T, open Opener) {
	clock := NewClock()
	handles := []store.Store{open(t, clock), open(t, clock)}
	const traces, per = 20, 6
	var wg sync.WaitGroup
	added := make([]int, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var batch []store.Span
			for tr := range traces {
				for n := range per {
					// every span goes to two writers: duplicates race
					if n%2 == w%2 {
						parent := 0
						if n == 0 {
							parent = -1
						}
						batch = append(batch, span(tr, n, parent, base))
					}
				}
			}
			r, err := handles[w%2].AddSpans(ctx, batch)
			if err != nil {
				t.Errorf("AddSpans: %v", err)
				return
			}
			added[w] = r.Added
		}()
	}
	wg.Wait()
	if got, want := added[0]+added[1]+added[2]+added[3], traces*per; got != want {
		t.Errorf("spans added across writers = %d, want %d", got, want)
	}
	for tr := range traces {
		if got := summary(t, handles[0], tid(tr)); got.Spans != per {
			t.Errorf("trace %d has %d spans, want %d", tr, got.Spans, per)
		}
	}
}

func testAnalysisRoundTrip(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 1, -1, base))
	if _, err := s.Analysis(ctx, tid(1)); code(err) != probity.ENOTFOUND {
		t.Errorf("Analysis before analysis: error code %q, want %q", code(err), probity.ENOTFOUND)
	}
	clock.Advance(opts.Idle)
	root := 4
	a := report(tid(1), probity.VerdictSuspect, "loop", "cascade")
	a.RootCauseStep = &root
	a.Report = json.RawMessage(`{"trace_id":"x","source":"y","verdict":"suspect","root_cause_step":4,"findings":[]}`)
	save(t, s, claim(t, s)[0], a)
	got, err := s.Analysis(ctx, tid(1))
	if err != nil {
		t.Fatal(err)
	}
	a.Revision, a.AnalysedAt = 1, clock.Now()
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("Analysis (-want +got):\n%s", diff)
	}
}

func testAnalysisError(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 1, -1, base))
	clock.Advance(opts.Idle)
	save(t, s, claim(t, s)[0], store.Analysis{TraceID: tid(1), Error: "cyclic span parents"})
	got := summary(t, s, tid(1))
	if got.Verdict != store.VerdictError || got.Stale {
		t.Errorf("after an error analysis: verdict %q stale %v, want %q, not stale", got.Verdict, got.Stale, store.VerdictError)
	}
	clock.Advance(time.Hour)
	if cs := claim(t, s); len(cs) != 0 {
		t.Errorf("a trace that cannot be analysed was claimed again without new spans")
	}
	p, err := s.ListTraces(ctx, store.Filter{Verdict: store.VerdictError})
	if err != nil || len(p.Traces) != 1 {
		t.Errorf("ListTraces(verdict=error) = %d traces, %v; want 1", len(p.Traces), err)
	}
}

// seedList stores traces with known verdicts, services, agents, detectors
// and start times, analysed; it returns their summaries newest first.
func seedList(t *testing.T, s store.Store, clock *Clock, n int) {
	t.Helper()
	var spans []store.Span
	for i := range n {
		sp := span(i, 1, -1, base.Add(time.Duration(i)*time.Minute))
		sp.Service = []string{"shop", "bank"}[i%2]
		sp.Agent = []string{"", "planner", "coder"}[i%3]
		spans = append(spans, sp)
	}
	add(t, s, spans...)
	// an unanalysed trace, pending, oldest
	add(t, s, span(n+1, 1, 0, base.Add(-time.Hour)))
	clock.Advance(opts.Idle)
	o := opts
	o.Limit = n
	cs, err := s.ClaimReady(ctx, o)
	if err != nil || len(cs) != n {
		t.Fatalf("ClaimReady = %d, %v; want %d", len(cs), err, n)
	}
	for _, c := range cs {
		var i int
		for i = range n {
			if tid(i) == c.TraceID {
				break
			}
		}
		v := []probity.Verdict{probity.VerdictOK, probity.VerdictFail, probity.VerdictSuspect, probity.VerdictFail}[i%4]
		var ds []string
		if v == probity.VerdictFail {
			ds = []string{"cascade"}
			if i%3 == 0 {
				ds = append(ds, "loop")
			}
		}
		save(t, s, c, report(c.TraceID, v, ds...))
	}
}

func testList(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	const n = 37
	seedList(t, s, clock, n)
	type want struct {
		f    store.Filter
		keep func(i int) bool
	}
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	cases := map[string]want{
		"all":            {store.Filter{}, func(i int) bool { return true }},
		"verdict fail":   {store.Filter{Verdict: "fail"}, func(i int) bool { return i%4 == 1 || i%4 == 3 }},
		"verdict ok":     {store.Filter{Verdict: "ok"}, func(i int) bool { return i%4 == 0 }},
		"pending":        {store.Filter{Verdict: "pending"}, func(i int) bool { return i == n+1 }},
		"detector loop":  {store.Filter{Detector: "loop"}, func(i int) bool { return (i%4 == 1 || i%4 == 3) && i%3 == 0 }},
		"service bank":   {store.Filter{Service: "bank"}, func(i int) bool { return i%2 == 1 && i < n }},
		"agent coder":    {store.Filter{Agent: "coder"}, func(i int) bool { return i%3 == 2 && i < n }},
		"since until":    {store.Filter{Since: at(5), Until: at(20)}, func(i int) bool { return i >= 5 && i < 20 }},
		"fail and bank":  {store.Filter{Verdict: "fail", Service: "bank"}, func(i int) bool { return (i%4 == 1 || i%4 == 3) && i%2 == 1 && i < n }},
		"cascade, since": {store.Filter{Detector: "cascade", Since: at(10)}, func(i int) bool { return (i%4 == 1 || i%4 == 3) && i >= 10 && i < n }},
		"no match":       {store.Filter{Service: "nobody"}, func(i int) bool { return false }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var wantIDs []string
			for i := n - 1; i >= 0; i-- {
				if c.keep(i) {
					wantIDs = append(wantIDs, tid(i))
				}
			}
			if c.keep(n + 1) { // the pending trace is the oldest
				wantIDs = append(wantIDs, tid(n+1))
			}
			for _, limit := range []int{1, 5, 1000} {
				f := c.f
				f.Limit = limit
				var got []string
				pages := 0
				for {
					p, err := s.ListTraces(ctx, f)
					if err != nil {
						t.Fatalf("ListTraces(%+v): %v", f, err)
					}
					pages++
					if len(p.Traces) > limit {
						t.Fatalf("page of %d traces, limit %d", len(p.Traces), limit)
					}
					for _, tr := range p.Traces {
						got = append(got, tr.TraceID)
					}
					if p.NextCursor == "" {
						break
					}
					if pages > 100 {
						t.Fatal("pagination does not end")
					}
					f.Cursor = p.NextCursor
				}
				if diff := cmp.Diff(wantIDs, got); diff != "" {
					t.Errorf("limit %d: trace ids (-want +got):\n%s", limit, diff)
				}
			}
		})
	}
	p, err := s.ListTraces(ctx, store.Filter{Verdict: "fail", Limit: 1})
	if err != nil || len(p.Traces) != 1 {
		t.Fatalf("ListTraces = %v, %v", p, err)
	}
	got := p.Traces[0]
	i := n - 1
	for ; i%4 != 1 && i%4 != 3; i-- {
	}
	if got.TraceID != tid(i) || !got.StartedAt.Equal(at(i).Add(time.Second)) || got.Verdict != probity.VerdictFail || got.Steps != 3 || got.Revision != 1 {
		t.Errorf("newest failing trace = %+v, want trace %d started %v with verdict fail, 3 steps, revision 1", got, i, at(i).Add(time.Second))
	}
}

func testListInvalid(t *testing.T, open Opener) {
	s := open(t, NewClock())
	for _, f := range []store.Filter{
		{Verdict: "maybe"},
		{Limit: -1},
		{Limit: store.MaxLimit + 1},
		{Cursor: "not a cursor"},
		{Cursor: store.EncodeCursor(store.Cursor{StartedNS: 1, TraceID: []byte{1}})},
	} {
		if _, err := s.ListTraces(ctx, f); code(err) != probity.EINVALID {
			t.Errorf("ListTraces(%+v) error code = %q, want %q (%v)", f, code(err), probity.EINVALID, err)
		}
	}
}

func testFeedback(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 1, -1, base))
	step := 12
	fb, err := s.AddFeedback(ctx, store.Feedback{TraceID: tid(1), Label: store.LabelIncorrect, Step: &step, Note: "refunded the wrong order"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	fb2, err := s.AddFeedback(ctx, store.Feedback{TraceID: tid(1), Label: store.LabelCorrect})
	if err != nil {
		t.Fatal(err)
	}
	if fb.ID == 0 || fb2.ID == fb.ID || !fb.CreatedAt.Equal(NewClock().Now()) {
		t.Errorf("AddFeedback ids %d, %d and time %v: want distinct non-zero ids and the clock's time", fb.ID, fb2.ID, fb.CreatedAt)
	}
	got, err := s.Feedback(ctx, tid(1))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Feedback{fb, fb2}, got); diff != "" {
		t.Errorf("Feedback (-want +got):\n%s", diff)
	}
	neg := -1
	for _, c := range []struct {
		fb   store.Feedback
		code string
	}{
		{store.Feedback{TraceID: tid(1), Label: "meh"}, probity.EINVALID},
		{store.Feedback{TraceID: tid(1), Label: store.LabelCorrect, Step: &neg}, probity.EINVALID},
		{store.Feedback{TraceID: tid(1), Label: store.LabelCorrect, Note: strings.Repeat("x", store.MaxNote+1)}, probity.EINVALID},
		{store.Feedback{TraceID: tid(2), Label: store.LabelCorrect}, probity.ENOTFOUND},
		{store.Feedback{TraceID: "zz", Label: store.LabelCorrect}, probity.EINVALID},
	} {
		if _, err := s.AddFeedback(ctx, c.fb); code(err) != c.code {
			t.Errorf("AddFeedback(%+v) error code = %q, want %q (%v)", c.fb, code(err), c.code, err)
		}
	}
}

func testEvalRuns(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	r := store.EvalRun{ID: "run-1", Suite: "refunds", Started: base, Trials: 6, Data: []byte("{\"type\":\"run\"}\n")}
	for i := range 2 {
		created, err := s.AddEvalRun(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if created != (i == 0) {
			t.Errorf("AddEvalRun #%d: created = %v, want %v (the second push of one file stores nothing)", i+1, created, i == 0)
		}
	}
	list, err := s.EvalRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.ReceivedAt = clock.Now()
	head := r
	head.Data = nil
	if diff := cmp.Diff([]store.EvalRun{head}, list); diff != "" {
		t.Errorf("EvalRuns (-want +got):\n%s", diff)
	}
	got, err := s.EvalRun(ctx, "run-1")
	if err != nil || !cmp.Equal(got, r) {
		t.Errorf("EvalRun = %+v, %v; want %+v", got, err, r)
	}
	if _, err := s.EvalRun(ctx, "run-2"); code(err) != probity.ENOTFOUND {
		t.Errorf("EvalRun(unknown): error code %q, want %q", code(err), probity.ENOTFOUND)
	}
}

func testLock(t *testing.T, open Opener) {
	clock := NewClock()
	a, b := open(t, clock), open(t, clock)
	la, ok, err := a.TryLock(ctx, "monitors")
	if err != nil || !ok {
		t.Fatalf("first TryLock = %v, %v; want the lock", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "monitors"); err != nil || ok {
		t.Fatalf("second TryLock while held = %v, %v; want refused", ok, err)
	}
	lo, ok, err := b.TryLock(ctx, "sweeper")
	if err != nil || !ok {
		t.Fatalf("TryLock of another name = %v, %v; want the lock", ok, err)
	}
	if err := la.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	lb, ok, err := b.TryLock(ctx, "monitors")
	if err != nil || !ok {
		t.Fatalf("TryLock after Unlock = %v, %v; want the lock", ok, err)
	}
	select {
	case <-lb.Lost():
		t.Error("a held lock reports lost")
	default:
	}
	for _, l := range []store.Lock{lb, lo} {
		if err := l.Unlock(ctx); err != nil {
			t.Error(err)
		}
	}
}

func testDeleteBefore(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock)
	add(t, s, span(1, 1, -1, base), span(1, 2, 1, base))
	if _, err := s.AddFeedback(ctx, store.Feedback{TraceID: tid(1), Label: store.LabelCorrect}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(opts.Idle)
	save(t, s, claim(t, s)[0], report(tid(1), probity.VerdictFail, "loop"))
	clock.Advance(time.Hour)
	cutoff := clock.Now()
	add(t, s, span(2, 1, -1, base))
	n, err := s.DeleteBefore(ctx, cutoff, 100)
	if err != nil || n != 1 {
		t.Fatalf("DeleteBefore = %d, %v; want 1", n, err)
	}
	for _, f := range []func() error{
		func() error { _, err := s.Trace(ctx, tid(1)); return err },
		func() error { _, err := s.Spans(ctx, tid(1)); return err },
		func() error { _, err := s.Analysis(ctx, tid(1)); return err },
	} {
		if err := f(); code(err) != probity.ENOTFOUND {
			t.Errorf("after DeleteBefore: error code %q, want %q", code(err), probity.ENOTFOUND)
		}
	}
	if fb, err := s.Feedback(ctx, tid(1)); err != nil || len(fb) != 0 {
		t.Errorf("feedback of a deleted trace = %v, %v", fb, err)
	}
	if p, err := s.ListTraces(ctx, store.Filter{Detector: "loop"}); err != nil || len(p.Traces) != 0 {
		t.Errorf("a deleted trace is still listed: %v, %v", p.Traces, err)
	}
	if _, err := s.Trace(ctx, tid(2)); err != nil {
		t.Errorf("a recent trace was deleted: %v", err)
	}
	// the same span id may arrive again and starts a new trace
	if r := add(t, s, span(1, 1, -1, base)); r.Added != 1 {
		t.Errorf("re-adding a deleted span: %+v, want added", r)
	}
}
