package stats

import (
	"encoding/json"
	"maps"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/probity/probity/internal/shareddata"
)

// TestPassKVectors checks METHODS §2's table for n=20, c=17.
func TestPassKVectors(t *testing.T) {
	tests := []struct {
		k           int
		at, hat     float64
		atPlug, hPl float64
	}{
		{1, 0.8500000000, 0.8500000000, 0.85, 0.85},
		{2, 0.9842105263, 0.7157894737, 0.9775, 0.7225},
		{3, 0.9991228070, 680.0 / 1140, 0.996625, 0.614125},
		{4, 1.0, 0.4912280702, 0.99949375, 0.52200625},
		{5, 1.0, 0.3991228070, 0.9999240625, 0.4437053125},
	}
	for _, tt := range tests {
		if got := PassAtK(20, 17, tt.k); !near(got, tt.at, 1e-9) {
			t.Errorf("PassAtK(20, 17, %d) = %.10f, want %.10f", tt.k, got, tt.at)
		}
		if got := PassHatK(20, 17, tt.k); !near(got, tt.hat, 1e-9) {
			t.Errorf("PassHatK(20, 17, %d) = %.10f, want %.10f", tt.k, got, tt.hat)
		}
		// The unbiased estimators differ from the biased plug-ins.
		if tt.k > 1 && near(PassHatK(20, 17, tt.k), tt.hPl, 1e-3) {
			t.Errorf("PassHatK(20, 17, %d) equals the plug-in %v", tt.k, tt.hPl)
		}
	}
	// The combinatorial form, for a case where the stable product matters.
	if got, want := PassAtK(200, 3, 100), 1-comb(197, 100)/comb(200, 100); !near(got, want, 1e-12) {
		t.Errorf("PassAtK(200, 3, 100) = %v, want %v", got, want)
	}
}

func comb(n, k int) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x + 1)); return v }
	return math.Exp(lg(n) - lg(k) - lg(n-k))
}

// TestPassHatKUnbiased checks E[C(C,k)/C(n,k)] = θ^k exactly by summing over
// the binomial distribution: n=20, θ=0.85, k=3 gives 0.614125 (METHODS §2),
// with sampling SD 0.1747.
func TestPassHatKUnbiased(t *testing.T) {
	n, theta, k := 20, 0.85, 3
	var m1, m2 float64
	for c := 0; c <= n; c++ {
		pmf := comb(n, c) * math.Pow(theta, float64(c)) * math.Pow(1-theta, float64(n-c))
		v := PassHatK(n, c, k)
		m1 += pmf * v
		m2 += pmf * v * v
	}
	if !near(m1, 0.614125, 1e-9) {
		t.Errorf("E[PassHatK] = %.9f, want 0.614125", m1)
	}
	if sd := math.Sqrt(m2 - m1*m1); !near(sd, 0.1747, 5e-5) {
		t.Errorf("SD[PassHatK] = %.5f, want 0.1747", sd)
	}
}

func TestPassHatKPosterior(t *testing.T) {
	tests := []struct {
		name      string
		a0, b0    float64
		mean      float64
		ci        Interval
		probAbove float64 // P(θ³ ≥ 0.5); NaN when the brief gives none
	}{
		{"Jeffreys", 0.5, 0.5, 0.594121, Interval{0.276432, 0.873363}, 0.720583},
		{"uniform", 1, 1, 0.563241, Interval{0.257959, 0.845347}, math.NaN()},
	}
	for _, tt := range tests {
		mean, ci := PassHatKPosterior(17, 20, tt.a0, tt.b0, 3, 0.95)
		if !near(mean, tt.mean, tol) || !nearIv(ci, tt.ci, tol) {
			t.Errorf("PassHatKPosterior(17, 20, %s, k=3) = %.6f %v, want %.6f %v", tt.name, mean, ci, tt.mean, tt.ci)
		}
		if !math.IsNaN(tt.probAbove) {
			got := BetaDist{17 + tt.a0, 3 + tt.b0}.ProbAbove(math.Pow(0.5, 1.0/3))
			if !near(got, tt.probAbove, tol) {
				t.Errorf("P(θ³ ≥ 0.5 | %s) = %.7f, want %.6f", tt.name, got, tt.probAbove)
			}
		}
	}
	if got, want := PassHatKInterval(ClopperPearson(17, 20, 0.95), 3), (Interval{0.239568, 0.906840}); !nearIv(got, want, tol) {
		t.Errorf("PassHatKInterval(CP, 3) = %v, want %v", got, want)
	}
	if got, want := PassAtKInterval(Interval{0.5, 0.9}, 2), (Interval{0.75, 0.99}); !nearIv(got, want, 1e-12) {
		t.Errorf("PassAtKInterval = %v, want %v", got, want)
	}
}

