package policy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/policy"
)

// TestHistoryLimits: under limits a session keeps a bounded history, and a
// rule that needs text the limits cut denies a side-effecting call instead
// of deciding on what is left. Counters stay exact.
func TestHistoryLimits(t *testing.T) {
	p := mustParse(t, `
side_effects: {refund: true, send_email: true, lookup: false}
rules:
  - name: one-refund-per-order
    tools: [refund]
    deny: 'run.calls.exists(c, c.tool == "refund" && c.args.order_id == args.order_id)'
  - name: said-yes
    tools: [send_email]
    deny: '!run.messages.exists(m, m.role == "user" && m.content.contains("yes"))'
  - name: grounded-ids
    tools: [lookup_order]
    deny: '!grounded(args)'
  - name: no-writes-after-injection
    tools: [refund]
    not_after_untrusted: true
  - name: two-refunds
    tools: [refund]
    max_per_run: 2
`)
	pad := strings.Repeat("z", 2000)
	limits := policy.HistoryLimits{StepBytes: 1000, RunBytes: 4000, Steps: 50}
	tests := []struct {
		name    string
		history []probity.Step
		call    probity.Step
		effect  policy.Effect
		reason  string
	}{
		{"small history: decided on it", []probity.Step{call("refund", `{"order_id":"A"}`)},
			call("refund", `{"order_id":"B"}`), policy.Allow, ""},
		{"cut arguments: the rule reading them fails closed", []probity.Step{call("refund", `{"order_id":"A","note":"`+pad+`"}`)},
			call("refund", `{"order_id":"B"}`), policy.Deny, "over the guard's limit of 1000 per step"},
		{"cut user message: no confirmation is read from it", []probity.Step{user("yes " + pad)},
			call("send_email", `{}`), policy.Deny, "over the guard's limit"},
		{"cut tool result: counts as untrusted", []probity.Step{call("lookup", `{}`), result("lookup", pad)},
			call("refund", `{"order_id":"C"}`), policy.Deny, "not read whole"},
		{"arguments too long to classify", nil,
			call("lookup_order", `{"order_id":"`+pad+`"}`), policy.Deny, "over the guard's limit of 1000"}, // read-only, but the rule applies and cannot be evaluated
		{"run over its byte limit: later text is dropped", []probity.Step{user(strings.Repeat("a", 900)), user(strings.Repeat("b", 900)),
			user(strings.Repeat("c", 900)), user(strings.Repeat("d", 900)), user(strings.Repeat("e", 900)), user("yes")},
			call("send_email", `{}`), policy.Deny, "the run's history is over the guard's limit of 4000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := p.NewSession("r", nil)
			s.SetLimits(limits)
			for i, st := range tt.history {
				st.Pos.Index = i
				s.Append(st)
			}
			kept := 0
			for _, st := range s.Steps() {
				kept += len(st.Content)
				if st.Tool != nil {
					kept += len(st.Tool.Args)
				}
			}
			if kept > limits.RunBytes+limits.StepBytes {
				t.Errorf("the session keeps %d bytes of text, over its limits", kept)
			}
			d := p.Decide(context.Background(), s, tt.call)
			why := d.Reason + " " + strings.Join(d.Errors, " ")
			for _, m := range d.Matches {
				why += " " + m.Error
			}
			for _, e := range d.Evidence {
				why += " " + e.Note
			}
			if d.Effect != tt.effect || !strings.Contains(why, tt.reason) {
				t.Errorf("Decide = %s (%s), want %s saying %q", d.Effect, why, tt.effect, tt.reason)
			}
		})
	}

	// Counters do not depend on the text: max_per_run still counts cut calls.
	p2 := mustParse(t, "rules:\n  - name: two-refunds\n    tools: [refund]\n    max_per_run: 2\n")
	s := p2.NewSession("r", nil)
	s.SetLimits(limits)
	s.Append(call("refund", `{"n":"`+pad+`"}`))
	s.Append(call("refund", `{"n":"`+pad+`"}`))
	if d := p2.Decide(context.Background(), s, call("refund", `{}`)); d.Effect != policy.Deny || d.Rule != "two-refunds" {
		t.Errorf("third refund after two cut ones: %s by %q, want deny by two-refunds", d.Effect, d.Rule)
	}
	// A run at its step limit says so.
	for range 48 {
		s.Append(user("hi"))
	}
	if !s.Full() {
		t.Errorf("a session with %d steps and a limit of 50 is not Full", len(s.Steps()))
	}
	// Without limits (offline analysis) nothing is cut.
	s = p.NewSession("r", nil)
	s.Append(call("refund", `{"order_id":"A","note":"`+pad+`"}`))
	if d := p.Decide(context.Background(), s, call("refund", `{"order_id":"B"}`)); d.Effect != policy.Allow {
		t.Errorf("no limits: Decide = %s (%s), want allow", d.Effect, d.Reason)
	}
}
