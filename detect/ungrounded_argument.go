package detect

import (
	"fmt"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// UngroundedArgument reports tool calls that carry a value nothing the agent
// saw supports: an order id, amount, date, email or other identifier that is
// neither in the system prompt, the user's messages, tool results or other
// agents' messages, nor derivable from them (see package provenance for the
// classes). One finding per call lists every unsupported value in it.
//
// Severity:
//   - high for a near-miss of a visible value in a structured argument (one
//     character changed, added, dropped or swapped: the signature of a
//     corrupted copy), whatever the tool;
//   - high for an ungrounded value passed to a side-effecting tool
//     (Context.SideEffecting), unless the tool rejected the call (its result
//     is an error): then nothing changed and it is medium;
//   - medium otherwise, and for a near-miss that one arithmetic step over
//     visible values also explains (Result.AlsoDerived) unless the tool has
//     side effects.
//
// Weak atoms (small integers, years, quoted text, numbers inside commands
// and code) are never reported. Values inside free-text arguments (a
// summary, a reason) are reported only when they are identifiers, money or
// contact details, and at medium: an agent's own prose legitimately holds
// words and numbers no source has.
type UngroundedArgument struct{}

// ID returns "ungrounded-argument".
func (UngroundedArgument) ID() string { return "ungrounded-argument" }

// Detect implements Detector.
func (d UngroundedArgument) Detect(c *Context) []probity.Finding {
	if c == nil || c.Trace == nil || c.Prov == nil {
		return nil
	}
	var out []probity.Finding
	for i := range c.Trace.Steps {
		s := &c.Trace.Steps[i]
		if s.Kind != probity.KindToolCall || s.Tool == nil {
			continue
		}
		side := c.SideEffecting(s.Tool.Name)
		// A call the tool rejected changed nothing: an invented value in it
		// is a slip the agent got told about, not a side effect.
		rejected := false
		if j := c.resultFor(i); j >= 0 && c.Trace.Steps[j].Error != nil {
			rejected = true
		}
		var bad []provenance.Result
		sev := probity.SeverityMedium
		conf := 0.0
		for _, r := range c.Prov.Values(i) {
			if r.Atom.Path == "" || !reportableArg(r) {
				continue
			}
			bad = append(bad, r)
			rs, rc := argSeverity(r, side && !(rejected && r.Class == provenance.Ungrounded))
			if rs > sev {
				sev = rs
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
			Message:    argMessage(s.Tool.Name, side, bad) + rejectedNote(rejected),
			Evidence:   evidenceOf(c, bad),
		}))
	}
	return out
}

// reportableArg reports whether an unsupported argument value is worth a
// finding.
func reportableArg(r provenance.Result) bool {
	if r.Class != provenance.Ungrounded && r.Class != provenance.NearMiss {
		return false
	}
	a := r.Atom
	if a.Weak() || a.Kind == provenance.KindPath || a.Kind == provenance.KindQuoted {
		return false
	}
	if a.Prose {
		return r.Class == provenance.NearMiss && r.AlsoDerived == "" || strongProse(a)
	}
	return true
}

// strongProse reports whether a value inside free text names something
// specific enough that inventing it is a fault: an identifier with digits,
// an email, a phone number or an amount of money.
func strongProse(a provenance.Atom) bool {
	switch a.Kind {
	case provenance.KindEmail, provenance.KindPhone, provenance.KindMoney:
		return true
	case provenance.KindID:
		digits := 0
		for i := 0; i < len(a.Norm); i++ {
			if a.Norm[i] >= '0' && a.Norm[i] <= '9' {
				digits++
			}
		}
		return strings.HasPrefix(a.Raw, "#") || digits >= 4 && len(a.Norm) >= 6
	}
	return false
}

func argSeverity(r provenance.Result, side bool) (probity.Severity, float64) {
	switch {
	case r.Class == provenance.NearMiss && r.AlsoDerived != "":
		// One digit from a visible value but also one sum away from
		// others: likely a computed value, so only a side effect makes it
		// high.
		if side && !r.Atom.Prose {
			return probity.SeverityHigh, 0.6
		}
		return probity.SeverityMedium, 0.5
	case r.Class == provenance.NearMiss && r.Atom.Prose:
		return probity.SeverityMedium, 0.6
	case r.Class == provenance.NearMiss:
		return probity.SeverityHigh, 0.9
	case r.Atom.Prose:
		return probity.SeverityMedium, 0.5
	case side:
		return probity.SeverityHigh, 0.8
	}
	return probity.SeverityMedium, 0.7
}

func argMessage(tool string, side bool, bad []provenance.Result) string {
	r := bad[0]
	what := fmt.Sprintf("%s %q", argName(r.Atom), r.Atom.Raw)
	var why string
	if r.Class == provenance.NearMiss && r.Source != nil {
		why = fmt.Sprintf("is a near-miss of %q at step %d (%s)", r.Source.Value, r.Source.Pos.Index, r.Note)
	} else {
		why = "appears in nothing the agent saw and is not derived from it"
	}
	more := ""
	if len(bad) > 1 {
		more = fmt.Sprintf(" (and %d more unsupported value(s))", len(bad)-1)
	}
	action := "call to " + tool
	if side {
		action = "side-effecting call to " + tool
	}
	return fmt.Sprintf("%s: %s %s%s", action, what, why, more)
}

func argName(a provenance.Atom) string {
	if a.Path != "" && a.Path != "$raw" {
		return a.Path
	}
	return string(a.Kind)
}

// evidenceOf turns provenance results into evidence: the value, its class
// and the nearest source, quoted, with its position (-1 when none).
func evidenceOf(c *Context, rs []provenance.Result) []probity.Evidence {
	out := make([]probity.Evidence, 0, len(rs))
	for _, r := range rs {
		e := probity.Evidence{
			Value:      r.Atom.Raw,
			Kind:       evidenceKind(r.Atom),
			Class:      string(r.Class),
			SourceStep: -1,
			Note:       r.Note,
		}
		if r.Source != nil {
			e.Source = r.Source.Snippet()
			if e.Source == "" {
				e.Source = r.Source.Value
			}
			e.SourceStep = r.Source.Pos.Index
		}
		if e.Note == "" && r.Class == provenance.Ungrounded {
			e.Note = "no visible source"
		}
		out = append(out, e)
	}
	return out
}

// evidenceKind names what a value is, using the argument path when it says
// more than the atom kind ("order_id" → "order-id").
func evidenceKind(a provenance.Atom) string {
	if a.Kind == provenance.KindID && a.Path != "" && a.Path != "$raw" {
		p := a.Path
		if i := strings.LastIndexAny(p, ".]"); i >= 0 && i+1 < len(p) {
			p = p[i+1:]
		}
		if i := strings.IndexByte(p, '['); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimSuffix(strings.TrimSuffix(p, "s"), "_id")
		if p != "" && p != "id" {
			return strings.ReplaceAll(p, "_", "-") + "-id"
		}
	}
	return string(a.Kind)
}

func rejectedNote(rejected bool) string {
	if rejected {
		return "; the tool rejected the call"
	}
	return ""
}
