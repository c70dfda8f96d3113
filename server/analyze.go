package server

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/store"
)

// MonitorSink receives every saved analysis: the hook monitors attach to.
// It is called once per analysis this replica saved (again, with Revision
// above 1, when late spans reopened the trace), after the analysis is
// durable; t is the trace as analysed and r its report. Errors are logged
// and do not undo the analysis.
type MonitorSink interface {
	Observe(ctx context.Context, t *probity.Trace, a *store.Analysis, r *analysis.Report) error
}

// Source returns the Trace.Source (and the report's "source") of a trace
// assembled from stored spans.
func Source(traceID string) string { return "otlp:" + traceID }

// result is one analysed trace waiting to be saved.
type result struct {
	ca    store.ClaimedAnalysis
	trace *probity.Trace
	rep   *analysis.Report
	took  time.Duration
}

// analyseLoop claims ready traces, analyses them with a pool of workers
// and saves their reports in batches: one transaction (one disk sync)
// for many traces.
func (s *Server) analyseLoop(ctx context.Context) {
	claims := make(chan store.Claim)
	results := make(chan result, 4*s.o.Workers)
	var wg sync.WaitGroup
	for range s.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range claims {
				if r, ok := s.analyseClaim(ctx, c); ok {
					results <- r
				}
			}
		}()
	}
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		s.saveLoop(results)
	}()
	defer func() {
		close(claims)
		wg.Wait()
		close(results)
		<-saved
	}()
	tick := time.NewTicker(s.o.Poll)
	defer tick.Stop()
	o := store.ClaimOptions{Idle: s.o.TraceIdle, OrphanIdle: s.o.OrphanIdle, Lease: s.o.Lease, Limit: max(64, 4*s.o.Workers)}
	for {
		cs, err := s.o.Store.ClaimReady(ctx, o)
		if err != nil && ctx.Err() == nil {
			s.m.claimErrors.Inc()
			s.log.Error("claim ready traces", "err", err)
		}
		for i, c := range cs {
			select {
			case claims <- c:
			case <-ctx.Done():
				// Give the rest back so another replica takes them now.
				for _, c := range cs[i:] {
					s.release(c)
				}
				return
			}
		}
		if len(cs) == o.Limit {
			continue // more may be ready
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// saveLoop saves results in batches: it waits up to saveLinger after the
// first result for more, so one transaction (one disk sync) carries many
// traces rather than one each.
func (s *Server) saveLoop(results <-chan result) {
	for r := range results {
		batch := []result{r}
		linger := time.NewTimer(saveLinger)
	more:
		for len(batch) < 512 {
			select {
			case r, ok := <-results:
				if !ok {
					break more
				}
				batch = append(batch, r)
			case <-linger.C:
				break more
			}
		}
		linger.Stop()
		s.save(batch)
	}
}

// saveLinger is how long a finished analysis may wait for others to share
// its transaction.
const saveLinger = 20 * time.Millisecond

func (s *Server) save(batch []result) {
	// Saving runs to its end even during shutdown: the work is done.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	as := make([]store.ClaimedAnalysis, len(batch))
	for i, r := range batch {
		as[i] = r.ca
	}
	errs, err := s.o.Store.SaveAnalyses(ctx, as)
	if err != nil {
		s.m.claimErrors.Inc()
		s.log.Error("save analyses", "traces", len(batch), "err", err)
		for _, r := range batch {
			s.release(r.ca.Claim)
		}
		return
	}
	if s.mon != nil {
		s.mon.observe(ctx, batch, errs)
	}
	for i, r := range batch {
		if errs[i] != nil {
			s.log.Warn("analysis discarded: claim lost", "trace_id", r.ca.Claim.TraceID, "err", errs[i])
			continue
		}
		s.m.analyseSeconds.Observe(r.took.Seconds())
		a := r.ca.Analysis
		verdict := string(a.Verdict)
		if a.Error != "" {
			verdict = store.VerdictError
		}
		s.m.analysed.WithLabelValues(verdict).Inc()
		if s.o.Monitor != nil && a.Error == "" {
			saved, err := s.o.Store.Analysis(ctx, a.TraceID)
			if err == nil {
				err = s.o.Monitor.Observe(ctx, r.trace, &saved, r.rep)
			}
			if err != nil {
				s.log.Error("monitor sink", "trace_id", a.TraceID, "err", err)
			}
		}
	}
}

func (s *Server) release(c store.Claim) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.o.Store.Release(ctx, c); err != nil {
		s.log.Warn("release claim", "trace_id", c.TraceID, "err", err)
	}
}

// analyseClaim loads, assembles and analyses one claimed trace. ok is
// false when the claim was given back instead.
func (s *Server) analyseClaim(ctx context.Context, c store.Claim) (result, bool) {
	start := time.Now()
	spans, err := s.o.Store.Spans(ctx, c.TraceID)
	if err != nil {
		if ctx.Err() == nil {
			s.m.claimErrors.Inc()
			s.log.Error("read spans", "trace_id", c.TraceID, "err", err)
		}
		s.release(c)
		return result{}, false
	}
	ospans := make([]otlp.Span, len(spans))
	for i, sp := range spans {
		ospans[i] = otlp.Span{TraceID: sp.TraceID, SpanID: sp.SpanID, ParentID: sp.ParentID, Start: sp.Start, End: sp.End, Resource: sp.Resource, Data: sp.Data}
	}
	a := store.Analysis{TraceID: c.TraceID}
	t, r, err := s.run(ospans, c.TraceID)
	if err != nil {
		a.Error = err.Error()
		s.log.Warn("trace cannot be analysed", "trace_id", c.TraceID, "err", err)
	} else if b, err := json.Marshal(r); err != nil { // as analyze --format json writes it
		a.Error = fmt.Sprintf("encode report: %v", err)
	} else {
		a.Report = b
		a.Verdict, a.RootCauseStep, a.Detectors, a.Steps = r.Verdict, r.RootCauseStep, store.DetectorsOf(r.Findings), len(t.Steps)
	}
	return result{ca: store.ClaimedAnalysis{Claim: c, Analysis: a}, trace: t, rep: r, took: time.Since(start)}, true
}

// run assembles and analyses a trace; a panic in either is an error for
// this trace, never a crash of the server.
func (s *Server) run(spans []otlp.Span, traceID string) (t *probity.Trace, r *analysis.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic analysing trace", "trace_id", traceID, "panic", p)
			t, r, err = nil, nil, fmt.Errorf("internal error analysing the trace: %v", p)
		}
	}()
	t, err = otlp.Assemble(Source(traceID), spans)
	if err != nil {
		return nil, nil, err
	}
	rep := s.o.Analyzer.Run(t)
	return t, &rep, nil
}

