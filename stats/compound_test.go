package stats

import (
	"math"
	"slices"
	"testing"

	"github.com/probity/probity"
)

// TestStepHazardsVector checks METHODS §7: reached [200, 190, 171], failed
// [10, 19, 6].
func TestStepHazardsVector(t *testing.T) {
	tab, err := StepHazards([]int{200, 190, 171}, []int{10, 19, 6}, 0.95, 100000, 1)
	if err != nil {
		t.Fatal(err)
	}
	eq := func(a, b []float64) bool {
		return slices.EqualFunc(a, b, func(x, y float64) bool { return near(x, y, tol) })
	}
	if want := []float64{0.05, 0.10, 0.035088}; !eq(tab.Hazard, want) {
		t.Errorf("Hazard = %v, want %v", tab.Hazard, want)
	}
	if !near(tab.Success, 0.825, 1e-12) {
		t.Errorf("Success = %v, want 0.825", tab.Success)
	}
	if want := []float64{0.285714, 0.542857, 0.171429}; !eq(tab.Share, want) {
		t.Errorf("Share = %v, want %v", tab.Share, want)
	}
	if want := []float64{0.868421, 0.916667, 0.855}; !eq(tab.IfPerfect, want) {
		t.Errorf("IfPerfect = %v, want %v", tab.IfPerfect, want)
	}
	if !near(tab.PosteriorMean, 0.812777, tol) {
		t.Errorf("PosteriorMean = %.7f, want 0.812777", tab.PosteriorMean)
	}
	// MC in the brief: ≈ [0.756, 0.863].
	if !nearIv(tab.CI, Interval{0.756, 0.863}, 0.003) {
		t.Errorf("CI = %v, want about [0.756, 0.863]", tab.CI)
	}
	for _, bad := range [][2][]int{{{10}, {11}}, {{0}, {0}}, {{10, 5}, {1}}, {{10}, {-1}}, {nil, nil}} {
		if _, err := StepHazards(bad[0], bad[1], 0.95, 10, 1); probity.ErrorCode(err) != probity.EINVALID {
			t.Errorf("StepHazards(%v, %v) error = %v, want EINVALID", bad[0], bad[1], err)
		}
	}
}

func TestRetryStepSuccess(t *testing.T) {
	for _, tt := range []struct {
		p, d        float64
		r           int
		step, chain float64
	}{
		{0.95, 0.9, 1, 0.992750, 0.864566},
		{0.95, 0.9, 2, 0.994674, 0.898697},
		{0.95, 0.5, 1, 0.973750, 0.587421},
		{0.95, 0, 0, 0.95, 0.358486},
		{0.99, 0, 0, 0.99, 0.817907},
	} {
		step := RetryStepSuccess(tt.p, tt.d, tt.r)
		if !near(step, tt.step, tol) || !near(math.Pow(step, 20), tt.chain, tol) {
			t.Errorf("RetryStepSuccess(%v, %v, %d) = %.6f (chain %.6f), want %.6f (%.6f)", tt.p, tt.d, tt.r, step, math.Pow(step, 20), tt.step, tt.chain)
		}
	}
	if got := RetryStepSuccess(1.5, 0.5, 1); !math.IsNaN(got) {
		t.Errorf("RetryStepSuccess(1.5) = %v, want NaN", got)
	}
}
