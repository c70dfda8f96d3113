package eval

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
)

// compileNoFindings runs Probity's detectors over the trial's trace and
// fails on any finding at or above the severity (default high), optionally
// only from the named detectors.
func compileNoFindings(s *Suite, a *AssertSpec) (Assertion, error) {
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
