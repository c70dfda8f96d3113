package policy

// This file answers static questions about a policy, for tools that read a
// policy without deciding calls (probity spec lint): which rules guard a
// tool, and which tools a rule names.

// Confirms reports whether the rule asks for an explicit confirmation
// (confirm:) before its tools run.
func (r *Rule) Confirms() bool { return r.confirm != nil }

// Limits reports whether the rule caps how many calls of its tools run
// (max_per_run, max_per_turn or max_per_message).
func (r *Rule) Limits() bool { return r.maxPerRun > 0 || r.maxPerTurn > 0 || r.maxPerMessage > 0 }

// Refers returns the tool globs the rule names without selecting them:
// require_before and forbid_after.
func (r *Rule) Refers() []string {
	return append(append([]string(nil), r.requireBefore...), r.forbidAfter...)
}

// Guards returns the enforced rules and budgets that stand between the
// model and a call to tool: rules that ask for approval or confirmation or
// cap the number of calls, and budgets. Rules in shadow mode guard nothing
// and are left out; so are deny rules, which forbid some calls but let
// every other one through unchecked.
func (p *Policy) Guards(tool string) (rules []*Rule, budgets []*Budget) {
	pl := p.planFor(tool)
	for _, r := range pl.rules {
		if p.shadow(r.Mode) {
			continue
		}
		if r.Action == Approve || r.Confirms() || r.Limits() {
			rules = append(rules, r)
		}
	}
	for _, b := range pl.budgets {
		if !p.shadow(b.Mode) {
			budgets = append(budgets, b)
		}
	}
	return rules, budgets
}