func TestPassKEdges(t *testing.T) {
	for _, in := range []struct{ n, c, k int }{
		{0, 0, 1}, {4, 5, 1}, {4, -1, 1}, {-4, 0, 1}, {4, 2, 0}, {4, 2, 5}, {4, 2, -1},
	} {
		if got := PassAtK(in.n, in.c, in.k); !math.IsNaN(got) {
			t.Errorf("PassAtK(%d, %d, %d) = %v, want NaN", in.n, in.c, in.k, got)
		}
		if got := PassHatK(in.n, in.c, in.k); !math.IsNaN(got) {
			t.Errorf("PassHatK(%d, %d, %d) = %v, want NaN", in.n, in.c, in.k, got)
		}
	}
	if got := PassHatK(4, 2, 3); got != 0 {
		t.Errorf("PassHatK(4, 2, 3) = %v, want 0", got)
	}
	if got := PassAtK(4, 0, 2); got != 0 {
		t.Errorf("PassAtK(4, 0, 2) = %v, want 0", got)
	}
	if est, ci := PassHatKBootstrap(nil, 1, 100, 1, 0.95); !math.IsNaN(est) || ci.Valid() {
		t.Errorf("PassHatKBootstrap(nil) = %v %v, want NaNs", est, ci)
	}
	if est, ci := PassHatKBootstrap([]TaskCounts{{4, 2}, {2, 2}}, 3, 100, 1, 0.95); !math.IsNaN(est) || ci.Valid() {
		t.Errorf("PassHatKBootstrap(N < k) = %v %v, want NaNs", est, ci)
	}
	if est, ci := PassHatKBootstrap([]TaskCounts{{4, 2}}, 1, 0, 1, 0.95); !math.IsNaN(est) || ci.Valid() {
		t.Errorf("PassHatKBootstrap(reps=0) = %v %v, want NaNs", est, ci)
	}
	if b := Bootstrap([]float64{1, math.NaN()}, 10, 1, 0.95); !math.IsNaN(b.Mean) {
		t.Errorf("Bootstrap(NaN) = %v, want NaN", b)
	}
}

// benchmarkTasks is METHODS §2's example: 5 tasks, 8 trials each.
var benchmarkTasks = []TaskCounts{{8, 8}, {8, 7}, {8, 5}, {8, 8}, {8, 2}}

// TestPassHatKBootstrapExact enumerates all 5^5 = 3125 equally weighted task
// resamples of METHODS §2's example, which must give its exact percentile
// interval [0.128571, 0.900000] and SE 0.193148 through this package's
// quantile and SD code; then checks the seeded Monte Carlo bootstrap is
// close to it and deterministic.
func TestPassHatKBootstrapExact(t *testing.T) {
	per := make([]float64, len(benchmarkTasks))
	for i, tc := range benchmarkTasks {
		per[i] = PassHatK(tc.N, tc.C, 4)
	}
	if want := []float64{1, 0.5, 0.071429, 1, 0}; !slices.EqualFunc(per, want, func(a, b float64) bool { return near(a, b, tol) }) {
		t.Errorf("per-task pass^4 = %v, want %v", per, want)
	}
	var all []float64
	idx := make([]int, 5)
	for {
		s := 0.0
		for _, i := range idx {
			s += per[i]
		}
		all = append(all, s/5)
		j := 0
		for j < 5 {
			idx[j]++
			if idx[j] < 5 {
				break
			}
			idx[j] = 0
			j++
		}
		if j == 5 {
			break
		}
	}
	if len(all) != 3125 {
		t.Fatalf("enumerated %d resamples, want 3125", len(all))
	}
	if got, want := popSD(all), 0.193148; !near(got, want, tol) {
		t.Errorf("exact bootstrap SE = %.7f, want %.6f", got, want)
	}
	if got, want := percentileInterval(all, 0.025, 0.975), (Interval{0.128571, 0.9}); !nearIv(got, want, tol) {
		t.Errorf("exact bootstrap CI = %v, want %v", got, want)
	}

	est, ci := PassHatKBootstrap(benchmarkTasks, 4, 20000, 42, 0.95)
	if !near(est, 0.514286, tol) {
		t.Errorf("PassHatKBootstrap est = %.7f, want 0.514286", est)
	}
	// The resampled mean takes values on a lattice of step 1/70 around the
	// quantiles, so 20,000 draws land within a couple of steps.
	if !nearIv(ci, Interval{0.128571, 0.9}, 0.03) {
		t.Errorf("PassHatKBootstrap CI = %v, want about [0.128571, 0.9]", ci)
	}
	b := Bootstrap(per, 20000, 42, 0.95)
	if !near(b.SE, 0.193148, 0.005) {
		t.Errorf("Bootstrap SE = %.4f, want about 0.193148", b.SE)
	}
	if est2, ci2 := PassHatKBootstrap(benchmarkTasks, 4, 20000, 42, 0.95); est2 != est || ci2 != ci {
		t.Errorf("same seed gave %v %v then %v %v", est, ci, est2, ci2)
	}
	if _, ci3 := PassHatKBootstrap(benchmarkTasks, 4, 20000, 43, 0.95); ci3 == ci && ci3.Lo != 0.128571 {
		t.Logf("seeds 42 and 43 gave the same interval %v (possible on a lattice)", ci)
	}

	at, atCI := PassAtKBootstrap(benchmarkTasks, 4, 2000, 7, 0.95)
	if want := (1 + 1 + 1 + 1 + PassAtK(8, 2, 4)) / 5; !near(at, want, 1e-12) || !atCI.Contains(at) {
		t.Errorf("PassAtKBootstrap = %v %v, want %v inside its interval", at, atCI, want)
	}
}

