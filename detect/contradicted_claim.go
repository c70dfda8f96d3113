package detect

import (
	"fmt"

	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// ContradictedClaim reports values an agent states in a message (to the
// user, or to other agents in a shared history) that the evidence
// contradicts or that nothing supports: a price, an order id, a date that
// differs from what the tools returned.
//
// A value is contradicted when a visible value of the same kind is one edit
// away (a near-miss: "$54.40" when the tool said 54.04), or when it is an
// unsupported amount and a visible amount within 50% exists: the agent is
// talking about that value and got it wrong. Both are high, except a
// near-miss that one arithmetic step over visible values also explains
// (Result.AlsoDerived: "$171" near a visible 141 but also 500 - 329), which
// is medium. An unsupported date near a visible one, or an unsupported
// identifier, email, phone number, amount or date with nothing close, is
// medium ("nothing supports it"); an unsupported plain number, time or
// percentage is low. Weak atoms (small integers, years, quoted text,
// anything inside Markdown code) are never reported. Each message yields at
// most one finding, at the severity of its worst value, with every bad value
// as evidence.
//
// Limits: a claim is compared by value, not by meaning. "3 t-shirts
// available" when the tool listed 4 is a weak count and is not checked; a
// status word ("delivered" for a pending order) is not checked; a wrong value
// that happens to be a sum of visible numbers is taken as derived.
type ContradictedClaim struct{}

// ID returns "contradicted-claim".
func (ContradictedClaim) ID() string { return "contradicted-claim" }

// Detect implements Detector.
func (d ContradictedClaim) Detect(c *Context) []probity.Finding {
	if c == nil || c.Trace == nil || c.Prov == nil {
		return nil
	}
	var out []probity.Finding
	for i := range c.Trace.Steps {
		s := &c.Trace.Steps[i]
		if s.Kind != probity.KindAssistant && s.Kind != probity.KindFinal {
			continue
		}
		var bad []provenance.Result
		sev := probity.SeverityNone
		conf := 0.0
		worst := -1
		for _, r := range c.Prov.Values(i) {
			if r.Atom.Path != "" {
				continue
			}
			rs, rc := claimSeverity(r)
			if rs == probity.SeverityNone {
				continue
			}
			bad = append(bad, r)
			if rs > sev {
				sev, worst = rs, len(bad)-1
			}
			if rc > conf {
				conf = rc
			}
		}
		if len(bad) == 0 {
			continue
		}
		out = append(out, c.finding(i, probity.Finding{
			Detector:   d.ID(),
			Severity:   sev,
			Confidence: conf,
			Message:    claimMessage(bad[worst], len(bad)),
			Evidence:   evidenceOf(c, bad),
		}))
	}
	return out
}

// contradicts reports whether an unsupported value has a visible
// counterpart close enough that the agent was evidently quoting it wrong.
func contradicts(r provenance.Result) bool {
	if r.Class == provenance.NearMiss {
		return true
	}
	if r.Source == nil {
		return false
	}
	switch r.Atom.Kind {
	case provenance.KindMoney, provenance.KindDate:
		return true // Source is the nearest visible amount (within 50%) or date (within a month)
	}
	return false
}

func claimSeverity(r provenance.Result) (probity.Severity, float64) {
	if r.Class != provenance.Ungrounded && r.Class != provenance.NearMiss {
		return probity.SeverityNone, 0
	}
	a := r.Atom
	if a.Weak() || a.Kind == provenance.KindPath || a.Kind == provenance.KindURL || a.Kind == provenance.KindQuoted {
		return probity.SeverityNone, 0
	}
	if contradicts(r) {
		switch {
		case r.Class == provenance.NearMiss && r.AlsoDerived != "":
			return probity.SeverityMedium, 0.5
		case r.Class == provenance.NearMiss:
			return probity.SeverityHigh, 0.9
		case a.Kind == provenance.KindDate:
			return probity.SeverityMedium, 0.5
		}
		return probity.SeverityHigh, 0.7
	}
	switch a.Kind {
	case provenance.KindID, provenance.KindEmail, provenance.KindPhone, provenance.KindMoney, provenance.KindDate,
		provenance.KindSuffix:
		return probity.SeverityMedium, 0.6
	}
	return probity.SeverityLow, 0.4
}

func claimMessage(r provenance.Result, n int) string {
	more := ""
	if n > 1 {
		more = fmt.Sprintf(" (and %d more unsupported value(s))", n-1)
	}
	if contradicts(r) && r.Source != nil {
		rel := r.Note
		if rel == "" || rel == "nearest visible value" {
			rel = "different value"
		}
		return fmt.Sprintf("the agent states %s %q but the evidence says %q at step %d (%s)%s",
			r.Atom.Kind, r.Atom.Raw, r.Source.Value, r.Source.Pos.Index, rel, more)
	}
	return fmt.Sprintf("the agent states %s %q that nothing it saw supports%s", r.Atom.Kind, r.Atom.Raw, more)
}
