// Package analysis is the one place where a trace is analysed: the built-in
// detectors, a policy run offline as one more detector, and whatever later
// stages (localisation of a failure) join them. The CLI's analyze, the
// server and the eval harness all call it, so a trace gets the same report,
// and the same JSON, wherever it is analysed.
package analysis

import (
	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/localize"
	"github.com/probity/probity/policy"
)

// Report is the result of analysing one trace. Its JSON form is the
// `analyze --format json` contract.
type Report = detect.Report

// Options configure an Analyzer. The zero value runs the built-in detectors
// with the default configuration.
type Options struct {
	// Config classifies tools and bounds step sizes; nil means defaults.
	Config *detect.Config
	// Policy, when set, runs as one more detector: each violation is a
	// finding "policy:<rule>" with the rule's severity.
	Policy *policy.Policy
	// Detectors replaces the built-in detectors when non-nil.
	Detectors []detect.Detector
	// References are references kept outside the traces (--reference),
	// matched by task id; a trace's own reference is used otherwise.
	References localize.References
	// Siblings holds passing runs by task for the siblings method; nil
	// leaves that method out.
	Siblings *Siblings
}

// Analyzer analyses traces. It holds no per-trace state, so one Analyzer
// may be shared by concurrent callers.
type Analyzer struct {
	cfg  *detect.Config
	ds   []detect.Detector
	refs localize.References
	sibs *Siblings
}

// New returns an Analyzer for o.
func New(o Options) *Analyzer {
	ds := o.Detectors
	if ds == nil {
		ds = detect.Default()
	}
	if o.Policy != nil {
		ds = append(ds[:len(ds):len(ds)], policyDetector{o.Policy})
	}
	return &Analyzer{cfg: o.Config, ds: ds, refs: o.References, sibs: o.Siblings}
}

// Config returns the configuration the Analyzer classifies tools with (nil
// for defaults), for reports that describe steps the same way.
func (a *Analyzer) Config() *detect.Config { return a.cfg }

// Reference returns the reference t is localised against: its entry in
// Options.References, else the one it carries; nil when it has neither.
// The judge shows the model the same reference the localiser used.
func (a *Analyzer) Reference(t *probity.Trace) *localize.Reference {
	if r := a.refs.For(t); r != nil {
		return r
	}
	return localize.ReferenceOf(t)
}

// Run analyses t: the detectors, then, for a run that failed, where the
// failure began (Report.Localization).
func (a *Analyzer) Run(t *probity.Trace) Report {
	r := detect.Run(t, a.cfg, a.ds)
	r.Localization = localize.Run(localize.Input{
		Trace:     t,
		Report:    &r,
		Tools:     a.cfg,
		Reference: a.refs.For(t),
		Siblings:  a.sibs.For(t),
	})
	return r
}

// Siblings keeps the passing runs of each task, cut down to their tool
// calls (all the siblings method compares), so a first pass over many
// files holds little.
type Siblings struct {
	byTask map[string][]*probity.Trace
}

// NewSiblings returns an empty index.
func NewSiblings() *Siblings { return &Siblings{byTask: map[string][]*probity.Trace{}} }

// Add records t when its outcome says it passed and it has a task id.
func (s *Siblings) Add(t *probity.Trace) {
	if _, passed := localize.Outcome(t); !passed || t.Meta["task_id"] == "" {
		return
	}
	c := &probity.Trace{ID: t.ID, Source: t.Source, Labels: probity.Labels{Reward: t.Labels.Reward, IsCorrect: t.Labels.IsCorrect, Resolved: t.Labels.Resolved}}
	for _, st := range t.Steps {
		if st.Kind == probity.KindToolCall {
			c.Steps = append(c.Steps, probity.Step{Pos: st.Pos, Kind: st.Kind, Actor: st.Actor, Tool: st.Tool})
		}
	}
	k := taskKey(t)
	s.byTask[k] = append(s.byTask[k], c)
}

// taskKey is the task id with the task's instruction: two benchmarks both
// number their tasks from 0, and only runs of the same task are siblings.
func taskKey(t *probity.Trace) string { return t.Meta["task_id"] + "\x00" + t.Task }

// For returns the passing runs of t's task, t itself excluded.
func (s *Siblings) For(t *probity.Trace) []*probity.Trace {
	if s == nil || t.Meta["task_id"] == "" {
		return nil
	}
	var out []*probity.Trace
	for _, c := range s.byTask[taskKey(t)] {
		if c.ID != t.ID || c.Source != t.Source {
			out = append(out, c)
		}
	}
	return out
}

// policyDetector runs a policy offline as one more detector, so its
// violations share the verdict, the root cause and the report with the
// built-in detectors.
type policyDetector struct{ p *policy.Policy }

// ID names the policy detector; each finding carries "policy:<rule>".
func (policyDetector) ID() string { return "policy" }

// Detect returns the policy's violations in the trace.
func (d policyDetector) Detect(c *detect.Context) []probity.Finding { return d.p.Findings(c.Trace) }
