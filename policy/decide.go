package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// Decision is the policy's answer for one tool call. It says what happens,
// which rule decided, why, and the evidence.
type Decision struct {
	// Effect is what happens to the call: Allow, Log (allowed and
	// recorded), Approve (wait for a person) or Deny.
	Effect Effect `json:"decision"`
	// Rule names the rule or budget that decided; empty when nothing fired.
	Rule string `json:"rule,omitempty"`
	// Message is what the agent is told (the rule's message, else Reason).
	Message string `json:"message,omitempty"`
	// Reason says in words why the rule fired.
	Reason string `json:"reason,omitempty"`
	// Evidence is what the reason rests on.
	Evidence []probity.Evidence `json:"evidence,omitempty"`
	// Would is, in shadow mode, the effect enforcement would have had when
	// it is stronger than Effect: what would have been blocked.
	Would Effect `json:"would,omitempty"`
	// SideEffect says whether the tool is classed as changing the world.
	SideEffect bool `json:"side_effect"`
	// Matches lists every rule and budget that fired, in policy order.
	Matches []Match `json:"matches,omitempty"`
	// Errors lists rules that could not be evaluated and were skipped
	// (rules marked fail_open).
	Errors []string `json:"errors,omitempty"`

	charges []charge
}

// Allowed reports whether the call may run now (Allow or Log).
func (d *Decision) Allowed() bool { return d.Effect == Allow || d.Effect == Log }

// Match is one rule or budget that fired.
type Match struct {
	// Rule is the rule's or budget's name.
	Rule string `json:"rule"`
	// Budget is true when Rule names a budget.
	Budget bool `json:"budget,omitempty"`
	// Effect is the rule's action.
	Effect Effect `json:"effect"`
	// Shadow is true when the rule is in shadow mode: reported, not enforced.
	Shadow bool `json:"shadow,omitempty"`
	// Message is the rule's message.
	Message string `json:"message,omitempty"`
	// Reason says why it fired.
	Reason string `json:"reason"`
	// Severity ranks the match as an offline finding.
	Severity probity.Severity `json:"severity"`
	// Evidence is what the reason rests on.
	Evidence []probity.Evidence `json:"evidence,omitempty"`
	// Error is set when the rule could not be evaluated and failed closed.
	Error string `json:"error,omitempty"`
}

// Decide decides the tool call in step (Kind tool_call) given the history in
// s. It does not add the call to s: the caller appends it (Append when it
// runs, AppendBlocked when it does not). Budgets are charged in s's ledger
// when the call may go ahead (allow, log, approve, or anything in shadow
// mode); Ledger.Refund undoes the charge of an approval that is refused.
//
// The clock for per-hour and per-day budgets is step.Start, else now.
// Decide never fails: a rule or budget that applies to the tool and cannot
// be evaluated (a CEL error, the cost limit, ctx done, an argument of the
// wrong type) denies the call, whatever the tool's class, unless the rule is
// fail_open; a fail_open rule is skipped and listed in Errors.
func (p *Policy) Decide(ctx context.Context, s *Session, step probity.Step) Decision {
	tool := ""
	var args json.RawMessage
	if step.Tool != nil {
		tool, args = step.Tool.Name, step.Tool.Args
	}
	pl := p.planFor(tool)
	d := Decision{Effect: Allow, SideEffect: pl.sideEffect}
	if len(pl.rules) == 0 && len(pl.budgets) == 0 {
		return d
	}
	act := &s.act
	act.reset(s, tool, args, step.Actor)
	for _, r := range pl.rules {
		if m, ok := p.evalRule(ctx, s, act, r, step, &d); ok {
			d.Matches = append(d.Matches, m)
		}
	}
	settle(&d)
	if d.Effect != Deny && len(pl.budgets) > 0 {
		at := step.Start
		if at.IsZero() {
			at = time.Now()
		}
		p.charge(ctx, s, act, pl, at, &d)
	}
	act.reset(nil, "", nil, "")
	return d
}

func (p *Policy) shadow(m Mode) bool {
	if m == "" {
		m = p.Mode
	}
	return m == Shadow
}

