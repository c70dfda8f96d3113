package stats

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/probity/probity"
)

// HazardTable attributes end-to-end failures of a multi-step agent to its
// steps from logged runs (METHODS §7, a life table).
type HazardTable struct {
	// Hazard[j] = failed[j]/reached[j]: the chance step j fails given that
	// every earlier step succeeded.
	Hazard []float64
	// Success is the end-to-end success ∏(1 − Hazard[j]), exact by the chain
	// rule with no independence assumption.
	Success float64
	// Share[j] is the fraction of failed runs that failed first at step j.
	Share []float64
	// IfPerfect[j] is the end-to-end success if step j never failed,
	// Success/(1 − Hazard[j]): where fixing one step pays most.
	IfPerfect []float64
	// PosteriorMean is E[Success] with independent Beta(1 + failed,
	// 1 + reached − failed) posteriors on the hazards (the likelihood
	// factorises over steps).
	PosteriorMean float64
	// CI is a Monte Carlo equal-tailed credible interval of Success under
	// those posteriors (seeded, deterministic).
	CI Interval
}

// StepHazards builds the hazard table from, for each step in order, the
// number of runs that reached it and the number that failed there. Prefer
// instrumented per-step checks to feed it: LLM-judge attribution finds the
// decisive step only 14% of the time (Who&When, METHODS §7). draws Monte
// Carlo samples from a generator seeded with seed give the interval at
// level. It returns a *probity.Error (EINVALID) naming the bad step for
// mismatched lengths, negative counts, failed > reached, or a step no run
// reached.
func StepHazards(reached, failed []int, level float64, draws int, seed uint64) (HazardTable, error) {
	var t HazardTable
	if len(reached) == 0 || len(reached) != len(failed) {
		return t, probity.Errorf(probity.EINVALID, "step hazards: %d reached counts and %d failure counts", len(reached), len(failed))
	}
	if !validLevel(level) || draws < 1 {
		return t, probity.Errorf(probity.EINVALID, "step hazards: level %v, draws %d", level, draws)
	}
	for j := range reached {
		if reached[j] < 1 || failed[j] < 0 || failed[j] > reached[j] {
			return t, &probity.Error{Code: probity.EINVALID, Where: fmt.Sprintf("step %d", j), Message: "step hazards: need 0 <= failed <= reached and reached >= 1"}
		}
	}
	k := len(reached)
	t.Hazard, t.Share, t.IfPerfect = make([]float64, k), make([]float64, k), make([]float64, k)
	t.Success, t.PosteriorMean = 1, 1
	for j := range k {
		t.Hazard[j] = float64(failed[j]) / float64(reached[j])
		t.Success *= 1 - t.Hazard[j]
		t.PosteriorMean *= float64(1+reached[j]-failed[j]) / float64(2+reached[j])
	}
	survive := 1.0
	for j, h := range t.Hazard {
		if t.Success < 1 {
			t.Share[j] = survive * h / (1 - t.Success)
		}
		survive *= 1 - h
		t.IfPerfect[j] = t.Success / (1 - h) // +Inf when a step always fails
	}
	src := rand.NewPCG(seed, seed^0x2545f4914f6cdd1d)
	dists := make([]distuv.Beta, k)
	for j := range k {
		dists[j] = distuv.Beta{Alpha: float64(1 + failed[j]), Beta: float64(1 + reached[j] - failed[j]), Src: src}
	}
	samples := make([]float64, draws)
	for i := range samples {
		s := 1.0
		for _, d := range dists {
			s *= 1 - d.Rand()
		}
		samples[i] = s
	}
	a := 1 - level
	t.CI = percentileInterval(samples, a/2, 1-a/2)
	return t, nil
}

// RetryStepSuccess returns the success probability of a step retried after
// a verifier catches its failure: p·Σ_{i=0}^{r} ((1−p)d)^i for per-attempt
// success p, verifier recall d (no false alarms) and up to r retries
// (METHODS §7). Raise it to the number of steps for a chain, as a model: real
// step errors are correlated. It returns NaN for p or d outside [0, 1] or
// r < 0.
func RetryStepSuccess(p, d float64, r int) float64 {
	if !(p >= 0 && p <= 1) || !(d >= 0 && d <= 1) || r < 0 {
		return math.NaN()
	}
	s, term := 0.0, 1.0
	for range r + 1 {
		s += term
		term *= (1 - p) * d
	}
	return p * s
}
