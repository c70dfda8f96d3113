package eval

import (
	"math"

	"github.com/probity/probity/stats"
)

// sequentialTest is one case's anytime-valid SPRT (stats.Sequential) with
// the suite's p0, p1, α, β and the trial budget as its hard cap.
type sequentialTest struct {
	s *stats.Sequential
}

func sequentialConfig(st StopSpec, trials int) stats.SequentialConfig {
	return stats.SequentialConfig{P0: st.P0, P1: st.P1, Alpha: st.Alpha, Beta: st.Beta, MaxTrials: trials, Method: stats.MethodSPRT}
}

func newSequentialTest(st StopSpec, trials int) *sequentialTest {
	return &sequentialTest{s: stats.NewSequential(sequentialConfig(st, trials))}
}

// Observe feeds one outcome and returns "pass" (the case's rate is above
// p0, false with probability at most α), "fail" (below p1, false with
// probability at most β), or "" to go on. Reaching the cap undecided is
// not an early stop, so it returns "".
func (t *sequentialTest) Observe(pass bool) string {
	switch t.s.Observe(pass) {
	case stats.Accept:
		return StatusPass
	case stats.Reject:
		return StatusFail
	}
	return ""
}

// N is the number of outcomes observed.
func (t *sequentialTest) N() int { return t.s.N() }

// LogLR is the log e-value of the accept side (the SPRT statistic).
func (t *sequentialTest) LogLR() float64 {
	e := t.s.EValue()
	if e <= 0 {
		return math.Inf(-1)
	}
	return math.Log(e)
}