// settle picks the decision from the matches: the strongest enforced effect
// decides; a stronger shadow effect is reported in Would.
func settle(d *Decision) {
	best, bestAll := -1, -1
	for i := range d.Matches {
		m := &d.Matches[i]
		if !m.Shadow && (best < 0 || m.Effect.rank() > d.Matches[best].Effect.rank()) {
			best = i
		}
		if bestAll < 0 || m.Effect.rank() > d.Matches[bestAll].Effect.rank() {
			bestAll = i
		}
	}
	d.Effect, d.Would = Allow, ""
	pick := best
	if best >= 0 {
		d.Effect = d.Matches[best].Effect
	}
	if bestAll >= 0 && (best < 0 || d.Matches[bestAll].Effect.rank() > d.Matches[best].Effect.rank()) {
		d.Would = d.Matches[bestAll].Effect
		if best < 0 || d.Matches[best].Effect == Log {
			pick = bestAll
		}
	}
	if pick >= 0 {
		m := d.Matches[pick]
		d.Rule, d.Reason, d.Evidence = m.Rule, m.Reason, m.Evidence
		d.Message = m.Message
		if d.Message == "" {
			d.Message = m.Reason
		}
	}
}

func (p *Policy) evalRule(ctx context.Context, s *Session, act *activation, r *Rule, step probity.Step, d *Decision) (Match, bool) {
	m := Match{Rule: r.Name, Effect: r.Action, Shadow: p.shadow(r.Mode), Message: r.Message, Severity: r.Severity}
	failed := func(what string, err error) (Match, bool) {
		msg := fmt.Sprintf("rule %s: %s: %v", r.Name, what, err)
		// A rule that applies to this tool and cannot be evaluated denies
		// the call whatever the tool's class: a name guessed read-only is
		// no reason to let through a call the rule may have been written
		// to stop (a padded command that times the rule out, a list where
		// a string was expected). fail_open is the rule author's explicit
		// choice otherwise.
		if !r.FailOpen {
			m.Effect, m.Error, m.Severity = Deny, msg, probity.SeverityHigh
			m.Reason = "could not be evaluated (" + err.Error() + "); failing closed"
			return m, true
		}
		d.Errors = append(d.Errors, msg)
		p.logger.Warn("policy rule skipped", "rule", r.Name, "tool", act.tool.Value(), "err", err)
		return m, false
	}
	if r.when != nil {
		ok, err := r.when.evalBool(ctx, act)
		if err != nil {
			return failed("when", err)
		}
		if !ok {
			return m, false
		}
	}
	cond, violated := false, false
	var reasons []string
	if r.deny != nil {
		cond = true
		ok, err := r.deny.evalBool(ctx, act)
		if err != nil {
			return failed("deny", err)
		}
		if ok {
			violated = true
			reasons = append(reasons, "deny condition holds: "+r.deny.src)
			m.Evidence = append(m.Evidence, probity.Evidence{Kind: "condition", Value: r.deny.src, SourceStep: -1, Note: "true for this call"})
			if r.deny.usesProv {
				m.Evidence = append(m.Evidence, s.argEvidence(act)...)
			}
		}
	}
	if len(r.requireBefore) > 0 {
		cond = true
		if !s.succeededAny(r.requireBefore) {
			violated = true
			want := strings.Join(r.requireBefore, " or ")
			note := "no earlier call matching " + want + " succeeded in this run"
			if i, ok := s.calledAny(r.requireBefore); ok {
				note = fmt.Sprintf("the earlier call matching %s at step %d did not succeed", want, s.steps[i].Pos.Index)
			}
			reasons = append(reasons, "requires an earlier successful "+want)
			m.Evidence = append(m.Evidence, probity.Evidence{Kind: "missing-precondition", Value: want, SourceStep: -1, Note: note})
		}
	}
	if len(r.forbidAfter) > 0 {
		cond = true
		if i, ok := s.calledAny(r.forbidAfter); ok {
			violated = true
			prior := s.steps[i]
			reasons = append(reasons, "not allowed after "+prior.Tool.Name)
			m.Evidence = append(m.Evidence, probity.Evidence{Kind: "earlier-call", Value: prior.Tool.Name,
				Source: provenance.Excerpt(string(prior.Tool.Args), 0, min(len(prior.Tool.Args), 120)), SourceStep: prior.Pos.Index,
				Note: "a call matching " + strings.Join(r.forbidAfter, " or ") + " came first"})
		}
	}
	if r.notAfterUntrusted {
		cond = true
		if s.untrusted != nil {
			violated = true
			reasons = append(reasons, "untrusted input with instructions was read earlier in the run")
			m.Evidence = append(m.Evidence, *s.untrusted)
		}
	}
	count := func(n, max int, per string) {
		cond = true
		if n >= max {
			violated = true
			reasons = append(reasons, fmt.Sprintf("at most %d per %s", max, per))
			m.Evidence = append(m.Evidence, probity.Evidence{Kind: "count", Value: fmt.Sprint(n + 1), SourceStep: -1,
				Note: fmt.Sprintf("this would be call %d of %s in this %s; at most %d allowed", n+1, strings.Join(orAll(r.Tools), ", "), per, max)})
		}
	}
	if r.maxPerRun > 0 {
		count(s.runCount[r.index], r.maxPerRun, "run")
	}
	if r.maxPerTurn > 0 {
		count(s.turnCount[r.index], r.maxPerTurn, "turn")
	}
	if r.maxPerMessage > 0 {
		n := 0
		if s.msgIndex[r.index] == step.Pos.Index && len(s.steps) > 0 {
			n = s.msgCount[r.index]
		}
		count(n, r.maxPerMessage, "message")
	}
	if r.confirm != nil {
		cond = true
		if ev, ok := s.confirmation(r.confirm, act.raw); !ok {
			violated = true
			reasons = append(reasons, "no explicit confirmation from the user")
			m.Evidence = append(m.Evidence, ev)
		}
	}
	if !cond {
		// A rule with no condition of its own fires whenever it applies
		// (and its when holds): "approve every refund over 200".
		violated = true
		reasons = append(reasons, "applies to "+act.tool.Value().(string))
		if r.when != nil {
			reasons[0] += " when " + r.when.src
			m.Evidence = append(m.Evidence, probity.Evidence{Kind: "condition", Value: r.when.src, SourceStep: -1, Note: "true for this call"})
		}
	}
	if !violated {
		return m, false
	}
	m.Reason = strings.Join(reasons, "; ")
	return m, true
}

