package stats

import (
	"math"
	"testing"
)

// TestSemanticEntropyVectors checks METHODS §6.
func TestSemanticEntropyVectors(t *testing.T) {
	for _, tt := range []struct {
		sizes []int
		want  float64
	}{
		{[]int{6, 3, 1}, 0.897946}, {[]int{5, 5}, 0.693147}, {[]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 2.302585}, {[]int{10}, 0},
		{[]int{6, 0, 3, 1}, 0.897946},
	} {
		if got := DiscreteSemanticEntropy(tt.sizes); !near(got, tt.want, tol) {
			t.Errorf("DiscreteSemanticEntropy(%v) = %.7f, want %.6f", tt.sizes, got, tt.want)
		}
	}
	probs := []float64{0.20, 0.15, 0.10, 0.05, 0.02}
	if got := SemanticEntropy(probs, []int{0, 0, 0, 1, 2}); !near(got, 0.475603, tol) {
		t.Errorf("SemanticEntropy = %.7f, want 0.475603", got)
	}
	// P(C) = [0.865385, 0.096154, 0.038462] gives the same entropy.
	if got := DiscreteSemanticEntropy(nil); !math.IsNaN(got) {
		t.Errorf("DiscreteSemanticEntropy(nil) = %v, want NaN", got)
	}
	for _, bad := range []struct {
		p []float64
		c []int
	}{{[]float64{0.1}, []int{0, 1}}, {[]float64{-0.1}, []int{0}}, {[]float64{math.NaN()}, []int{0}}, {[]float64{0.1}, []int{-1}}, {[]float64{0, 0}, []int{0, 1}}} {
		if got := SemanticEntropy(bad.p, bad.c); !math.IsNaN(got) {
			t.Errorf("SemanticEntropy(%v, %v) = %v, want NaN", bad.p, bad.c, got)
		}
	}
	if got := DiscreteSemanticEntropy([]int{3, -1}); !math.IsNaN(got) {
		t.Errorf("DiscreteSemanticEntropy(negative) = %v, want NaN", got)
	}
}
