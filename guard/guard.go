// Package guard enforces a policy at run time. A Guard holds what a policy
// needs between calls: one history per run, budget usage shared by all runs,
// a queue of calls waiting for a person's approval, and an append-only audit
// log of every decision.
//
// Agents written in Go call Check before a tool runs, or wrap their tool
// functions with Wrap. Agents in any language use the HTTP decision service
// (Handler, served by `probity guard serve`). The model-API proxy uses
// ProxyHook, and the MCP proxy (package mcpguard) calls Check on every
// tools/call.
//
// The guard fails closed: a call is denied, whatever the tool's class, when a
// rule or budget that applies to it cannot be evaluated (an error, the cost
// or time limit, an argument of the wrong type), and a side-effecting call
// (which includes every tool not configured or named read-only) is denied
// when the audit log cannot be written. Failing open is a per-rule choice in
// the policy (fail_open: true).
package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/wire"
	"github.com/probity/probity/policy"
)

// Options configures a Guard. Only Policy is required.
type Options struct {
	// Policy is the compiled policy to enforce.
	Policy *policy.Policy
	// Logger receives operational logs (default: discard). Every decision
	// the policy would have blocked in shadow mode is logged at Info.
	Logger *slog.Logger
	// Audit receives one JSON line per decision and per approval outcome;
	// nil keeps no audit log. See OpenAudit.
	Audit *AuditLog
	// ApprovalTimeout is how long an approve decision waits for a person
	// before it becomes a deny (default 5 minutes).
	ApprovalTimeout time.Duration
	// Webhook, when set, receives a POST for every new approval and every
	// resolution (JSON: {"event": "approval.pending"|"approval.resolved",
	// "approval": {...}}).
	Webhook string
	// HTTPClient sends webhooks (default: a client with a 5 s timeout).
	HTTPClient *http.Client
	// EvalTimeout bounds one policy evaluation (default 100 ms; 2 s with
	// a shared Ledger). A decision that runs out of time fails closed for
	// side-effecting tools.
	EvalTimeout time.Duration
	// IdleRun is how long a run's history is kept after its last call
	// (default 1 hour); its per-run budgets are dropped with it.
	IdleRun time.Duration
	// Now is the clock (default time.Now), for budgets' hour and day windows
	// and approval deadlines.
	Now func() time.Time
	// History bounds what is kept of each run (default
	// policy.DefaultHistoryLimits): clients send histories the guard holds
	// in memory, and a rule that needs text that was cut fails closed.
	History policy.HistoryLimits
	// Ledger, when set, keeps budget usage instead of memory: a database
	// that several guards share, so that they enforce one budget (see
	// store/sqlite and store/postgres). Its reserve counts against
	// EvalTimeout.
	Ledger policy.LedgerBackend
	// Approvals, when set, keeps approvals where several guards share
	// them: a call held by one guard may be approved or denied through
	// any of them, and the holding guard learns the answer by polling
	// every PollInterval.
	Approvals ApprovalStore
	// PollInterval is how often a guard with a shared Approvals store
	// looks for answers given through other guards (default 250 ms).
	PollInterval time.Duration
}

// Guard enforces one policy. It is safe for concurrent use by many runs.
type Guard struct {
	opts      Options
	p         *policy.Policy
	log       *slog.Logger
	ledger    *policy.Ledger
	approvals *approvals
	callSeq   atomic.Uint64

	mu   sync.Mutex
	runs map[string]*runState

	shadowMu sync.Mutex
	shadow   map[string]int // rule -> calls it would have blocked

	stop chan struct{}
	wg   sync.WaitGroup
}

// runState is one run's history. Its lock serialises the run's decisions, so
// counters and require_before see calls in the order they were decided.
type runState struct {
	mu       sync.Mutex
	id       string
	s        *policy.Session
	pos      int             // next source position for steps the guard records itself
	messages int             // how many client-sent messages are already in s
	external bool            // the client sends its history as messages
	decided  map[string]bool // client call ids recorded ahead of their message
	conv     wire.Converter
	lastUsed time.Time
}

