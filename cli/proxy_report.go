package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/otlp"
	"google.golang.org/protobuf/proto"
)

// reporter sends the traces proxy --record rebuilds to a probity serve as
// they change (proxy --report-to). A run's trace is sent whole each time
// the recorder rewrites it: its trace and span ids are derived from the
// file and the step positions, the server keeps a span id once and
// analyses a trace again when new spans arrive, so sending a grown run
// again adds its new steps and nothing twice.
//
// Sending is off the request path and never blocks the agent: a change
// marks the run due; a failed send is retried with backoff, coalesced with
// later changes of the same run.
type reporter struct {
	p   *pusher
	log *slog.Logger

	mu   sync.Mutex
	due  map[string]string // run -> trace file, changed since last sent
	sent map[string]bool   // runs sent at least once
	wake chan struct{}

	stopLoop context.CancelFunc
	stopped  chan struct{}
}

// Backoff of the reporter after a failed send.
const (
	reportMinBackoff = 500 * time.Millisecond
	reportMaxBackoff = 30 * time.Second
)

// startReporter starts sending in the background; call finish (or stop).
func startReporter(p *pusher, log *slog.Logger) *reporter {
	ctx, cancel := context.WithCancel(context.Background())
	r := &reporter{p: p, log: log, due: map[string]string{}, sent: map[string]bool{}, wake: make(chan struct{}, 1),
		stopLoop: cancel, stopped: make(chan struct{})}
	go func() {
		defer close(r.stopped)
		r.run(ctx)
	}()
	return r
}

// stop ends the background sending and waits for it: a send in flight is
// abandoned and its run stays due.
func (r *reporter) stop() {
	r.stopLoop()
	<-r.stopped
}

// changed is the proxy's OnTrace hook.
func (r *reporter) changed(run, path string) {
	r.mu.Lock()
	r.due[run] = path
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run sends due traces until ctx ends.
func (r *reporter) run(ctx context.Context) {
	backoff := time.Duration(0)
	for {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
			}
		}
		if err := r.sendDue(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, reportMinBackoff), reportMaxBackoff)
			r.log.Warn("report to server failed; will retry", "server", r.p.base, "retry_in", backoff, "err", err)
			continue
		}
		backoff = 0
	}
}

// sendDue sends every due run once, in run order. A run that fails stays
// due (unless it changed meanwhile, which is due anyway).
func (r *reporter) sendDue(ctx context.Context) error {
	r.mu.Lock()
	runs := make([]string, 0, len(r.due))
	for run := range r.due {
		runs = append(runs, run)
	}
	batch := r.due
	r.due = map[string]string{}
	r.mu.Unlock()
	sort.Strings(runs)
	var errs []error
	for _, run := range runs {
		path := batch[run]
		err := r.send(ctx, path)
		r.mu.Lock()
		if err != nil {
			if _, again := r.due[run]; !again {
				r.due[run] = path
			}
			errs = append(errs, fmt.Errorf("run %s: %w", run, err))
		} else {
			r.sent[run] = true
		}
		r.mu.Unlock()
	}
	return errors.Join(errs...)
}

// send reads a rebuilt trace and posts it as OTLP.
func (r *reporter) send(ctx context.Context, path string) error {
	var traces []*probity.Trace
	err := ingest.Each(ctx, []string{path}, ingest.Options{}, func(t *probity.Trace) error {
		traces = append(traces, t)
		return nil
	})
	if err != nil {
		return err
	}
	b, err := proto.Marshal(otlp.Encode(traces...))
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	p := *r.p
	p.ctx = ctx
	return p.postTraces(b)
}

// finish stops the background sending, sends what is still due within
// timeout, and reports how many runs reached the server and which did not.
func (r *reporter) finish(timeout time.Duration) (sent int, unsent []string, err error) {
	r.stop()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err = r.sendDue(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	for run := range r.due {
		unsent = append(unsent, run)
	}
	sort.Strings(unsent)
	return len(r.sent), unsent, err
}
