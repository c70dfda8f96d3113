package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probity/probity"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/store"
)

// Server-side error codes beside probity's: the ingest path answers them
// with the statuses OTLP clients retry on.
const (
	codeOverloaded  = "overloaded"  // the queue is full: 429 / RESOURCE_EXHAUSTED
	codeUnavailable = "unavailable" // the store failed or the server stops: 503 / UNAVAILABLE
)

var (
	errOverloaded = &probity.Error{Code: codeOverloaded, Message: "server overloaded: ingest queue full, retry later"}
	errStopping   = &probity.Error{Code: codeUnavailable, Message: "server shutting down, retry later"}
)

// budget bounds the bytes of requests in flight: taken before a body is
// read, held until its spans are durable. It never blocks: a request that
// does not fit is refused at once, which is the backpressure OTLP clients
// understand (they retry after the delay the answer gives).
type budget struct {
	mu    sync.Mutex
	used  int64
	limit int64
	gauge prometheus.Gauge
}

func (b *budget) take(n int64) bool { return b.grow(0, n) }

// grow takes n more for a request that already holds own.
func (b *budget) grow(own, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	// One request is always let in on an otherwise idle server, however
	// large (the request size limit bounds it), so a big batch cannot
	// starve.
	if b.used > own && b.used+n > b.limit {
		return false
	}
	b.used += n
	b.gauge.Set(float64(b.used))
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.gauge.Set(float64(b.used))
}

// batch is one request's spans waiting to be written.
type batch struct {
	spans   []store.Span
	done    chan error
	release func() // frees what spans point into, after the write
}

// ingester writes queued batches to the store, several requests per
// transaction (group commit): under load one fsync acknowledges many
// exports.
type ingester struct {
	st       store.Store
	log      *slog.Logger
	queue    chan *batch
	maxSpans int // per transaction
	m        *metrics
}

func newIngester(st store.Store, log *slog.Logger, m *metrics, queueLen int) *ingester {
	return &ingester{st: st, log: log, queue: make(chan *batch, queueLen), maxSpans: 20000, m: m}
}

// submit queues spans and waits until they are durable; release is
// called when they are written (or at once when they cannot be queued).
// It returns errOverloaded when the queue is full.
func (in *ingester) submit(ctx context.Context, spans []store.Span, release func(), stop <-chan struct{}) error {
	b := &batch{spans: spans, done: make(chan error, 1), release: release}
	select {
	case in.queue <- b:
	default:
		release()
		return errOverloaded
	}
	// Once queued the batch is written even if the client goes away: the
	// wait below only decides whether anyone hears about it.
	select {
	case err := <-b.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return errStopping
	}
}

// run writes batches until ctx ends, then drains what is queued.
func (in *ingester) run(ctx context.Context) {
	for {
		var first *batch
		select {
		case first = <-in.queue:
		case <-ctx.Done():
			in.drain()
			return
		}
		in.write(first)
	}
}

func (in *ingester) drain() {
	for {
		select {
		case b := <-in.queue:
			in.write(b)
		default:
			return
		}
	}
}

// write writes first and whatever else is queued, up to maxSpans, in one
// transaction.
func (in *ingester) write(first *batch) {
	group := []*batch{first}
	n := len(first.spans)
	for n < in.maxSpans {
		select {
		case b := <-in.queue:
			group = append(group, b)
			n += len(b.spans)
			continue
		default:
		}
		break
	}
	spans := first.spans
	if len(group) > 1 {
		spans = make([]store.Span, 0, n)
		for _, b := range group {
			spans = append(spans, b.spans...)
		}
	}
	start := time.Now()
	// The write runs to completion whatever happens to the requests: a
	// bounded timeout rather than their contexts.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	res, err := in.st.AddSpans(ctx, spans)
	cancel()
	in.m.writeSeconds.Observe(time.Since(start).Seconds())
	in.m.writeSpans.Observe(float64(len(spans)))
	if err != nil {
		in.log.Error("store spans", "spans", len(spans), "err", err)
		if probity.ErrorCode(err) != probity.EINVALID {
			err = &probity.Error{Code: codeUnavailable, Message: "store unavailable, retry later", Err: err}
		}
	} else {
		in.m.spansStored.Add(float64(res.Added))
		in.m.spansDuplicate.Add(float64(res.Duplicates))
	}
	for _, b := range group {
		b.done <- err
		b.release()
	}
}

// toStore converts a split span for the store.
func toStore(s *otlp.Span) store.Span {
	return store.Span{TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentID, Start: s.Start, End: s.End,
		Service: s.Service, Agent: s.Agent, Resource: s.Resource, Data: s.Data}
}
