package eval

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
)

// NoFindingsSpec is a no-findings assertion: Probity's detectors (with the
// configuration file Config) find nothing at or above Severity (default
// high) in the trial's trace, counting only Detectors when given.
type NoFindingsSpec struct {
	Severity  string   `yaml:"severity,omitempty" json:"severity,omitempty"`
	Detectors []string `yaml:"detectors,omitempty" json:"detectors,omitempty"`
	Config    string   `yaml:"config,omitempty" json:"config,omitempty"`
}

func (a *NoFindingsSpec) validate(v *validator, at string) {
	if a.Severity == "" {
		a.Severity = "high"
	}
	if _, err := probity.ParseSeverity(a.Severity); err != nil {
		v.fail(at+".severity", "%v", err)
	}
}

// compile loads the detector configuration once.
func (a *NoFindingsSpec) compile(s *Suite, _ Options) (Assertion, error) {
	sev, err := probity.ParseSeverity(a.Severity)
	if err != nil {
		return nil, err
	}
	var cfg *detect.Config
	if a.Config != "" {
		if cfg, err = detect.LoadConfig(s.resolve(a.Config)); err != nil {
			return nil, err
		}
	}
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		if c.Output.Trace == nil {
			return fail("the target reported no trace, so the detectors have nothing to check")
		}
		rep := detect.Run(c.Output.Trace, cfg, detect.Default())
		var hits []string
		for _, f := range rep.Findings {
			if f.Severity < sev || len(a.Detectors) > 0 && !slices.Contains(a.Detectors, f.Detector) {
				continue
			}
			hits = append(hits, fmt.Sprintf("%s (%s) at step %d: %s", f.Detector, f.Severity, f.Step, f.Message))
		}
		if len(hits) == 0 {
			return pass()
		}
		return fail("%d finding(s) at or above %s: %s", len(hits), sev, clip(strings.Join(hits, "; "), 400))
	}), nil
}