// tauRecord is the part of a τ-bench result record the test needs.
type tauRecord struct {
	TaskID int     `json:"task_id"`
	Trial  int     `json:"trial"`
	Reward float64 `json:"reward"`
}

// TestTauBenchPassHatK reproduces the published τ-bench airline pass^1..4 for
// GPT-4o (0.420 / 0.273 / 0.220 / 0.200) from the real run file: 50 tasks × 4
// trials, pass^k = mean over tasks of C(c, k)/C(4, k).
func TestTauBenchPassHatK(t *testing.T) {
	raw, err := os.ReadFile(shareddata.Path(t, "tau-bench", "gpt-4o-airline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []tauRecord
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatalf("decode τ-bench: %v", err)
	}
	counts := map[int]*TaskCounts{}
	for _, r := range recs {
		tc := counts[r.TaskID]
		if tc == nil {
			tc = &TaskCounts{}
			counts[r.TaskID] = tc
		}
		tc.N++
		if r.Reward == 1 {
			tc.C++
		}
	}
	var tasks []TaskCounts
	for _, id := range slices.Sorted(maps.Keys(counts)) {
		tasks = append(tasks, *counts[id])
	}
	if len(tasks) != 50 {
		t.Fatalf("got %d tasks, want 50", len(tasks))
	}
	for k, want := range map[int]float64{1: 0.420, 2: 0.273, 3: 0.220, 4: 0.200} {
		est, ci := PassHatKBootstrap(tasks, k, 2000, 1, 0.95)
		if !near(est, want, 5e-4) {
			t.Errorf("τ-bench pass^%d = %.4f, want %.3f", k, est, want)
		}
		if !ci.Contains(est) || ci.Width() < 0.1 {
			t.Errorf("τ-bench pass^%d interval %v should contain %.3f and reflect 50 tasks", k, ci, est)
		}
		t.Logf("τ-bench airline GPT-4o pass^%d = %.3f, 95%% task-bootstrap CI [%.3f, %.3f]", k, est, ci.Lo, ci.Hi)
	}

	// The 200 trials are 50 tasks × 4: treating them as independent
	// understates the uncertainty, and every task-aware interval is wider.
	var clusters [][]float64
	passes := 0
	for _, tc := range tasks {
		cl := make([]float64, tc.N)
		for i := range tc.C {
			cl[i] = 1
		}
		clusters = append(clusters, cl)
		passes += tc.C
	}
	naive := Wilson(passes, 200, 0.95)
	cr0 := ClusteredCI(clusters, 0.95, false)
	cr1 := ClusteredCI(clusters, 0.95, true)
	_, bayes := ClusteredBayes(tasks, 0.95)
	t.Logf("τ-bench pass rate 0.420: Wilson on 200 trials %v (width %.3f); CR0 %v (%.3f); CR1+t %v (%.3f); hierarchical Beta-Binomial %v (%.3f)",
		naive, naive.Width(), cr0, cr0.Width(), cr1, cr1.Width(), bayes, bayes.Width())
	for name, iv := range map[string]Interval{"CR0": cr0, "CR1": cr1, "Beta-Binomial": bayes} {
		if !iv.Contains(0.42) || iv.Width() < 1.3*naive.Width() {
			t.Errorf("%s interval %v should contain 0.42 and be much wider than the naive %v", name, iv, naive)
		}
	}
}
