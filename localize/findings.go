package localize

import (
	"fmt"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
)

// byFindings turns the detectors' report into candidates: the root cause
// step strongest, then each medium or high finding's step by its
// confidence. Policy violations are findings too ("policy:<rule>").
func byFindings(t *probity.Trace, r *detect.Report) []scored {
	if r == nil {
		return nil
	}
	byPos := map[int]int{}
	for i, s := range t.Steps {
		if _, ok := byPos[s.Pos.Index]; !ok {
			byPos[s.Pos.Index] = i
		}
	}
	var votes []scored
	if r.RootCauseStep != nil {
		if i, ok := byPos[*r.RootCauseStep]; ok {
			votes = append(votes, scored{step: i, score: 0.6, method: MethodFindings,
				reason: "root cause of the strongest finding"})
		}
	}
	for _, f := range r.Findings {
		if f.Severity < probity.SeverityMedium {
			continue
		}
		i, ok := byPos[f.Step]
		if !ok {
			continue
		}
		c := f.Confidence
		if c <= 0 {
			c = 0.5
		}
		votes = append(votes, scored{step: i, score: 0.4 * c, method: MethodFindings,
			reason: fmt.Sprintf("%s finding: %s", f.Detector, f.Message)})
	}
	return votes
}