// Call is one tool call to decide.
type Call struct {
	// Run identifies the agent run (conversation, session, job); history,
	// per-run budgets and temporal rules are kept per run. Default "default".
	Run string `json:"run"`
	// ID is the tool call's id; results quote it. The guard assigns one when
	// it is empty.
	ID string `json:"call_id,omitempty"`
	// Tool is the tool's name.
	Tool string `json:"tool"`
	// Args is the call's arguments as a JSON object.
	Args json.RawMessage `json:"args,omitempty"`
	// Messages, when set, is the run's conversation so far: OpenAI chat
	// messages (role, content, tool_calls, tool_call_id) or Anthropic
	// Messages (content blocks with tool_use and tool_result). The guard
	// then takes the run's history from the messages instead of recording
	// calls itself; send the whole conversation each time (only new
	// messages are read).
	Messages []json.RawMessage `json:"messages,omitempty"`
}

// Decision is the guard's answer on one tool call: the JSON body of POST
// /v1/decide, built from the policy's decision (policy.Decision). It was
// called Verdict, a name that now means only a trace's sum
// (probity.Verdict).
type Decision struct {
	// Decision is "allow", "deny" or "approve" (waiting for a person; see
	// ApprovalID). Calls that only log rules fired on are allowed.
	Decision string `json:"decision"`
	// Rule names the rule or budget that decided.
	Rule string `json:"rule,omitempty"`
	// Message is what the agent should be told.
	Message string `json:"message,omitempty"`
	// Reason explains the decision.
	Reason string `json:"reason,omitempty"`
	// Evidence supports the reason.
	Evidence []probity.Evidence `json:"evidence,omitempty"`
	// Would is, in shadow mode, what enforcement would have decided.
	Would string `json:"would,omitempty"`
	// ApprovalID identifies the pending approval of an "approve" decision.
	ApprovalID string `json:"approval_id,omitempty"`
	// CallID is the call's id (assigned by the guard when the call had none).
	CallID string `json:"call_id"`
	// SideEffect says whether the tool is classed as changing the world.
	SideEffect bool `json:"side_effect"`
	// Matches lists every rule and budget that fired.
	Matches []policy.Match `json:"matches,omitempty"`
	// Errors lists rules that could not be evaluated and were skipped.
	Errors []string `json:"errors,omitempty"`
}

// Verdict is the old name of Decision.
//
// Deprecated: use Decision; Verdict names a trace's sum (probity.Verdict).
type Verdict = Decision

// Allowed reports whether the call may run.
func (v *Decision) Allowed() bool { return v.Decision == "allow" }