// argEvidence quotes the provenance of the arguments' values that are not
// grounded, or that came from untrusted content: what a provenance rule
// rests on.
func (s *Session) argEvidence(act *activation) []probity.Evidence {
	var out []probity.Evidence
	rs, _ := s.provenanceOf(act.argsVal(), act.actor) // the rule that asks has already succeeded
	for _, r := range rs {
		if r.Atom.Weak() {
			continue
		}
		bad := r.Class != provenance.Grounded && r.Class != provenance.Derived
		if !bad && !r.Untrusted() {
			continue
		}
		ev := probity.Evidence{Value: r.Atom.Raw, Kind: string(r.Atom.Kind), Class: string(r.Class), SourceStep: -1, Note: r.Note}
		if r.Source != nil {
			ev.Source, ev.SourceStep = r.Source.Snippet(), r.Source.Step
			if !bad {
				ev.Note = strings.TrimPrefix(ev.Note+"; first seen in a "+string(r.Source.Kind), "; ")
			}
		}
		out = append(out, ev)
	}
	return out
}

func orAll(globs []string) []string {
	if len(globs) == 0 {
		return []string{"any tool"}
	}
	return globs
}

// succeededAny reports whether an executed call to a tool matching globs has
// not (yet) been reported as failed.
func (s *Session) succeededAny(globs []string) bool {
	for tool, n := range s.succeeded {
		if n > 0 && matchAny(globs, tool) {
			return true
		}
	}
	return false
}

// calledAny returns the step index of the first executed call to a tool
// matching globs.
func (s *Session) calledAny(globs []string) (int, bool) {
	best := -1
	for tool, i := range s.called {
		if (best < 0 || i < best) && matchAny(globs, tool) {
			best = i
		}
	}
	return best, best >= 0
}

