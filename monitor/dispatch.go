package monitor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// dispatcher delivers the outbox: it claims due deliveries, POSTs each to
// its notifier and settles the outcome, retrying with exponential backoff.
type dispatcher struct {
	outbox    Outbox
	notifiers map[string]*Notifier
	cfg       DeliveryConfig
	client    *http.Client
	now       func() time.Time
	poll      time.Duration
	lease     time.Duration
	log       *slog.Logger
	met       *metrics
	wake      chan struct{}
}

// claimBatch bounds the deliveries claimed at once; sendWorkers the
// requests in flight, so one slow receiver does not hold up the others.
const (
	claimBatch  = 16
	sendWorkers = 4
)

// settleTimeout bounds recording one delivery's outcome, which outlives
// a shutdown's cancellation.
const settleTimeout = 10 * time.Second

func newDispatcher(o Outbox, cfg *Config, client *http.Client, now func() time.Time, poll time.Duration, log *slog.Logger, met *metrics) *dispatcher {
	d := &dispatcher{outbox: o, notifiers: map[string]*Notifier{}, cfg: cfg.Delivery, client: client, now: now, poll: poll,
		log: log, met: met, wake: make(chan struct{}, 1)}
	maxTimeout := 10 * time.Second
	for _, n := range cfg.Notifiers {
		d.notifiers[n.Name] = n
		maxTimeout = max(maxTimeout, n.Timeout)
	}
	// A claim outlives the slowest batch: every worker's requests in turn.
	d.lease = maxTimeout*time.Duration(claimBatch/sendWorkers+1) + 30*time.Second
	return d
}

// poke wakes the dispatcher after new deliveries were queued.
func (d *dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run(ctx context.Context) {
	for {
		n, err := d.deliverDue(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := d.poll
		if err != nil {
			d.log.Error("deliver notifications", "err", err)
		} else if n == claimBatch {
			wait = 0
		} else if next, ok, err := d.outbox.NextDue(ctx); err == nil && ok {
			wait = min(wait, max(0, next.Sub(d.now())))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-d.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// deliverDue sends one batch of due deliveries and returns how many it
// claimed.
func (d *dispatcher) deliverDue(ctx context.Context) (int, error) {
	ds, err := d.outbox.Claim(ctx, d.now(), d.lease, claimBatch)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, sendWorkers)
	errs := make(chan error, len(ds))
	for _, del := range ds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s := d.attempt(ctx, del)
			// The outcome is written even when stopping: a send that
			// finished must be recorded (or a delivered notice is sent
			// again, and a failed one waits out the whole lease), so the
			// write has its own deadline rather than ctx's cancellation.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
			defer cancel()
			if ctx.Err() != nil && s.State != DeliveryDelivered {
				// Stopping mid-send: give the claim back as due now, so a
				// restart retries at once rather than after the lease, and
				// the attempt is not counted as a failure. (A crash leaves
				// the claim to expire instead.)
				now := d.now()
				if err := d.outbox.Settle(sctx, del.ID, Settlement{State: DeliveryPending, Attempts: del.Attempts, NextAt: now, At: now}); err != nil {
					d.log.Warn("release notification at shutdown", "id", del.ID, "err", err)
				}
				return
			}
			if err := d.outbox.Settle(sctx, del.ID, s); err != nil {
				errs <- fmt.Errorf("settle delivery %d: %w", del.ID, err)
			}
			d.met.notifications.WithLabelValues(del.Notifier, outcome(s.State)).Inc()
		})
	}
	wg.Wait()
	close(errs)
	return len(ds), <-errs
}

func outcome(state string) string {
	if state == DeliveryPending {
		return "retry"
	}
	return state
}

// attempt sends del once and decides what happens next.
func (d *dispatcher) attempt(ctx context.Context, del Delivery) Settlement {
	attempts := del.Attempts + 1
	n := d.notifiers[del.Notifier]
	if n == nil {
		return Settlement{State: DeliveryFailed, Attempts: del.Attempts, At: d.now(),
			Error: fmt.Sprintf("notifier %q is no longer configured", del.Notifier)}
	}
	retryAfter, err := d.send(ctx, n, del)
	now := d.now()
	if err == nil {
		d.log.Info("notification delivered", "notifier", n.Name, "alert", del.AlertID, "event", del.Event, "attempts", attempts)
		return Settlement{State: DeliveryDelivered, Attempts: attempts, At: now}
	}
	s := Settlement{Attempts: attempts, At: now, Error: err.Error()}
	if !retryable(err) {
		d.log.Error("notification rejected; not retrying", "notifier", n.Name, "alert", del.AlertID, "err", err)
		s.State = DeliveryFailed
		return s
	}
	wait := d.backoff(attempts)
	if retryAfter > wait {
		wait = min(retryAfter, d.cfg.MaxBackoff)
	}
	if now.Add(wait).Sub(del.CreatedAt) > d.cfg.GiveUpAfter {
		d.log.Error("notification undeliverable; giving up", "notifier", n.Name, "alert", del.AlertID, "attempts", attempts, "err", err)
		s.State = DeliveryFailed
		s.Error = fmt.Sprintf("gave up after %d attempts: %v", attempts, err)
		return s
	}
	d.log.Warn("notification failed; will retry", "notifier", n.Name, "alert", del.AlertID, "attempts", attempts, "retry_in", wait, "err", err)
	s.State, s.NextAt = DeliveryPending, now.Add(wait)
	return s
}

// backoff is InitialBackoff·2^(attempts−1), capped at MaxBackoff, with
// "equal jitter" (half fixed, half random) so receivers that failed
// together are not retried in lockstep.
func (d *dispatcher) backoff(attempts int) time.Duration {
	b := d.cfg.InitialBackoff
	for i := 1; i < attempts && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	return b/2 + time.Duration(rand.Int64N(int64(b/2)+1))
}

// sendError is a failed attempt; temporary ones are retried.
type sendError struct {
	status    int
	temporary bool
	msg       string
}

func (e *sendError) Error() string { return e.msg }

func retryable(err error) bool {
	se, ok := err.(*sendError)
	return !ok || se.temporary
}

// send POSTs del to n. It returns the receiver's Retry-After, if any.
func (d *dispatcher) send(ctx context.Context, n *Notifier, del Delivery) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, n.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(del.Body))
	if err != nil {
		return 0, &sendError{msg: fmt.Sprintf("build request: %v", err)}
	}
	req.Header.Set("Content-Type", del.ContentType)
	req.Header.Set("User-Agent", "probity-monitor")
	// Receivers that deduplicate can key on this: one per alert change.
	req.Header.Set("Idempotency-Key", del.AlertID+"/"+del.Event)
	for k, v := range n.Headers {
		req.Header.Set(k, v)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		// The URL may hold a secret (Slack's does): report the notifier,
		// not the URL the transport error quotes.
		return 0, &sendError{temporary: true, msg: fmt.Sprintf("post to notifier %s: %v", n.Name, redactURL(err, n.URL))}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	var retryAfter time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	temporary := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500
	return retryAfter, &sendError{status: resp.StatusCode, temporary: temporary,
		msg: fmt.Sprintf("notifier %s answered %s: %s", n.Name, resp.Status, bytes.TrimSpace(snippet))}
}

// redactURL replaces the notifier's URL in a transport error with
// "<url>".
func redactURL(err error, u string) string {
	return string(bytes.ReplaceAll([]byte(err.Error()), []byte(u), []byte("<url>")))
}
