package guard

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/policy"
)

// The states of an approval.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusDenied   = "denied"
	StatusExpired  = "expired" // nobody answered in time: denied
)

// Approval is a call waiting for (or past) a person's decision.
type Approval struct {
	ID     string          `json:"id"`
	Status string          `json:"status"`
	Run    string          `json:"run"`
	CallID string          `json:"call_id"`
	Tool   string          `json:"tool"`
	Args   json.RawMessage `json:"args,omitempty"`
	// ArgsBytes is the size of arguments no longer kept: once an approval
	// is resolved, arguments over MaxAuditArgs are dropped.
	ArgsBytes int       `json:"args_bytes,omitempty"`
	Rule      string    `json:"rule"`
	Message   string    `json:"message,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Created   time.Time `json:"created"`
	Deadline  time.Time `json:"deadline"`
	Resolved  time.Time `json:"resolved,omitzero"`
	By        string    `json:"by,omitempty"`
	Note      string    `json:"note,omitempty"`
}

type pending struct {
	a     Approval
	done  chan struct{}
	timer *time.Timer
	rs    *runState
	step  probity.Step
	d     policy.Decision
}

// keepResolved bounds how many resolved approvals stay listed.
const keepResolved = 1000

// Pending approvals hold the whole call until a person answers; these
// bound how many, and how many bytes of arguments, may wait at once. Past
// them a call that needs approval is denied.
const (
	maxPending     = 1000
	maxPendingArgs = 64 << 20
)

// ApprovalStore keeps approvals where several guards share them (see
// Options.Approvals); store/sqlite and store/postgres implement it. The
// guard that holds a call keeps the call itself in memory and writes its
// approval here; any guard may resolve it here; the holding guard polls for
// the answer and then lets the call run or refunds its budget.
type ApprovalStore interface {
	// AddApproval stores a new pending approval.
	AddApproval(ctx context.Context, a Approval) error
	// ResolveApproval moves pending approval id to status (approved,
	// denied or expired) with by, note and the time at, atomically: of
	// two guards resolving one approval at once, one wins and the other
	// gets ECONFLICT with the approval as the winner left it. An approval
	// whose deadline is before at can only expire: resolving it otherwise
	// expires it and returns ECONFLICT. ENOTFOUND: no such approval.
	ResolveApproval(ctx context.Context, id, status, by, note string, at time.Time) (Approval, error)
	// Approval returns one approval. ENOTFOUND: no such approval.
	Approval(ctx context.Context, id string) (Approval, error)
	// Approvals lists approvals with status ("" for all), oldest first:
	// the newest limit of them.
	Approvals(ctx context.Context, status string, limit int) ([]Approval, error)
	// PruneApprovals expires the pending approvals whose deadline is
	// before now (their guard is gone: it would have expired them) and
	// deletes those resolved before resolvedBefore.
	PruneApprovals(ctx context.Context, now, resolvedBefore time.Time) error
}

type approvals struct {
	g           *Guard
	shared      ApprovalStore // nil: approvals live here only
	mu          sync.Mutex
	items       map[string]*pending
	order       []string // ids, oldest first
	pending     int
	pendingArgs int
}

func newApprovals(g *Guard, shared ApprovalStore) *approvals {
	return &approvals{g: g, shared: shared, items: map[string]*pending{}}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ap_" + hex.EncodeToString(b[:])
}

// add queues an approve decision and returns its id, or, when the queue is
// full (or the shared store cannot take it), "" and why. The run's lock is
// held.
func (q *approvals) add(c Call, rs *runState, step probity.Step, d policy.Decision) (string, string) {
	now := q.g.opts.Now()
	p := &pending{
		a: Approval{ID: newID(), Status: StatusPending, Run: c.Run, CallID: c.ID, Tool: c.Tool, Args: c.Args,
			Rule: d.Rule, Message: d.Message, Reason: d.Reason, Created: now, Deadline: now.Add(q.g.opts.ApprovalTimeout)},
		done: make(chan struct{}),
		rs:   rs,
		step: step,
		d:    d,
	}
	id := p.a.ID
	q.mu.Lock()
	if q.pending >= maxPending || q.pendingArgs+len(c.Args) > maxPendingArgs {
		why := fmt.Sprintf("too many calls are waiting for approval (%d, with %d bytes of arguments); this one is denied", q.pending, q.pendingArgs)
		q.mu.Unlock()
		return "", why
	}
	q.pending++
	q.pendingArgs += len(c.Args)
	q.mu.Unlock()
	if q.shared != nil {
		// Stored before it is announced: an approver who follows the
		// webhook to any guard finds it.
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		err := q.shared.AddApproval(ctx, p.a)
		cancel()
		if err != nil {
			q.mu.Lock()
			q.pending--
			q.pendingArgs -= len(c.Args)
			q.mu.Unlock()
			q.g.log.Error("store approval", "err", err, "tool", c.Tool)
			return "", "the approval could not be stored (" + err.Error() + "); the call is denied"
		}
	}
	q.mu.Lock()
	q.items[id] = p
	q.order = append(q.order, id)
	q.trim()
	p.timer = time.AfterFunc(q.g.opts.ApprovalTimeout, func() { q.expire(id) })
	a := p.a
	q.mu.Unlock()
	q.g.notify("approval.pending", a)
	return id, ""
}

// trim forgets the oldest resolved approvals beyond keepResolved.
func (q *approvals) trim() {
	if len(q.order) <= keepResolved+len(q.items)/2 {
		return
	}
	resolved := 0
	for _, id := range q.order {
		if q.items[id].a.Status != StatusPending {
			resolved++
		}
	}
	keep := q.order[:0]
	for _, id := range q.order {
		if p := q.items[id]; p.a.Status != StatusPending && resolved > keepResolved {
			delete(q.items, id)
			resolved--
			continue
		}
		keep = append(keep, id)
	}
	q.order = keep
}

func (q *approvals) expire(id string) {
	q.finish(id, StatusExpired, "guard", "no decision before the deadline")
}

// resolve approves or denies a pending approval.
func (q *approvals) resolve(id string, approve bool, by, note string) (Approval, error) {
	status := StatusDenied
	if approve {
		status = StatusApproved
	}
	return q.finish(id, status, by, note)
}

// finish resolves approval id. With a shared store the store decides
// first, atomically, so that two guards resolving one approval agree on
// the outcome; the holding guard, if it is this one, then completes the
// call.
func (q *approvals) finish(id, status, by, note string) (Approval, error) {
	now := q.g.opts.Now()
	if q.shared == nil {
		return q.complete(id, Approval{Status: status, By: by, Note: note, Resolved: now})
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	a, err := q.shared.ResolveApproval(ctx, id, status, by, note, now)
	cancel()
	switch probity.ErrorCode(err) {
	case "", probity.ECONFLICT:
		// Either way a.Status is the outcome the store holds.
		if a.Status != StatusPending {
			q.complete(id, a)
		}
		return a, err
	case probity.ENOTFOUND:
		return a, err
	}
	if by == "guard" {
		// The guard itself gives up on the call (deadline, shutdown):
		// the call must not wait on a store that does not answer. The
		// store's row stays pending until PruneApprovals expires it.
		q.g.log.Error("resolve approval in store", "err", err, "approval", id)
		return q.complete(id, Approval{Status: status, By: by, Note: note, Resolved: now})
	}
	return Approval{}, err
}

// complete settles a call held here with the outcome res (its Status, By,
// Note and Resolved): the call is recorded in its run, its budget refunded
// if it will not run, the outcome audited and announced, and its waiter
// woken. ENOTFOUND when this guard does not hold the call; ECONFLICT when
// it is already settled.
func (q *approvals) complete(id string, res Approval) (Approval, error) {
	q.mu.Lock()
	p := q.items[id]
	if p == nil {
		q.mu.Unlock()
		return Approval{}, probity.Errorf(probity.ENOTFOUND, "no approval %q", id)
	}
	if p.a.Status != StatusPending {
		a := p.a
		q.mu.Unlock()
		return a, &probity.Error{Code: probity.ECONFLICT, Message: "approval " + id + " is already " + a.Status}
	}
	status := res.Status
	p.a.Status, p.a.By, p.a.Note, p.a.Resolved = status, res.By, res.Note, res.Resolved
	p.timer.Stop()
	q.pending--
	q.pendingArgs -= len(p.a.Args)
	if len(p.a.Args) > MaxAuditArgs {
		// Resolved approvals stay listed for a while; their big arguments
		// need not.
		p.a.ArgsBytes, p.a.Args = len(p.a.Args), nil
	}
	a := p.a
	q.mu.Unlock()

	// The call's fate is now known: record it in its run, and give back the
	// budget it reserved if it will not run.
	p.rs.mu.Lock()
	if status == StatusApproved {
		p.rs.record(p.step, "")
	} else {
		q.g.refund(&p.d)
		p.rs.record(p.step, "not approved: "+status)
	}
	p.rs.mu.Unlock()
	// The outcome is audited, and its webhook under way, before the waiting
	// call learns it: whoever acts on the answer finds it recorded.
	if err := q.g.auditApproval(a); err != nil {
		q.g.log.Error("audit log failed", "err", err, "approval", id)
	}
	q.g.notify("approval.resolved", a)
	close(p.done)
	return a, nil
}

// poll looks in the shared store for answers to the calls this guard
// holds that were given through other guards.
func (q *approvals) poll() {
	defer q.g.wg.Done()
	t := time.NewTicker(q.g.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-q.g.stop:
			return
		case <-t.C:
		}
		for _, id := range q.pendingIDs() {
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			a, err := q.shared.Approval(ctx, id)
			cancel()
			if err != nil {
				if probity.ErrorCode(err) != probity.ENOTFOUND {
					q.g.log.Warn("poll approval", "err", err, "approval", id)
				}
				continue
			}
			if a.Status != StatusPending {
				q.complete(id, a)
			}
		}
	}
}

func (q *approvals) pendingIDs() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var ids []string
	for _, id := range q.order {
		if p := q.items[id]; p != nil && p.a.Status == StatusPending {
			ids = append(ids, id)
		}
	}
	return ids
}

func (q *approvals) get(id string) (*pending, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p, ok := q.items[id]
	return p, ok
}

func (q *approvals) list(ctx context.Context, status string) ([]Approval, error) {
	if q.shared != nil {
		return q.shared.Approvals(ctx, status, keepResolved+maxPending)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Approval
	for _, id := range q.order {
		if p := q.items[id]; p != nil && (status == "" || p.a.Status == status) {
			out = append(out, p.a)
		}
	}
	return out, nil
}

func (q *approvals) hasPending(run string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.ContainsFunc(q.order, func(id string) bool {
		p := q.items[id]
		return p != nil && p.a.Run == run && p.a.Status == StatusPending
	})
}

func (q *approvals) closeAll() {
	for _, id := range q.pendingIDs() {
		_, _ = q.finish(id, StatusDenied, "guard", "the guard shut down")
	}
}

// Approvals lists approvals, oldest first; status "" lists all, else only
// those with that status. With a shared store it lists every guard's, and
// a store that cannot be read lists none (the error is logged; see
// ListApprovals).
func (g *Guard) Approvals(status string) []Approval {
	out, err := g.ListApprovals(context.Background(), status)
	if err != nil {
		g.log.Error("list approvals", "err", err)
	}
	return out
}

// ListApprovals lists approvals like Approvals, and says when the shared
// store cannot be read.
func (g *Guard) ListApprovals(ctx context.Context, status string) ([]Approval, error) {
	return g.approvals.list(ctx, status)
}

// Approval returns one approval (from the shared store, when there is
// one). Errors: ENOTFOUND.
func (g *Guard) Approval(id string) (Approval, error) {
	if g.approvals.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		return g.approvals.shared.Approval(ctx, id)
	}
	p, ok := g.approvals.get(id)
	if !ok {
		return Approval{}, probity.Errorf(probity.ENOTFOUND, "no approval %q", id)
	}
	g.approvals.mu.Lock()
	defer g.approvals.mu.Unlock()
	return p.a, nil
}

// Approve lets a pending call run. Errors: ENOTFOUND, ECONFLICT (already
// resolved).
func (g *Guard) Approve(id, by, note string) (Approval, error) {
	return g.approvals.resolve(id, true, by, note)
}

// Deny refuses a pending call. Errors: ENOTFOUND, ECONFLICT.
func (g *Guard) Deny(id, by, note string) (Approval, error) {
	return g.approvals.resolve(id, false, by, note)
}

// Wait blocks until approval id is resolved, or ctx is done. An approval
// another guard holds (shared store) is polled for.
// Errors: ENOTFOUND, or ctx's error.
func (g *Guard) Wait(ctx context.Context, id string) (Approval, error) {
	p, ok := g.approvals.get(id)
	if !ok {
		if g.approvals.shared == nil {
			return Approval{}, probity.Errorf(probity.ENOTFOUND, "no approval %q", id)
		}
		return g.waitShared(ctx, id)
	}
	select {
	case <-p.done:
		return g.Approval(id)
	case <-ctx.Done():
		return Approval{}, ctx.Err()
	}
}

func (g *Guard) waitShared(ctx context.Context, id string) (Approval, error) {
	t := time.NewTicker(g.opts.PollInterval)
	defer t.Stop()
	for {
		a, err := g.approvals.shared.Approval(ctx, id)
		if err != nil || a.Status != StatusPending {
			return a, err
		}
		select {
		case <-ctx.Done():
			return Approval{}, ctx.Err()
		case <-t.C:
		}
	}
}

// notify posts an approval event to the webhook, if any, without blocking
// the decision.
func (g *Guard) notify(event string, a Approval) {
	if g.opts.Webhook == "" {
		return
	}
	body, err := json.Marshal(map[string]any{"event": event, "approval": a})
	if err != nil {
		return
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		req, err := http.NewRequest(http.MethodPost, g.opts.Webhook, bytes.NewReader(body))
		if err != nil {
			g.log.Error("webhook", "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Probity-Event", event)
		resp, err := g.opts.HTTPClient.Do(req)
		if err != nil {
			g.log.Warn("webhook failed", "event", event, "approval", a.ID, "err", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			g.log.Warn("webhook refused", "event", event, "approval", a.ID, "status", resp.StatusCode)
		}
	}()
}
