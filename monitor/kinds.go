package monitor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probity/probity"
)

// A kind is what a monitor counts. Each kind reads its own fields of the
// monitor entry (and rejects none of the others: parseMonitor rejects keys
// that belong to another kind), so a new kind is one type here and one line
// in kinds.
type kind interface {
	// samples appends what o contributes: one value per series it feeds.
	// A sample's split is an extra group attribute (the detector id for
	// a detector monitor), "" for none.
	samples(o *Observation, out []sample) []sample
	// event describes one event in words, for alerts.
	event() string
	// continuous reports whether values need a threshold to be events.
	continuous() bool
}

type sample struct {
	split string
	x     float64
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// kindSpec builds a kind from a monitor entry. fields lists the
// kind-specific keys the kind reads.
type kindSpec struct {
	fields []string
	build  func(m *fileMonitor, c *buildContext) (kind, error)
	// groupBy is the default group_by of the kind.
	groupBy []string
}

// kinds is the registry of monitor kinds.
var kinds = map[string]kindSpec{
	"verdict":  {[]string{"verdicts"}, newVerdictKind, []string{AttrService}},
	"detector": {[]string{"detectors", "min_severity"}, newDetectorKind, []string{AttrService}},
	"policy":   {[]string{"rules"}, newPolicyKind, []string{AttrService}},
	"feedback": {nil, newFeedbackKind, []string{AttrService}},
	"eval":     {[]string{"suites"}, newEvalKind, []string{AttrSuite}},
	"cost":     {[]string{"above", "quantile"}, newCostKind, []string{AttrService}},
	"latency":  {[]string{"above", "quantile"}, newLatencyKind, []string{AttrService}},
}

// kindNames lists the kinds for error messages.
func kindNames() string {
	var ns []string
	for n := range kinds {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return strings.Join(ns, ", ")
}

// production reports whether o is a finished production trace: not
// feedback and not an eval trial, which their own kinds count.
func production(o *Observation) bool { return o.Feedback == nil && o.Eval == nil }

// verdict: the share of traces whose verdict is one of Verdicts.
type verdictKind struct{ verdicts []probity.Verdict }

func newVerdictKind(m *fileMonitor, c *buildContext) (kind, error) {
	k := verdictKind{}
	for i, v := range m.Verdicts {
		switch probity.Verdict(v) {
		case probity.VerdictFail, probity.VerdictSuspect, probity.VerdictOK:
			k.verdicts = append(k.verdicts, probity.Verdict(v))
		default:
			return nil, c.errorf(fmt.Sprintf("verdicts[%d]", i), "unknown verdict %q (want fail, suspect or ok)", v)
		}
	}
	if len(k.verdicts) == 0 {
		k.verdicts = []probity.Verdict{probity.VerdictFail}
	}
	return k, nil
}

func (k verdictKind) samples(o *Observation, out []sample) []sample {
	if !production(o) {
		return out
	}
	return append(out, sample{x: boolValue(slices.Contains(k.verdicts, o.Verdict))})
}

func (k verdictKind) event() string {
	var vs []string
	for _, v := range k.verdicts {
		vs = append(vs, string(v))
	}
	return "verdict " + strings.Join(vs, " or ")
}

func (verdictKind) continuous() bool { return false }

// detector: for each detector, the share of traces with a finding of it at
// or above MinSeverity; one series per detector.
type detectorKind struct {
	ids []string
	min probity.Severity
}

func newDetectorKind(m *fileMonitor, c *buildContext) (kind, error) {
	k := detectorKind{min: probity.SeverityHigh}
	if m.MinSeverity != "" {
		s, err := probity.ParseSeverity(m.MinSeverity)
		if err != nil || s == probity.SeverityNone {
			return nil, c.errorf("min_severity", "unknown severity %q (want low, medium or high)", m.MinSeverity)
		}
		k.min = s
	}
	for i, d := range m.Detectors {
		switch {
		case d == "*":
			k.ids = append(k.ids, c.detectors...)
		case d == "":
			return nil, c.errorf(fmt.Sprintf("detectors[%d]", i), "empty detector id")
		default:
			k.ids = append(k.ids, d)
		}
	}
	if len(m.Detectors) == 0 {
		k.ids = append(k.ids, c.detectors...)
	}
	slices.Sort(k.ids)
	k.ids = slices.Compact(k.ids)
	if len(k.ids) == 0 {
		return nil, c.errorf("detectors", "no detectors to watch")
	}
	return k, nil
}

func (k detectorKind) samples(o *Observation, out []sample) []sample {
	if !production(o) {
		return out
	}
	for _, id := range k.ids {
		hit := false
		for _, f := range o.Findings {
			if f.Detector == id && f.Severity >= k.min {
				hit = true
				break
			}
		}
		out = append(out, sample{split: id, x: boolValue(hit)})
	}
	return out
}

func (k detectorKind) event() string { return fmt.Sprintf("a %s finding", k.min) }

func (detectorKind) continuous() bool { return false }

// policy: the share of traces in which a policy rule denied a call.
type policyKind struct{ rules []string }

func newPolicyKind(m *fileMonitor, c *buildContext) (kind, error) {
	return policyKind{rules: m.Rules}, nil
}

func (k policyKind) samples(o *Observation, out []sample) []sample {
	if !production(o) {
		return out
	}
	hit := false
	for _, r := range o.Denials {
		if len(k.rules) == 0 || slices.Contains(k.rules, r) {
			hit = true
			break
		}
	}
	return append(out, sample{x: boolValue(hit)})
}

func (k policyKind) event() string {
	if len(k.rules) == 0 {
		return "a policy denial"
	}
	return "a denial by " + strings.Join(k.rules, " or ")
}

func (policyKind) continuous() bool { return false }

// feedback: the share of people's verdicts that say incorrect. Its unit is
// a feedback label, not a trace.
type feedbackKind struct{}

func newFeedbackKind(*fileMonitor, *buildContext) (kind, error) { return feedbackKind{}, nil }

func (feedbackKind) samples(o *Observation, out []sample) []sample {
	if o.Feedback == nil {
		return out
	}
	return append(out, sample{x: boolValue(o.Feedback.Label == FeedbackIncorrect)})
}

func (feedbackKind) event() string    { return "negative feedback" }
func (feedbackKind) continuous() bool { return false }

// eval: the share of failed trials of an eval suite (a falling pass rate is
// a rising failure rate).
type evalKind struct{ suites []string }

func newEvalKind(m *fileMonitor, c *buildContext) (kind, error) {
	return evalKind{suites: m.Suites}, nil
}

func (k evalKind) samples(o *Observation, out []sample) []sample {
	if o.Eval == nil || o.Feedback != nil || len(k.suites) > 0 && !slices.Contains(k.suites, o.Eval.Suite) {
		return out
	}
	return append(out, sample{x: boolValue(!o.Eval.Pass)})
}

func (evalKind) event() string    { return "a failed eval trial" }
func (evalKind) continuous() bool { return false }

// cost: a run's model cost in USD above a threshold.
type costKind struct{ above *float64 }

func newCostKind(m *fileMonitor, c *buildContext) (kind, error) {
	if m.Above == nil {
		return costKind{}, nil
	}
	v, err := strconv.ParseFloat(strings.TrimPrefix(*m.Above, "$"), 64)
	if err != nil || !(v >= 0) || v > 1e9 {
		return nil, c.errorf("above", "cost %q: want a number of US dollars such as 0.25", *m.Above)
	}
	return costKind{above: &v}, nil
}

func (costKind) samples(o *Observation, out []sample) []sample {
	if !production(o) || o.CostUSD == nil {
		return out
	}
	return append(out, sample{x: *o.CostUSD})
}

func (costKind) event() string    { return "cost above" }
func (costKind) continuous() bool { return true }

// latency: a run's duration, in seconds, above a threshold.
type latencyKind struct{ above *float64 }

func newLatencyKind(m *fileMonitor, c *buildContext) (kind, error) {
	if m.Above == nil {
		return latencyKind{}, nil
	}
	d, err := time.ParseDuration(*m.Above)
	if err != nil || d <= 0 {
		return nil, c.errorf("above", "latency %q: want a duration such as 30s or 1m30s", *m.Above)
	}
	v := d.Seconds()
	return latencyKind{above: &v}, nil
}

func (latencyKind) samples(o *Observation, out []sample) []sample {
	if !production(o) || o.Latency <= 0 {
		return out
	}
	return append(out, sample{x: o.Latency.Seconds()})
}

func (latencyKind) event() string    { return "latency above" }
func (latencyKind) continuous() bool { return true }

// thresholdText formats a continuous monitor's threshold in its unit.
func thresholdText(kind string, v float64) string {
	if kind == "latency" {
		return time.Duration(v * float64(time.Second)).Round(time.Millisecond).String()
	}
	return fmt.Sprintf("$%.4g", v)
}

// aboveOf returns the fixed threshold a continuous kind was given.
func aboveOf(k kind) *float64 {
	switch k := k.(type) {
	case costKind:
		return k.above
	case latencyKind:
		return k.above
	}
	return nil
}
