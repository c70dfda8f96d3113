package monitor

import (
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
)

// Observation is what a monitor learns from one finished, analysed trace,
// or from a person's feedback on one. The server builds it from the trace
// and its analysis (FromReport) plus the resource and span attributes it
// keeps, and passes it to Engine.Observe once per analysis.
type Observation struct {
	// TraceID identifies the trace; alerts quote it as an example.
	TraceID string `json:"trace_id"`
	// Time is when the trace finished (or the feedback arrived). Alerts
	// date the change by it; the zero time means "now".
	Time time.Time `json:"time"`
	// Attrs are the attributes monitors group and filter by: resource and
	// root-span attributes such as service.name, gen_ai.agent.name,
	// gen_ai.request.model or a prompt version.
	Attrs map[string]string `json:"attrs,omitempty"`
	// Verdict is the analysis verdict.
	Verdict probity.Verdict `json:"verdict,omitempty"`
	// Findings are the detectors that fired and how severe each finding
	// was; policy violations appear as "policy:<rule>".
	Findings []Finding `json:"findings,omitempty"`
	// Denials name the policy rules that denied a call in this run, from
	// the offline analysis ("policy:<rule>" findings) or a runtime guard.
	Denials []string `json:"denials,omitempty"`
	// CostUSD is the run's model cost, nil when unknown.
	CostUSD *float64 `json:"cost_usd,omitempty"`
	// Latency is the run's wall-clock duration; 0 means unknown.
	Latency time.Duration `json:"latency,omitempty"`
	// Eval is set when the trace is a trial of an eval suite; production
	// monitors ignore such traces and eval monitors read only them.
	Eval *EvalOutcome `json:"eval,omitempty"`
	// Feedback is set when the observation is a person's verdict on the
	// trace (POST /api/v1/traces/{id}/feedback) rather than the trace
	// itself; only feedback monitors read it.
	Feedback *Feedback `json:"feedback,omitempty"`
}

// Finding is the part of a probity.Finding a monitor counts.
type Finding struct {
	Detector string           `json:"detector"`
	Severity probity.Severity `json:"severity"`
}

// EvalOutcome is the result of one eval trial.
type EvalOutcome struct {
	Suite string `json:"suite"`
	Case  string `json:"case,omitempty"`
	Pass  bool   `json:"pass"`
}

// Feedback labels.
const (
	FeedbackCorrect   = "correct"
	FeedbackIncorrect = "incorrect"
)

// Feedback is a person's verdict on a trace.
type Feedback struct {
	// Label is FeedbackCorrect or FeedbackIncorrect.
	Label string `json:"label"`
}

// Attribute names FromReport fills when the trace states them.
const (
	AttrService = "service.name"
	AttrAgent   = "gen_ai.agent.name"
	AttrModel   = "gen_ai.request.model"
	// AttrSuite is the attribute an eval observation is grouped by: the
	// suite name, from Observation.Eval.
	AttrSuite = "eval.suite"
	// AttrDetector is the pseudo-attribute a detector monitor adds to its
	// groups: one series per detector.
	AttrDetector = "detector"
)

// FromReport builds the observation of trace t analysed as r. Attrs start
// from t.Meta (service.name and whatever else the importer kept) and add
// gen_ai.agent.name (the first acting agent) and gen_ai.request.model (the
// first model named) when the trace shows them; the server should add the
// resource and root-span attributes it has (a prompt version, say) before
// observing. Time is the end of the last step, Latency the span from the
// first step's start to the last end, and CostUSD the sum of the steps'
// model costs when any step states one.
func FromReport(t *probity.Trace, r analysis.Report) Observation {
	o := Observation{TraceID: t.ID, Verdict: r.Verdict, Attrs: map[string]string{}}
	if o.TraceID == "" {
		o.TraceID = r.TraceID
	}
	for k, v := range t.Meta {
		o.Attrs[k] = v
	}
	var first, last time.Time
	var cost float64
	costed := false
	for _, s := range t.Steps {
		for _, at := range []time.Time{s.Start, s.End} {
			if at.IsZero() {
				continue
			}
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
		}
		if s.Model != nil {
			if s.Model.CostUSD != 0 {
				cost += s.Model.CostUSD
				costed = true
			}
			if _, ok := o.Attrs[AttrModel]; !ok && s.Model.Name != "" {
				o.Attrs[AttrModel] = s.Model.Name
			}
		}
		if _, ok := o.Attrs[AttrAgent]; !ok && s.Actor != "" && (s.Kind == probity.KindAssistant || s.Kind == probity.KindToolCall || s.Kind == probity.KindFinal) {
			o.Attrs[AttrAgent] = s.Actor
		}
	}
	o.Time = last
	if !first.IsZero() {
		o.Latency = last.Sub(first)
	}
	if costed {
		o.CostUSD = &cost
	}
	for _, f := range r.Findings {
		o.Findings = append(o.Findings, Finding{Detector: f.Detector, Severity: f.Severity})
		if rule, ok := strings.CutPrefix(f.Detector, "policy:"); ok {
			o.Denials = append(o.Denials, rule)
		}
	}
	return o
}
