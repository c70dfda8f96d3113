package server

import (
	"context"

	"github.com/probity/probity"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/store"
)

// StoreTraces encodes traces as OTLP spans, as `probity push` sends them,
// and stores them in one transaction, so a trace read from a file takes the
// same path through the store and the analyser as one an exporter sent. It
// returns the number of spans stored.
func StoreTraces(ctx context.Context, st store.Store, ts ...*probity.Trace) (int, error) {
	var spans []store.Span
	split, err := otlp.SplitRequest(otlp.Encode(ts...), func(sp *otlp.Span) { spans = append(spans, toStore(sp)) })
	if err != nil {
		return 0, err
	}
	if split.Rejected > 0 {
		return 0, probity.Errorf(probity.EINVALID, "%d spans rejected: %s", split.Rejected, split.Reason)
	}
	if len(spans) == 0 {
		return 0, nil
	}
	r, err := st.AddSpans(ctx, spans)
	return r.Added, err
}

// AnalyseNow analyses every stored trace not yet analysed, without waiting
// for the idle period (a trace whose root span is missing included), with the same code the running server uses,
// and returns how many it analysed. `probity view` calls it once after
// loading files: nothing more will arrive, so there is nothing to wait for.
func (s *Server) AnalyseNow(ctx context.Context) (int, error) {
	o := store.ClaimOptions{Idle: 0, OrphanIdle: 0, Lease: s.o.Lease, Limit: 256}
	n := 0
	for {
		cs, err := s.o.Store.ClaimReady(ctx, o)
		if err != nil {
			return n, err
		}
		if len(cs) == 0 {
			return n, nil
		}
		batch := make([]result, 0, len(cs))
		for _, c := range cs {
			if r, ok := s.analyseClaim(ctx, c); ok {
				batch = append(batch, r)
			}
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		s.save(batch)
		n += len(batch)
		if len(batch) < len(cs) {
			// A claim was given back (a store error): do not spin on it.
			return n, probity.Errorf(probity.EINTERNAL, "some traces could not be read for analysis")
		}
	}
}