// New returns a Guard for opts.Policy and starts its housekeeping; Close
// stops it.
func New(opts Options) (*Guard, error) {
	if opts.Policy == nil {
		return nil, probity.Errorf(probity.EINVALID, "guard: no policy")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ApprovalTimeout <= 0 {
		opts.ApprovalTimeout = 5 * time.Minute
	}
	if opts.EvalTimeout <= 0 {
		opts.EvalTimeout = 100 * time.Millisecond
		if opts.Ledger != nil {
			// A shared budget's reserve is a database transaction that
			// may wait for another guard's.
			opts.EvalTimeout = 2 * time.Second
		}
	}
	if opts.IdleRun <= 0 {
		opts.IdleRun = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.History == (policy.HistoryLimits{}) {
		opts.History = policy.DefaultHistoryLimits
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	ledger := policy.NewLedger()
	if opts.Ledger != nil {
		ledger = policy.NewSharedLedger(opts.Ledger)
	}
	g := &Guard{
		opts:   opts,
		p:      opts.Policy,
		log:    opts.Logger.With("component", "guard"),
		ledger: ledger,
		runs:   map[string]*runState{},
		shadow: map[string]int{},
		stop:   make(chan struct{}),
	}
	g.approvals = newApprovals(g, opts.Approvals)
	g.wg.Add(1)
	go g.janitor()
	if opts.Approvals != nil {
		g.wg.Add(1)
		go g.approvals.poll()
	}
	return g, nil
}

// Close stops housekeeping, denies every pending approval (the calls behind
// them will not run) and waits for webhooks in flight.
func (g *Guard) Close() error {
	select {
	case <-g.stop:
		return nil
	default:
	}
	close(g.stop)
	g.approvals.closeAll()
	g.wg.Wait()
	return nil
}

// Policy returns the policy the guard enforces.
func (g *Guard) Policy() *policy.Policy { return g.p }

// Ledger returns the guard's budget ledger.
func (g *Guard) Ledger() *policy.Ledger { return g.ledger }

func (g *Guard) run(id string) *runState {
	g.mu.Lock()
	defer g.mu.Unlock()
	rs := g.runs[id]
	if rs == nil {
		rs = &runState{id: id, s: g.p.NewSession(id, g.ledger)}
		rs.s.SetLimits(g.opts.History)
		g.runs[id] = rs
	}
	return rs
}

// Decide decides c without waiting: an "approve" verdict carries the id of
// a pending approval (see Wait, and Approve and Deny). An allowed call is
// recorded in its run's history as executed.
//
// Errors: EINVALID for a call without a tool name or with bad messages.
func (g *Guard) Decide(ctx context.Context, c Call) (Decision, error) {
	start := time.Now()
	if c.Tool == "" {
		return Decision{}, probity.Errorf(probity.EINVALID, "call has no tool name")
	}
	if c.Run == "" {
		c.Run = "default"
	}
	clientID := c.ID != ""
	if !clientID {
		c.ID = "call-" + strconv.FormatUint(g.callSeq.Add(1), 10)
	}
	if len(c.Args) > 0 && !json.Valid(c.Args) {
		return Decision{}, probity.Errorf(probity.EINVALID, "call %s: args are not valid JSON", c.ID)
	}
	// The time limit covers the whole decision: reading the client's
	// conversation as well as evaluating the rules.
	ctx, cancel := context.WithTimeout(ctx, g.opts.EvalTimeout)
	defer cancel()
	rs := g.run(c.Run)
	rs.mu.Lock()
	now := g.opts.Now()
	rs.lastUsed = now
	var behind string // why the history is not up to date, if it is not
	if c.Messages != nil {
		n, complete, err := rs.sync(ctx, c.Messages)
		if err != nil {
			rs.mu.Unlock()
			return Decision{}, err
		}
		if !complete {
			behind = fmt.Sprintf("the conversation could not be read within the evaluation time limit (%s): %d of %d messages read; the next request reads on",
				g.opts.EvalTimeout, n, len(c.Messages))
		}
	}
	if rs.s.Full() {
		behind = fmt.Sprintf("the run's history reached the guard's limit of %d steps; start a new run", g.opts.History.Steps)
	}
	step := probity.Step{Kind: probity.KindToolCall, Pos: probity.Position{Index: rs.pos},
		Tool: &probity.ToolCall{ID: c.ID, Name: c.Tool, Args: c.Args}, Start: now}
	if rs.external && !clientID {
		// The client's messages will carry this call under an id the
		// guard cannot know; they, not the guard, record it.
		step.Tool.ID = ""
	}
	var d policy.Decision
	if behind != "" {
		d = g.cannotDecide(step, behind, rs.s.Full())
	} else {
		d = g.decide(ctx, rs.s, step)
	}
	v := verdict(&d, c.ID)
	switch {
	case d.Allowed():
		rs.record(step, "")
	case d.Effect == policy.Approve:
		var full string
		if v.ApprovalID, full = g.approvals.add(c, rs, step, d); full != "" {
			g.refund(&d)
			v.Decision, v.Message, v.Reason = "deny", full, v.Reason+"; "+full
			rs.record(step, full)
		}
	default:
		rs.record(step, v.Message)
	}
	rs.mu.Unlock()
	if d.Would != "" {
		g.noteShadow(c, &d)
	}
	if err := g.audit(c, &v, time.Since(start)); err != nil && d.SideEffect && v.Decision == "allow" {
		// No record, no side effect: an unaudited action is what the log
		// exists to prevent.
		g.log.Error("audit log failed; denying side-effecting call", "err", err, "tool", c.Tool)
		v = Decision{Decision: "deny", Rule: "audit", CallID: c.ID, SideEffect: true,
			Message: "the guard cannot write its audit log; side-effecting calls are denied",
			Reason:  err.Error()}
	}
	return v, nil
}

// cannotDecide is the decision when the run's history is not complete: a
// side-effecting call is denied (every call, once the run is full, since
// the guard can no longer count it); a read-only call goes ahead with the
// reason listed in the decision's errors.
func (g *Guard) cannotDecide(step probity.Step, why string, denyAll bool) policy.Decision {
	d := policy.Decision{Effect: policy.Allow, SideEffect: g.p.SideEffecting(step.Tool.Name)}
	if d.SideEffect || denyAll {
		d.Effect, d.Rule, d.Message, d.Reason = policy.Deny, "history-limit", "the guard cannot check this call: "+why, why
		return d
	}
	d.Errors = []string{why}
	return d
}

// decide runs the policy within ctx's time limit, failing closed if the
// engine panics (it should not; this is the last line of defence).
func (g *Guard) decide(ctx context.Context, s *policy.Session, step probity.Step) (d policy.Decision) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("policy engine panic", "panic", r, "tool", step.Tool.Name)
			// The rules that apply could not be evaluated: deny, whatever
			// the tool's class.
			d = policy.Decision{Effect: policy.Deny, Rule: "engine", SideEffect: g.p.SideEffecting(step.Tool.Name),
				Message: "the policy engine failed; the call is denied", Reason: fmt.Sprint(r),
				Errors: []string{fmt.Sprintf("engine failure: %v", r)}}
		}
	}()
	return g.p.Decide(ctx, s, step)
}

