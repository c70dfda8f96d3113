package policy

import (
	"context"
	"fmt"

	"github.com/probity/probity"
)

// Findings replays t through the policy and reports every rule and budget
// that fires on one of its tool calls, as findings with detector id
// "policy:<name>", on the call's source position. Offline every match is a
// violation, whatever the mode: shadow rules and log rules are reported too
// (at their severity). Budgets are counted as a guard would have counted
// them: a call the policy denies uses no budget.
func (p *Policy) Findings(t *probity.Trace) []probity.Finding {
	return p.FindingsContext(context.Background(), t)
}

// FindingsContext is Findings with a context that bounds evaluation.
func (p *Policy) FindingsContext(ctx context.Context, t *probity.Trace) []probity.Finding {
	s := p.NewSession(t.ID, nil)
	s.SetClock(t.Clock)
	var out []probity.Finding
	for i, st := range t.Steps {
		if st.Kind == probity.KindToolCall && st.Tool != nil {
			d := p.Decide(ctx, s, st)
			for _, m := range d.Matches {
				out = append(out, finding(m, i, st))
			}
		}
		s.Append(st)
	}
	return out
}

func finding(m Match, i int, st probity.Step) probity.Finding {
	msg := fmt.Sprintf("%s %s: %s", st.Tool.Name, verb(m.Effect), m.Reason)
	if m.Message != "" {
		msg += " (" + m.Message + ")"
	}
	ev := m.Evidence
	if ev == nil {
		ev = []probity.Evidence{}
	}
	return probity.Finding{
		Detector:    "policy:" + m.Rule,
		Severity:    m.Severity,
		Confidence:  1,
		Step:        st.Pos.Index,
		StepIndex:   i,
		Message:     msg,
		Evidence:    ev,
		BlastRadius: []int{},
	}
}

func verb(e Effect) string {
	switch e {
	case Deny:
		return "would be denied"
	case Approve:
		return "needs approval"
	}
	return "is logged"
}
