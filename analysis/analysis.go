// Package analysis is the one place where a trace is analysed: the built-in
// detectors, a policy run offline as one more detector, and whatever later
// stages (localisation of a failure) join them. The CLI's analyze, the
// server and the eval harness all call it, so a trace gets the same report,
// and the same JSON, wherever it is analysed.
package analysis

import (
	"github.com/probity/probity"
	"github.com/probity/probity/detect"
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
}

// Analyzer analyses traces. It holds no per-trace state, so one Analyzer
// may be shared by concurrent callers.
type Analyzer struct {
	cfg *detect.Config
	ds  []detect.Detector
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
	return &Analyzer{cfg: o.Config, ds: ds}
}

// Config returns the configuration the Analyzer classifies tools with (nil
// for defaults), for reports that describe steps the same way.
func (a *Analyzer) Config() *detect.Config { return a.cfg }

// Run analyses t.
func (a *Analyzer) Run(t *probity.Trace) Report {
	return detect.Run(t, a.cfg, a.ds)
}

// policyDetector runs a policy offline as one more detector, so its
// violations share the verdict, the root cause and the report with the
// built-in detectors.
type policyDetector struct{ p *policy.Policy }

// ID names the policy detector; each finding carries "policy:<rule>".
func (policyDetector) ID() string { return "policy" }

// Detect returns the policy's violations in the trace.
func (d policyDetector) Detect(c *detect.Context) []probity.Finding { return d.p.Findings(c.Trace) }