func verdict(d *policy.Decision, callID string) Decision {
	v := Decision{Decision: string(d.Effect), Rule: d.Rule, Message: d.Message, Reason: d.Reason,
		Evidence: d.Evidence, Would: string(d.Would), CallID: callID, SideEffect: d.SideEffect,
		Matches: d.Matches, Errors: d.Errors}
	if d.Effect == policy.Log {
		v.Decision = "allow"
	}
	return v
}

// Check decides c and, when a person must approve it, waits for the answer
// (or the approval timeout, or ctx) so that the verdict is "allow" or
// "deny". It is what a Go agent calls before running a tool.
func (g *Guard) Check(ctx context.Context, c Call) (Decision, error) {
	v, err := g.Decide(ctx, c)
	if err != nil || v.Decision != "approve" {
		return v, err
	}
	a, err := g.Wait(ctx, v.ApprovalID)
	if err != nil {
		// The caller gave up: the call will not run.
		a, _ = g.approvals.resolve(v.ApprovalID, false, "guard", "caller stopped waiting: "+err.Error())
	}
	return approvalDecision(v, a), nil
}

// approvalDecision turns an approve decision into the final one.
func approvalDecision(v Decision, a Approval) Decision {
	if a.Status == StatusApproved {
		v.Decision = "allow"
		v.Reason = fmt.Sprintf("%s; approved by %s", v.Reason, orSomeone(a.By))
		return v
	}
	v.Decision = "deny"
	switch a.Status {
	case StatusExpired:
		v.Reason = fmt.Sprintf("%s; no approval within %s", v.Reason, a.Deadline.Sub(a.Created).Round(time.Second))
	default:
		v.Reason = fmt.Sprintf("%s; denied by %s", v.Reason, orSomeone(a.By))
	}
	if a.Note != "" {
		v.Reason += ": " + a.Note
	}
	return v
}

func orSomeone(s string) string {
	if s == "" {
		return "an approver"
	}
	return s
}

// Result records the outcome of a call the guard allowed, so that
// require_before knows whether it succeeded and rules over run results see
// it. failed marks an error result.
func (g *Guard) Result(run, callID, tool, content string, failed bool) {
	if run == "" {
		run = "default"
	}
	rs := g.run(run)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.external {
		return // the client's messages carry results
	}
	st := probity.Step{Kind: probity.KindToolResult, Pos: probity.Position{Index: rs.pos}, Content: content,
		Tool: &probity.ToolCall{ID: callID, Name: tool}, Start: g.opts.Now()}
	if failed {
		st.Error = &probity.ToolError{Message: content}
	}
	rs.pos++
	rs.s.Append(st)
}

// Say records a message of the run's conversation (role "user", "assistant"
// or "system"), for rules about confirmation and turns, when the client does
// not send messages with each call.
func (g *Guard) Say(run, role, content string) error {
	k := probity.Kind(role)
	if k != probity.KindUser && k != probity.KindAssistant && k != probity.KindSystem {
		return probity.Errorf(probity.EINVALID, "unknown role %q (want user, assistant or system)", role)
	}
	if run == "" {
		run = "default"
	}
	rs := g.run(run)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.s.Append(probity.Step{Kind: k, Pos: probity.Position{Index: rs.pos}, Content: content, Start: g.opts.Now()})
	rs.pos++
	return nil
}

