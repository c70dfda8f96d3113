package detect

import (
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// Report is the analysis of one trace. Its JSON form is the contract of
// `probity analyze --format json`: one object per trace per line.
type Report struct {
	// TraceID and Source identify the trace and the file it came from.
	TraceID string `json:"trace_id"`
	Source  string `json:"source"`
	// Verdict is fail when a finding is high, suspect when one is medium,
	// else ok.
	Verdict probity.Verdict `json:"verdict"`
	// RootCauseStep is the source position of the earliest step whose
	// finding explains what went wrong, or nil when nothing did.
	RootCauseStep *int `json:"root_cause_step"`
	// Findings are ordered by step, then by detector order.
	Findings []probity.Finding `json:"findings"`
	// Localization says where a failed run went wrong; nil (JSON null)
	// for a run that did not fail. detect never sets it: the localize
	// package, which runs after the detectors, does.
	Localization *probity.Localization `json:"localization"`
}

// DetectorTruncated is the id of the finding Run adds when a step's text was
// longer than Config.MaxStep and only its head was analysed.
const DetectorTruncated = "truncated"

// EvidenceCause is the Evidence.Kind a detector uses to name the earlier
// step that caused what its finding is on (the call whose result failed).
// RootCause starts the chain there rather than at the finding's step.
const EvidenceCause = "cause"

// DetectorInternal is the id of the finding Run adds when a detector failed
// (a bug): the other detectors' findings still stand.
const DetectorInternal = "internal-error"

// Run analyses t with the detectors ds (Default() when nil) under cfg (nil
// means defaults). Provenance is computed once and shared. Steps whose text
// exceeds cfg.MaxStep() are cut to that length before any analysis, so a
// huge step costs bounded time; each cut step gets a low "truncated"
// finding. Run never modifies t.
func Run(t *probity.Trace, cfg *Config, ds []Detector) Report {
	if ds == nil {
		ds = Default()
	}
	bounded, cut := boundTrace(t, cfg.MaxStep())
	c := &Context{Trace: bounded, Config: cfg}
	var fs []probity.Finding
	for _, i := range cut {
		s := t.Steps[i]
		fs = append(fs, c.finding(i, probity.Finding{
			Detector:   DetectorTruncated,
			Severity:   probity.SeverityLow,
			Confidence: 1,
			Message: fmt.Sprintf("step text is %d bytes; only the first %d bytes of each field were analysed",
				stepBytes(&s), cfg.MaxStep()),
		}))
	}
	c.Prov = safeAnalyze(bounded, &fs, c)
	for _, d := range ds {
		fs = append(fs, safeDetect(d, c)...)
	}
	sort.SliceStable(fs, func(a, b int) bool { return fs[a].StepIndex < fs[b].StepIndex })
	if fs == nil {
		fs = []probity.Finding{}
	}
	for i := range fs {
		if fs[i].Evidence == nil {
			fs[i].Evidence = []probity.Evidence{}
		}
		if fs[i].BlastRadius == nil {
			fs[i].BlastRadius = []int{}
		}
	}
	return Report{
		TraceID:       t.ID,
		Source:        t.Source,
		Verdict:       Verdict(fs),
		RootCauseStep: RootCause(fs),
		Findings:      fs,
	}
}

func stepBytes(s *probity.Step) int {
	n := len(s.Content)
	if s.Tool != nil {
		n += len(s.Tool.Args) + len(s.Tool.RawArgs)
	}
	return n
}

// Verdict sums findings up: fail when one is high, suspect when one is
// medium, else ok.
func Verdict(fs []probity.Finding) probity.Verdict {
	max := probity.SeverityNone
	for _, f := range fs {
		if f.Severity > max {
			max = f.Severity
		}
	}
	switch {
	case max >= probity.SeverityHigh:
		return probity.VerdictFail
	case max >= probity.SeverityMedium:
		return probity.VerdictSuspect
	}
	return probity.VerdictOK
}

// MaxSeverity returns the highest severity among fs (SeverityNone if empty).
func MaxSeverity(fs []probity.Finding) probity.Severity {
	max := probity.SeverityNone
	for _, f := range fs {
		if f.Severity > max {
			max = f.Severity
		}
	}
	return max
}

// RootCause returns the source position of the step that best explains what
// went wrong, or nil when no finding is medium or above. It is the earliest
// origin among the findings of the highest severity present: a cascade's
// finding sits on the step where the bad value was born, not on its last
// consumer, and a finding that names its cause (EvidenceCause, such as the
// call whose result failed) starts there. Bookkeeping findings (truncated,
// internal-error) never count.
func RootCause(fs []probity.Finding) *int {
	top := probity.SeverityNone
	for _, f := range fs {
		if !bookkeeping(f) && f.Severity > top {
			top = f.Severity
		}
	}
	if top < probity.SeverityMedium {
		return nil
	}
	best := -1
	for _, f := range fs {
		if bookkeeping(f) || f.Severity != top {
			continue
		}
		if o := origin(f); best < 0 || o < best {
			best = o
		}
	}
	return &best
}

func bookkeeping(f probity.Finding) bool {
	return f.Detector == DetectorTruncated || f.Detector == DetectorInternal
}

// origin is where the problem a finding reports began: its cause when it
// names one that comes earlier, else its own step.
func origin(f probity.Finding) int {
	o := f.Step
	for _, e := range f.Evidence {
		if e.Kind == EvidenceCause && e.SourceStep >= 0 && e.SourceStep < o {
			o = e.SourceStep
		}
	}
	return o
}

// safeAnalyze runs provenance, turning a panic (a bug) into a finding so
// that one bad trace cannot take down a pipeline over millions.
func safeAnalyze(t *probity.Trace, fs *[]probity.Finding, c *Context) (a *provenance.Analysis) {
	defer func() {
		if r := recover(); r != nil {
			*fs = append(*fs, internalFinding(c, "provenance", r))
			a = nil
		}
	}()
	return provenance.Analyze(t, provenance.WithToolClasses(c.Config.Classes()))
}

func safeDetect(d Detector, c *Context) (fs []probity.Finding) {
	defer func() {
		if r := recover(); r != nil {
			fs = []probity.Finding{internalFinding(c, d.ID(), r)}
		}
	}()
	return d.Detect(c)
}

func internalFinding(c *Context, who string, r any) probity.Finding {
	f := probity.Finding{
		Detector:    DetectorInternal,
		Severity:    probity.SeverityLow,
		Message:     fmt.Sprintf("%s failed on this trace (a bug; please report it): %v", who, r),
		Evidence:    []probity.Evidence{},
		BlastRadius: []int{},
	}
	if len(c.Trace.Steps) > 0 {
		f.Step = c.Trace.Steps[0].Pos.Index
	}
	return f
}

// boundTrace returns t itself when every step is within max bytes, else a
// shallow copy whose oversized contents and arguments are cut (at a rune
// boundary) to max, with the indexes of the cut steps. Only the copy is
// cut; the caller's trace is never modified.
func boundTrace(t *probity.Trace, max int) (*probity.Trace, []int) {
	var cut []int
	for i := range t.Steps {
		s := &t.Steps[i]
		if len(s.Content) > max || (s.Tool != nil && (len(s.Tool.Args) > max || len(s.Tool.RawArgs) > max)) {
			cut = append(cut, i)
		}
	}
	if len(cut) == 0 {
		return t, nil
	}
	cp := *t
	cp.Steps = make([]probity.Step, len(t.Steps))
	copy(cp.Steps, t.Steps)
	for _, i := range cut {
		s := &cp.Steps[i]
		s.Content = cutString(s.Content, max)
		if s.Tool != nil {
			tc := *s.Tool
			if len(tc.Args) > max {
				// Cut JSON is not JSON: keep its head as raw text.
				tc.RawArgs = cutString(string(tc.Args), max)
				tc.Args = nil
			}
			tc.RawArgs = cutString(tc.RawArgs, max)
			s.Tool = &tc
		}
	}
	return &cp, cut
}

func cutString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