// assemble rebuilds a stored trace for the API.
func (s *Server) assemble(ctx context.Context, traceID string) (*probity.Trace, error) {
	spans, err := s.o.Store.Spans(ctx, traceID)
	if err != nil {
		return nil, err
	}
	ospans := make([]otlp.Span, len(spans))
	for i, sp := range spans {
		ospans[i] = otlp.Span{TraceID: sp.TraceID, SpanID: sp.SpanID, ParentID: sp.ParentID, Start: sp.Start, End: sp.End, Resource: sp.Resource, Data: sp.Data}
	}
	return otlp.Assemble(Source(traceID), ospans)
}

// sweep deletes traces older than the retention period, on the leader.
func (s *Server) sweepLoop(ctx context.Context) {
	if s.o.Retain <= 0 {
		return
	}
	tick := time.NewTicker(s.o.SweepEvery)
	defer tick.Stop()
	for {
		s.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Server) sweepOnce(ctx context.Context) {
	l, ok, err := s.o.Store.TryLock(ctx, "retention")
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("retention lock", "err", err)
		}
		return
	}
	if !ok {
		return // another replica sweeps
	}
	defer l.Unlock(context.Background())
	cutoff := s.o.Now().Add(-s.o.Retain)
	for {
		n, err := s.o.Store.DeleteBefore(ctx, cutoff, 1000)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("retention sweep", "err", err)
			}
			return
		}
		s.m.deleted.Add(float64(n))
		if n > 0 {
			s.log.Info("retention sweep", "deleted_traces", n, "cutoff", cutoff)
		}
		if n < 1000 {
			break
		}
		select {
		case <-l.Lost():
			return
		default:
		}
	}
	// The monitors' history is kept as long as the traces it counted.
	if s.o.MonitorState != nil {
		n, err := s.o.MonitorState.DeletePointsBefore(ctx, cutoff)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("retention sweep: monitor points", "err", err)
			}
			return
		}
		if n > 0 {
			s.log.Info("retention sweep", "deleted_monitor_points", n, "cutoff", cutoff)
		}
	}
}
