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

type approvals struct {
	g           *Guard
	mu          sync.Mutex
	items       map[string]*pending
	order       []string // ids, oldest first
	pending     int
	pendingArgs int
}

func newApprovals(g *Guard) *approvals { return &approvals{g: g, items: map[string]*pending{}} }

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ap_" + hex.EncodeToString(b[:])
}

// add queues an approve decision and returns its id, or, when the queue is
// full, "" and why. The run's lock is held.
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

func (q *approvals) finish(id, status, by, note string) (Approval, error) {
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
	p.a.Status, p.a.By, p.a.Note, p.a.Resolved = status, by, note, q.g.opts.Now()
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
		q.g.ledger.Refund(&p.d)
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

func (q *approvals) get(id string) (*pending, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p, ok := q.items[id]
	return p, ok
}

func (q *approvals) list(status string) []Approval {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Approval
	for _, id := range q.order {
		if p := q.items[id]; p != nil && (status == "" || p.a.Status == status) {
			out = append(out, p.a)
		}
	}
	return out
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
	for _, a := range q.list(StatusPending) {
		_, _ = q.finish(a.ID, StatusDenied, "guard", "the guard shut down")
	}
}

// Approvals lists approvals, oldest first; status "" lists all, else only
// those with that status.
func (g *Guard) Approvals(status string) []Approval { return g.approvals.list(status) }

// Approval returns one approval. Errors: ENOTFOUND.
func (g *Guard) Approval(id string) (Approval, error) {
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

// Wait blocks until approval id is resolved, or ctx is done.
// Errors: ENOTFOUND, or ctx's error.
func (g *Guard) Wait(ctx context.Context, id string) (Approval, error) {
	p, ok := g.approvals.get(id)
	if !ok {
		return Approval{}, probity.Errorf(probity.ENOTFOUND, "no approval %q", id)
	}
	select {
	case <-p.done:
		return g.Approval(id)
	case <-ctx.Done():
		return Approval{}, ctx.Err()
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