// confirmation checks explicit confirmation: the latest assistant message
// that states the action (mentions one of the call's argument values, else
// the latest assistant message) must be followed by a user message matching
// re.
func (s *Session) confirmation(re *regexp.Regexp, raw json.RawMessage) (probity.Evidence, bool) {
	var atoms []string
	collectAtoms(decodeArgs(raw), &atoms)
	stated, latest := -1, -1
	for i := len(s.steps) - 1; i >= 0 && stated < 0; i-- {
		st := s.steps[i]
		if st.Kind != probity.KindAssistant || strings.TrimSpace(st.Content) == "" {
			continue
		}
		if latest < 0 {
			latest = i
		}
		for _, a := range atoms {
			if strings.Contains(st.Content, a) {
				stated = i
				break
			}
		}
	}
	if stated < 0 {
		// Agents often state an action in words ("the silver i9 laptop")
		// rather than ids; then the latest message to the user stands.
		stated = latest
	}
	if stated < 0 {
		return probity.Evidence{Kind: "confirmation", SourceStep: -1,
			Note: "the agent never told the user about this action before taking it"}, false
	}
	for _, st := range s.steps[stated+1:] {
		if st.Kind == probity.KindUser && re.MatchString(st.Content) {
			return probity.Evidence{}, true
		}
	}
	st := s.steps[stated]
	return probity.Evidence{Kind: "confirmation", Source: provenance.Excerpt(st.Content, 0, min(len(st.Content), 160)), SourceStep: st.Pos.Index,
		Note: fmt.Sprintf("no user message matching /%s/ after the agent stated the action", re)}, false
}

// charge evaluates the budgets that apply and charges them atomically.
func (p *Policy) charge(ctx context.Context, s *Session, act *activation, pl *plan, at time.Time, d *Decision) {
	cs := make([]charge, 0, len(pl.budgets))
	for _, b := range pl.budgets {
		c := charge{b: b, Charge: Charge{Amount: 1}}
		c.Bucket.Budget = b.Name
		if b.Per == PerRun {
			c.Bucket.Run = s.ID
		}
		c.Bucket.Window, c.Until = window(b.Per, at)
		var err error
		if b.key != nil {
			if c.Bucket.Key, err = b.key.evalKey(ctx, act); err != nil {
				p.budgetError(b, "key", err, d)
				continue
			}
		}
		if b.sum != nil {
			if c.Amount, err = b.sum.evalNumber(ctx, act); err != nil {
				p.budgetError(b, "sum", err, d)
				continue
			}
		}
		cs = append(cs, c)
	}
	settle(d)
	if d.Effect == Deny {
		return // a budget failed closed
	}
	over, charged, err := s.ledger.reserve(ctx, cs, func(b *Budget) bool { return p.shadow(b.Mode) }, at)
	if err != nil {
		// Usage that cannot be read cannot be counted: every budget of
		// the call fails closed.
		for _, c := range cs {
			p.budgetError(c.b, "ledger", err, d)
		}
		settle(d)
		return
	}
	if charged {
		d.charges = cs
	}
	for _, o := range over {
		d.Matches = append(d.Matches, Match{Rule: o.c.b.Name, Budget: true, Effect: Deny, Shadow: !o.enforced,
			Message: o.c.b.Message, Reason: "budget exhausted: " + o.limitReached, Severity: probity.SeverityHigh,
			Evidence: []probity.Evidence{{Kind: "budget", Value: o.c.Bucket.Key, SourceStep: -1,
				Note: fmt.Sprintf("used %d calls, %s so far in this %s", o.calls, num(o.sum), o.c.b.Per)}}})
	}
	if len(over) > 0 {
		settle(d)
	}
}

// budgetError fails a budget closed for any call it applies to: an amount
// that cannot be read cannot be counted.
func (p *Policy) budgetError(b *Budget, what string, err error, d *Decision) {
	msg := fmt.Sprintf("budget %s: %s: %v", b.Name, what, err)
	d.Matches = append(d.Matches, Match{Rule: b.Name, Budget: true, Effect: Deny, Shadow: p.shadow(b.Mode),
		Message: b.Message, Reason: "could not be evaluated (" + err.Error() + "); failing closed",
		Severity: probity.SeverityHigh, Error: msg})
}