// History returns a copy of run's history as the guard recorded it: every
// decided call (denied ones followed by a refusal), result and message.
func (g *Guard) History(run string) []probity.Step {
	g.mu.Lock()
	rs := g.runs[run]
	g.mu.Unlock()
	if rs == nil {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]probity.Step(nil), rs.s.Steps()...)
}

// record adds a decided call to the run's history; a refused call
// (refusal != "") is followed by the refusal as its result, which is what
// the agent saw. When the client sends its conversation, a call is recorded
// only if it has the client's id: the conversation will bring the call
// again, and sync skips it then; its result comes from the conversation.
func (rs *runState) record(step probity.Step, refusal string) {
	if rs.external {
		if step.Tool.ID == "" {
			return
		}
		rs.decided[step.Tool.ID] = true
		if refusal == "" {
			rs.s.Append(step)
		} else {
			rs.s.AppendBlocked(step)
		}
		return
	}
	rs.pos++
	if refusal == "" {
		rs.s.Append(step)
		return
	}
	rs.s.AppendBlocked(step)
	rs.s.Append(probity.Step{Kind: probity.KindToolResult, Pos: probity.Position{Index: rs.pos}, Content: refusal,
		Tool: &probity.ToolCall{ID: step.Tool.ID, Name: step.Tool.Name}, Start: step.Start,
		Error: &probity.ToolError{Message: refusal, Code: "policy-denied"}})
	rs.pos++
}

// ShadowReport returns, per rule, how many calls shadow mode let through
// that enforcement would have blocked (denied or sent for approval).
func (g *Guard) ShadowReport() map[string]int {
	g.shadowMu.Lock()
	defer g.shadowMu.Unlock()
	out := make(map[string]int, len(g.shadow))
	for k, v := range g.shadow {
		out[k] = v
	}
	return out
}

func (g *Guard) noteShadow(c Call, d *policy.Decision) {
	g.shadowMu.Lock()
	g.shadow[d.Rule]++
	g.shadowMu.Unlock()
	g.log.Info("shadow: would have blocked", "would", string(d.Would), "rule", d.Rule, "run", c.Run, "tool", c.Tool, "reason", d.Reason)
}

// janitor drops runs idle for longer than IdleRun.
func (g *Guard) janitor() {
	defer g.wg.Done()
	t := time.NewTicker(min(g.opts.IdleRun/4, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.evictIdle(g.opts.Now().Add(-g.opts.IdleRun))
		}
	}
}

func (g *Guard) evictIdle(before time.Time) {
	g.mu.Lock()
	var gone []string
	for id, rs := range g.runs {
		rs.mu.Lock()
		idle := rs.lastUsed.Before(before)
		rs.mu.Unlock()
		if idle && !g.approvals.hasPending(id) {
			delete(g.runs, id)
			gone = append(gone, id)
		}
	}
	g.mu.Unlock()
	for _, id := range gone {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		if err := g.ledger.ForgetRun(ctx, id, before); err != nil {
			g.log.Warn("forget run's budgets", "run", id, "err", err)
		}
		cancel()
	}
	if g.opts.Approvals != nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		now := g.opts.Now()
		if err := g.opts.Approvals.PruneApprovals(ctx, now, now.Add(-keepResolvedFor)); err != nil {
			g.log.Warn("prune approvals", "err", err)
		}
		cancel()
	}
}

// storeTimeout bounds a shared store's operations that no request waits
// on (refunds, expiry, housekeeping).
const storeTimeout = 10 * time.Second

// keepResolvedFor is how long a shared store keeps resolved approvals.
const keepResolvedFor = 24 * time.Hour

// refund gives back the budget a call reserved that will not run. A
// refund that fails leaves the budget charged: that errs on the side of
// spending less, so it is logged, not fatal.
func (g *Guard) refund(d *policy.Decision) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := g.ledger.Refund(ctx, d); err != nil {
		g.log.Error("budget refund failed; the budget stays charged", "err", err)
	}
}

// errCode maps an error to its probity code, for transports.
func errCode(err error) string {
	var pe *probity.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return probity.ETIMEOUT
	}
	return probity.EINTERNAL
}
