package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/probity/probity"
)

// TestBOCPDVector checks METHODS §5: Beta(1,1), H = 0.01, 30 successes then 5
// failures.
func TestBOCPDVector(t *testing.T) {
	d := NewBOCPD(BOCPDConfig{Hazard: 0.01})
	for i := 1; i <= 35; i++ {
		d.Observe(i <= 30)
		if i == 32 {
			if got := d.MAPRunLength(); got != 2 {
				t.Errorf("t=32: MAP run length = %d, want 2", got)
			}
			if got := d.ProbRunAtMost(2); !near(got, 0.498340, tol) {
				t.Errorf("t=32: P(r <= 2) = %.7f, want 0.498340", got)
			}
		}
		// With a constant hazard P(r = 0) = H exactly.
		if got := d.RunLengthProbs()[0]; !near(got, 0.01, 1e-12) {
			t.Errorf("t=%d: P(r = 0) = %v, want H", i, got)
		}
	}
	if got := d.MAPRunLength(); got != 5 {
		t.Errorf("MAP run length = %d, want 5", got)
	}
	if got := d.ProbRunAtMost(5); !near(got, 0.837096, tol) {
		t.Errorf("P(r <= 5) = %.7f, want 0.837096", got)
	}
	want := []float64{0.01, 0.006274, 0.005787, 0.008355, 0.037534, 0.769146, 0.113458}
	probs := d.RunLengthProbs()
	for r, w := range want {
		if !near(probs[r], w, tol) {
			t.Errorf("P(r = %d) = %.7f, want %.6f", r, probs[r], w)
		}
	}
	if got := d.PredictiveFailure(); !near(got, 0.826023, tol) {
		t.Errorf("predictive P(fail) = %.7f, want 0.826023", got)
	}
	if got := d.LogEvidence(); !near(got, -9.851066, tol) {
		t.Errorf("log evidence = %.7f, want -9.851066", got)
	}
	if got := d.RunRate(5).Mean(); !near(got, 6.0/7, 1e-12) {
		t.Errorf("rate of the 5-long run = %v, want 6/7", got)
	}
	if got := d.RunRate(1000).Mean(); !math.IsNaN(got) {
		t.Errorf("RunRate(1000) = %v, want NaN", got)
	}
	sum := 0.0
	for _, p := range probs {
		sum += p
	}
	if !near(sum, 1, 1e-12) || d.T() != 35 || len(probs) != 36 {
		t.Errorf("probabilities sum to %v over %d run lengths at T=%d", sum, len(probs), d.T())
	}
}

// TestBOCPDLocatesChange plants a change from 5% to 30% failures at trace
// 600 and checks the detector dates it within a few dozen traces, and that
// pruning keeps fewer run lengths without changing the answer.
func TestBOCPDLocatesChange(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	all := NewBOCPD(BOCPDConfig{A0: 1, B0: 19, Hazard: 1e-3, Prune: -1})
	pruned := NewBOCPD(BOCPDConfig{A0: 1, B0: 19, Hazard: 1e-3, Prune: 1e-8})
	for i := range 800 {
		p := 0.05
		if i >= 600 {
			p = 0.30
		}
		pass := rng.Float64() >= p
		all.Observe(pass)
		pruned.Observe(pass)
	}
	if r := all.MAPRunLength(); r < 170 || r > 240 {
		t.Errorf("MAP run length = %d, want about 200 (change at trace 600 of 800)", r)
	}
	if got := all.RunRate(all.MAPRunLength()).Mean(); !near(got, 0.30, 0.08) {
		t.Errorf("rate since the change = %.3f, want about 0.30", got)
	}
	if len(all.runs) != 801 || len(pruned.runs) >= 400 {
		t.Errorf("kept %d run lengths without pruning (want 801) and %d with (want far fewer)", len(all.runs), len(pruned.runs))
	}
	if pruned.MAPRunLength() != all.MAPRunLength() || !near(pruned.PredictiveFailure(), all.PredictiveFailure(), 1e-6) ||
		!near(pruned.ProbRunAtMost(300), all.ProbRunAtMost(300), 1e-6) {
		t.Errorf("pruning changed the answer: MAP %d vs %d, predictive %v vs %v", pruned.MAPRunLength(), all.MAPRunLength(), pruned.PredictiveFailure(), all.PredictiveFailure())
	}
}

func TestBOCPDInvalid(t *testing.T) {
	for _, cfg := range []BOCPDConfig{{}, {Hazard: 1}, {Hazard: 0.1, A0: -1}, {Hazard: math.NaN()}} {
		d := NewBOCPD(cfg)
		if probity.ErrorCode(d.Err()) != probity.EINVALID {
			t.Errorf("NewBOCPD(%+v).Err() = %v, want EINVALID", cfg, d.Err())
		}
		d.Observe(false)
		if d.T() != 0 || d.MAPRunLength() != 0 {
			t.Errorf("invalid detector observed: T=%d", d.T())
		}
	}
}
