package stats

import (
	"math"

	"github.com/probity/probity"
)

// BOCPDConfig configures a Bayesian online changepoint detector on a failure
// rate.
type BOCPDConfig struct {
	// A0 and B0 are the Beta prior of the failure rate of a new run, e.g.
	// Beta(1, 19) for rates near 5%. Default 1, 1.
	A0, B0 float64
	// Hazard is the constant prior probability of a change at each step,
	// e.g. 0.001 for one change per thousand traces. Required, in (0, 1).
	Hazard float64
	// Prune drops run lengths whose posterior probability falls below it,
	// keeping the cost per step bounded. Default 1e-12; negative keeps all.
	Prune float64
}

// BOCPD is the Bayesian online changepoint detector of Adams & MacKay
// (2007, arXiv 0710.3742) with a Beta–Bernoulli model of the failure rate
// and a constant hazard: after each trace it holds the posterior of the run
// length (traces since the last change).
//
// Use it after a CUSUM alarm to see when the rate changed and what it
// changed to, or when the direction or size of a shift is unknown. It has no
// alarm rule of its own; METHODS §5 used "alert when P(run length <= L) >= γ
// and the recent rate exceeds p0" (ProbRunAtMost and RunRate). Not safe for
// concurrent use.
type BOCPD struct {
	cfg    BOCPDConfig
	err    error
	runs   []bocpdRun // ascending run length
	t      int
	logEv  float64
	lastEv float64
}

type bocpdRun struct {
	r    int
	p    float64 // posterior probability
	a, b float64 // Beta posterior of the failure rate in this run
}

// NewBOCPD starts a detector before any observation (run length 0). An
// invalid configuration does not panic: Observe does nothing and Err says
// why.
func NewBOCPD(cfg BOCPDConfig) *BOCPD {
	if cfg.A0 == 0 {
		cfg.A0 = 1
	}
	if cfg.B0 == 0 {
		cfg.B0 = 1
	}
	if cfg.Prune == 0 {
		cfg.Prune = 1e-12
	}
	d := &BOCPD{cfg: cfg, runs: []bocpdRun{{0, 1, cfg.A0, cfg.B0}}}
	if !(cfg.A0 > 0) || !(cfg.B0 > 0) || math.IsInf(cfg.A0, 0) || math.IsInf(cfg.B0, 0) || !(cfg.Hazard > 0 && cfg.Hazard < 1) {
		d.err = probity.Errorf(probity.EINVALID, "bocpd: need a positive Beta(%v, %v) prior and a hazard in (0, 1), got %v", cfg.A0, cfg.B0, cfg.Hazard)
	}
	return d
}

// Err returns the configuration error, or nil.
func (d *BOCPD) Err() error { return d.err }

// Observe records one trace (pass = false is a failure, as for CUSUM).
func (d *BOCPD) Observe(pass bool) {
	if d.err != nil {
		return
	}
	x := 1.0
	if pass {
		x = 0
	}
	h := d.cfg.Hazard
	next := make([]bocpdRun, 0, len(d.runs)+1)
	next = append(next, bocpdRun{0, 0, d.cfg.A0, d.cfg.B0})
	cp, ev := 0.0, 0.0
	for _, run := range d.runs {
		pred := run.a / (run.a + run.b)
		if x == 0 {
			pred = run.b / (run.a + run.b)
		}
		w := run.p * pred
		cp += w * h
		next = append(next, bocpdRun{run.r + 1, w * (1 - h), run.a + x, run.b + 1 - x})
		ev += w
	}
	next[0].p = cp
	kept := next[:0]
	for i, run := range next {
		run.p /= ev
		if i == 0 || run.p >= d.cfg.Prune {
			kept = append(kept, run)
		}
	}
	d.runs = kept
	d.t++
	d.lastEv = ev
	d.logEv += math.Log(ev)
}

// T returns the number of observations.
func (d *BOCPD) T() int { return d.t }

// RunLengthProbs returns P(run length = r | data) for r = 0..T (pruned run
// lengths are 0).
func (d *BOCPD) RunLengthProbs() []float64 {
	out := make([]float64, d.t+1)
	for _, run := range d.runs {
		out[run.r] = run.p
	}
	return out
}

// MAPRunLength returns the most probable run length; the change most likely
// happened MAPRunLength observations ago.
func (d *BOCPD) MAPRunLength() int {
	best := d.runs[0]
	for _, run := range d.runs[1:] {
		if run.p > best.p {
			best = run
		}
	}
	return best.r
}

// ProbRunAtMost returns P(run length <= l | data): the probability that the
// rate changed within the last l observations.
func (d *BOCPD) ProbRunAtMost(l int) float64 {
	s := 0.0
	for _, run := range d.runs {
		if run.r <= l {
			s += run.p
		}
	}
	return s
}

// PredictiveFailure returns P(the next trace fails | data), averaging the
// runs' predictive rates over the run-length posterior.
func (d *BOCPD) PredictiveFailure() float64 {
	s := 0.0
	for _, run := range d.runs {
		s += run.p * run.a / (run.a + run.b)
	}
	return s
}

// RunRate returns the posterior of the failure rate within the current run
// if it has length r (e.g. MAPRunLength()), or a NaN distribution when that
// run length has been pruned or is out of range.
func (d *BOCPD) RunRate(r int) BetaDist {
	for _, run := range d.runs {
		if run.r == r {
			return BetaDist{run.a, run.b}
		}
	}
	return BetaDist{math.NaN(), math.NaN()}
}

// LogEvidence returns log p(x₁..x_T), the log marginal likelihood of the
// observations under the model.
func (d *BOCPD) LogEvidence() float64 { return d.logEv }
