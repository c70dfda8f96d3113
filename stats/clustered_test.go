package stats

import (
	"math"
	"testing"
)

// clusterExample is METHODS §1's clustered example: 4 clusters of 3.
var clusterExample = [][]float64{{1, 1, 1}, {0, 0, 1}, {1, 1, 0}, {0, 0, 0}}

func TestClusteredVectors(t *testing.T) {
	mean, se := ClusteredSE(clusterExample)
	if !near(mean, 0.5, 1e-12) || !near(se, 0.186339, tol) {
		t.Errorf("ClusteredSE = %v, %.7f, want 0.5, 0.186339", mean, se)
	}
	if _, se1 := ClusteredSECR1(clusterExample); !near(se1, 0.215166, tol) {
		t.Errorf("ClusteredSECR1 se = %.7f, want 0.215166", se1)
	}
	// The brief prints the normal CI to 4 decimals.
	if got, want := ClusteredCI(clusterExample, 0.95, false), (Interval{0.1348, 0.8652}); !nearIv(got, want, 5e-5) {
		t.Errorf("ClusteredCI(CR0) = %v, want %v", got, want)
	}
	// CR1 with t_3: 0.5 ± 3.182446 × 0.215166.
	if got, want := ClusteredCI(clusterExample, 0.95, true), (Interval{0.5 - 3.182446305284263*0.215166, 0.5 + 3.182446305284263*0.215166}); !nearIv(got, want, 2e-6) {
		t.Errorf("ClusteredCI(CR1, t) = %v, want %v", got, want)
	}
	// Singleton clusters reduce CR0 to the naive √(p̂(1−p̂)/N) = 0.144338.
	var flat [][]float64
	for _, cl := range clusterExample {
		for _, s := range cl {
			flat = append(flat, []float64{s})
		}
	}
	if _, got := ClusteredSE(flat); !near(got, 0.144338, tol) {
		t.Errorf("ClusteredSE(singletons) = %.7f, want the naive 0.144338", got)
	}
}

func TestClusteredEdges(t *testing.T) {
	for name, in := range map[string][][]float64{
		"nil": nil, "empty clusters": {{}, {}}, "NaN": {{1, math.NaN()}, {0}}, "Inf": {{math.Inf(1)}, {0}},
	} {
		if m, se := ClusteredSE(in); !math.IsNaN(m) || !math.IsNaN(se) {
			t.Errorf("ClusteredSE(%s) = %v, %v, want NaN", name, m, se)
		}
		if iv := ClusteredCI(in, 0.95, true); iv.Valid() {
			t.Errorf("ClusteredCI(%s) = %v, want NaNs", name, iv)
		}
	}
	if _, se := ClusteredSECR1([][]float64{{1, 0, 1}}); !math.IsNaN(se) {
		t.Errorf("ClusteredSECR1(one cluster) = %v, want NaN", se)
	}
	if iv := ClusteredCI([][]float64{{1, 0, 1}, {}}, 0.95, false); iv.Valid() {
		t.Errorf("ClusteredCI(one non-empty cluster) = %v, want NaNs", iv)
	}
	if iv := ClusteredCI(clusterExample, 2, false); iv.Valid() {
		t.Errorf("ClusteredCI(level 2) = %v, want NaNs", iv)
	}
}
