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
	var all []float64
	for _, cl := range clusterExample {
		all = append(all, cl...)
	}
	if m, got := NaiveSE(all); !near(got, 0.150756, tol) || m != 0.5 {
		t.Errorf("NaiveSE = %v, %.7f, want 0.5, 0.150756", m, got)
	}
	if m, se := NaiveSE([]float64{1}); !math.IsNaN(m) || !math.IsNaN(se) {
		t.Errorf("NaiveSE(one score) = %v, %v, want NaN", m, se)
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

// TestClusteredBayes checks METHODS §1's clustered Beta-Binomial example
// (clusters [1,1,1], [0,0,1], [1,1,0], [0,0,0]): CrI [0.1921, 0.8079]; a
// refined quadrature of the brief's script gives [0.1920606, 0.8079394].
func TestClusteredBayes(t *testing.T) {
	tasks := []TaskCounts{{3, 3}, {3, 1}, {3, 2}, {3, 0}}
	mean, ci := ClusteredBayes(tasks, 0.95)
	if !near(mean, 0.5, 1e-9) || !nearIv(ci, Interval{0.1920606, 0.8079394}, 1e-6) {
		t.Errorf("ClusteredBayes = %.7f [%.7f, %.7f], want 0.5 [0.1920606, 0.8079394]", mean, ci.Lo, ci.Hi)
	}
	// Wider than the iid Beta(1,1) interval that ignores clustering.
	if iid := BetaPosterior(6, 12, 1, 1, 0.95); !(ci.Lo < iid.Lo && ci.Hi > iid.Hi) || !nearIv(iid, Interval{0.2513, 0.7487}, 5e-5) {
		t.Errorf("iid interval %v should be [0.2513, 0.7487] and inside %v", iid, ci)
	}
	// The large-n form agrees with the product form.
	if a, b := logBetaBinomialRatio(40, 65, 1.3, 2.1), lbeta(41.3, 27.1)-lbeta(1.3, 2.1); !near(a, b, 1e-9) {
		t.Errorf("logBetaBinomialRatio = %v, want %v", a, b)
	}
	if a, b := logBetaBinomialRatio(7, 10, 0.3, 2.1), lbeta(7.3, 5.1)-lbeta(0.3, 2.1); !near(a, b, 1e-9) {
		t.Errorf("logBetaBinomialRatio (product form) = %v, want %v", a, b)
	}
	for _, in := range [][]TaskCounts{nil, {{3, 4}}, {{-1, 0}}} {
		if m, ci := ClusteredBayes(in, 0.95); !math.IsNaN(m) || ci.Valid() {
			t.Errorf("ClusteredBayes(%v) = %v %v, want NaNs", in, m, ci)
		}
	}
}
