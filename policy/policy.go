// Package policy is Probity's one policy language: YAML rules over tool calls
// in the context of their run, with conditions in CEL, temporal rules
// (must-precede, must-not-follow, at-most-N, explicit confirmation) and
// budgets on side effects.
//
// One compiled *Policy serves three uses. Offline, Findings reports every
// violation in a recorded trace (probity analyze --policy). In evals, the
// same Findings back an assertion. At run time, Decide answers allow, deny
// or approve for one call, and package guard keeps the state (sessions,
// budgets, approvals, audit log) around it.
//
// A policy is compiled once by Parse or LoadFile; a CEL expression that does
// not compile is rejected with the line and column of the fault in the YAML
// file. Every evaluation runs with a context and a cost limit.
package policy

import (
	"log/slog"
	"regexp"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/probity/probity"
)

// Mode says whether a policy blocks calls or only reports them.
type Mode string

// The modes. In shadow mode every decision is computed and logged as it would
// be enforced, but the call goes ahead: it is how a new policy is tried on
// live traffic before it can hurt anyone.
const (
	Enforce Mode = "enforce"
	Shadow  Mode = "shadow"
)

// Effect is what a rule does when it fires, and what a decision says.
type Effect string

// The effects, in increasing order of strength. Allow is only ever a
// decision; a rule's action is Log, Approve or Deny.
const (
	Allow   Effect = "allow"   // nothing fired
	Log     Effect = "log"     // allowed, but the rule is recorded
	Approve Effect = "approve" // a person must approve before the call runs
	Deny    Effect = "deny"    // the call must not run
)

func (e Effect) rank() int {
	switch e {
	case Log:
		return 1
	case Approve:
		return 2
	case Deny:
		return 3
	}
	return 0
}

// Period is the window a budget counts over.
type Period string

// The budget periods. Hours and days are fixed UTC windows (09:00-10:00,
// one calendar day), so every replica of a guard agrees on where they start.
const (
	PerRun  Period = "run"
	PerHour Period = "hour"
	PerDay  Period = "day"
)

// DefaultCostLimit bounds the CEL cost of one expression evaluation. It is
// generous for any rule a person writes over a few hundred steps, and stops
// a rule that iterates over a hostile, enormous history.
const DefaultCostLimit = 1_000_000

// Policy is a compiled policy. It is safe for concurrent use; per-run state
// lives in Sessions and budget state in a Ledger.
type Policy struct {
	// File is the path the policy was loaded from, if any.
	File string
	// Mode is the policy-wide mode; a rule may override it.
	Mode Mode
	// Rules are the rules in file order.
	Rules []*Rule
	// Budgets are the budgets in file order.
	Budgets []*Budget

	env        *cel.Env
	costLimit  uint64
	sideEffect func(tool string) bool
	logger     *slog.Logger
	usesRun    bool // some expression reads run: sessions keep CEL-ready history
	usesProv   bool // some expression asks provenance: sessions keep an index

	mu    sync.RWMutex
	plans map[string]*plan // tool name -> the rules and budgets that apply
}

// Rule is one compiled rule.
type Rule struct {
	// Name identifies the rule in decisions, findings ("policy:<name>") and
	// the audit log.
	Name string
	// Action is what the rule does when it fires: Deny, Approve or Log.
	Action Effect
	// Mode overrides the policy's mode for this rule when set.
	Mode Mode
	// Message is what the agent (or the approver) is told.
	Message string
	// Severity ranks the rule's offline findings.
	Severity probity.Severity
	// Tools are path.Match globs over tool names; empty means every tool.
	Tools []string
	// SideEffects, when set, selects tools by class: true for tools that
	// change the world, false for read-only ones.
	SideEffects *bool
	// FailOpen lets a call through when this rule cannot be evaluated
	// (listing the error). The default is to fail closed: deny, whatever
	// the tool's class.
	FailOpen bool
	// Line is the rule's line in the policy file.
	Line int

	when, deny        *expr
	requireBefore     []string
	forbidAfter       []string
	notAfterUntrusted bool
	maxPerTurn        int
	maxPerRun         int
	maxPerMessage     int
	confirm           *regexp.Regexp
	index             int
}

// Budget is one compiled budget: a cap on calls or on a summed amount per
// run, hour or day, optionally per key.
type Budget struct {
	// Name identifies the budget in decisions and findings.
	Name string
	// Message is what the agent is told when the budget is exhausted.
	Message string
	// Tools and SideEffects select the calls the budget counts, as for rules.
	Tools       []string
	SideEffects *bool
	// MaxCalls caps the number of calls (0: no cap on calls).
	MaxCalls int
	// Max caps the sum of Sum over the calls (when Sum is set).
	Max float64
	// Per is the window.
	Per Period
	// Mode overrides the policy's mode for this budget when set.
	Mode Mode
	// Line is the budget's line in the policy file.
	Line int

	sum, key *expr
	index    int
}

// plan is what applies to one tool name, computed once per name.
type plan struct {
	rules      []*Rule
	budgets    []*Budget
	sideEffect bool
}

// Option configures Parse and LoadFile.
type Option func(*Policy)

// WithSideEffects sets how tools are classified for side_effects selectors
// and fail-closed decisions. By default toolclass decides: the policy file's
// side_effects map, else the tool's name, and a tool neither names as
// read-only or calculator is side-effecting (fail closed).
func WithSideEffects(f func(tool string) bool) Option {
	return func(p *Policy) { p.sideEffect = f }
}

// WithCostLimit sets the CEL cost limit of one expression evaluation.
func WithCostLimit(n uint64) Option { return func(p *Policy) { p.costLimit = n } }

// WithLogger sets the logger for evaluation errors (default: discard).
func WithLogger(l *slog.Logger) Option { return func(p *Policy) { p.logger = l } }

// SideEffecting reports whether the policy treats tool as changing the world.
func (p *Policy) SideEffecting(tool string) bool { return p.planFor(tool).sideEffect }

// maxPlans bounds the per-tool plan cache: tool names come from agents (and
// attackers), so an unbounded cache would be a memory leak on demand.
const maxPlans = 4096

func (p *Policy) planFor(tool string) *plan {
	p.mu.RLock()
	pl := p.plans[tool]
	p.mu.RUnlock()
	if pl != nil {
		return pl
	}
	pl = &plan{sideEffect: p.sideEffect(tool)}
	for _, r := range p.Rules {
		if selects(r.Tools, r.SideEffects, tool, pl.sideEffect) {
			pl.rules = append(pl.rules, r)
		}
	}
	for _, b := range p.Budgets {
		if selects(b.Tools, b.SideEffects, tool, pl.sideEffect) {
			pl.budgets = append(pl.budgets, b)
		}
	}
	p.mu.Lock()
	if len(p.plans) < maxPlans {
		p.plans[tool] = pl
	}
	p.mu.Unlock()
	return pl
}

func selects(globs []string, side *bool, tool string, sideEffect bool) bool {
	if side != nil && *side != sideEffect {
		return false
	}
	return len(globs) == 0 || matchAny(globs, tool)
}
