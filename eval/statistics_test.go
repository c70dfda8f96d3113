package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity/internal/testagent"
	"github.com/probity/probity/stats"
)

// These tests check the statistics end to end against a real agent whose
// true pass rates are known: HTTP on loopback, the real runner, the run
// file, and Summarize.

func suiteFile(t testing.TB, url, extra string, cases []string) string {
	t.Helper()
	dir := writeFiles(t, map[string]string{
		"s.yaml":      "name: stat\ntarget: {http: {url: '" + url + "'}}\ndataset: cases.jsonl\nconcurrency: 32\nassert: [{type: equals, path: $.answer}]\n" + extra,
		"cases.jsonl": jsonlCases(cases...),
	})
	return filepath.Join(dir, "s.yaml")
}

func caseLine(id string, p float64) string {
	return fmt.Sprintf(`{"id": %q, "input": {"answer": "ok", "p": %g}, "expected": {"answer": "ok"}}`, id, p)
}

// TestCaseIntervalsCover: each case's 95% Wilson interval covers the case's
// true pass rate about 95% of the time (400 cases, 20 trials each).
func TestCaseIntervalsCover(t *testing.T) {
	url := startAgent(t, &testagent.Agent{Seed: 11})
	var lines []string
	truth := map[string]float64{}
	for i := range 400 {
		p := []float64{0.7, 0.9}[i%2]
		id := fmt.Sprintf("c%03d", i)
		truth[id] = p
		lines = append(lines, caseLine(id, p))
	}
	run, _ := runSuite(t, suiteFile(t, url, "trials: 20\n", lines), Options{})
	sum := Summarize(run, nil)
	covered := map[float64]int{}
	for _, c := range sum.Cases {
		if c.Trials != 20 {
			t.Fatalf("case %s has %d trials", c.ID, c.Trials)
		}
		if p := truth[c.ID]; c.Interval[0] <= p && p <= c.Interval[1] {
			covered[p]++
		}
	}
	for _, p := range []float64{0.7, 0.9} {
		// Exact Wilson coverage at n = 20 is 0.94–0.96 here; 200 cases give
		// a binomial SE of about 0.016.
		cov := float64(covered[p]) / 200
		if cov < 0.89 || cov > 0.995 {
			t.Errorf("coverage at p=%.1f = %.3f, want about 0.95", p, cov)
		}
		t.Logf("case interval coverage at p=%.1f: %.3f", p, cov)
	}
}

// TestSuiteIntervalCovers: the cluster-aware suite interval covers the mean
// pass rate of the population the cases are drawn from about 95% of the
// time, where the naive interval that treats every trial as independent
// does not. 200 suites of 8 cases × 10 trials, case rates drawn from
// {0.5, 0.7, 0.85, 0.95, 1} (mean 0.8).
func TestSuiteIntervalCovers(t *testing.T) {
	url := startAgent(t, &testagent.Agent{Seed: 12})
	rng := rand.New(rand.NewPCG(1, 2))
	rates := []float64{0.5, 0.7, 0.85, 0.95, 1}
	const suites, perSuite, trials = 200, 8, 10
	var lines []string
	for s := range suites {
		for c := range perSuite {
			lines = append(lines, caseLine(fmt.Sprintf("s%03d-c%d", s, c), rates[rng.IntN(len(rates))]))
		}
	}
	run, _ := runSuite(t, suiteFile(t, url, fmt.Sprintf("trials: %d\n", trials), lines), Options{})
	sum := Summarize(run, nil)
	groups := map[string][][]float64{}
	for _, c := range sum.Cases {
		g := c.ID[:4]
		scores := make([]float64, c.Trials)
		for i := range c.Passes {
			scores[i] = 1
		}
		groups[g] = append(groups[g], scores)
	}
	const truth = 0.8
	covered, lowerOK, naive := 0, 0, 0
	for _, g := range groups {
		_, lo, hi, lower, _, _ := SuiteInterval(g, Level)
		if lo <= truth && truth <= hi {
			covered++
		}
		if lower <= truth {
			lowerOK++
		}
		c, n := 0, 0
		for _, s := range g {
			for _, x := range s {
				c += int(x)
				n++
			}
		}
		if iv := stats.Wilson(c, n, Level); iv.Lo <= truth && truth <= iv.Hi {
			naive++
		}
	}
	cov, low, nv := float64(covered)/suites, float64(lowerOK)/suites, float64(naive)/suites
	t.Logf("suite interval coverage %.3f, one-sided lower bound holds %.3f, naive trial-level Wilson %.3f", cov, low, nv)
	// 200 suites give a binomial SE of about 0.016 around 0.95.
	if cov < 0.90 {
		t.Errorf("cluster-aware coverage = %.3f, want about 0.95", cov)
	}
	if low < 0.90 {
		t.Errorf("one-sided lower bound holds %.3f of the time, want about 0.95", low)
	}
	if nv >= cov {
		t.Errorf("naive coverage %.3f ≥ cluster-aware %.3f: clustering should matter here", nv, cov)
	}
}

// TestSequentialKeepsErrorRates: per-case sequential stopping between
// p0 = 0.8 and p1 = 0.9 passes a case whose true rate is p0 at most α = 5%
// of the time and fails one at p1 at most β = 20% of the time, while using
// fewer trials than the fixed-n test (82) at both design points.
func TestSequentialKeepsErrorRates(t *testing.T) {
	url := startAgent(t, &testagent.Agent{Seed: 13})
	var lines []string
	const each = 100
	for i := range each {
		lines = append(lines, caseLine(fmt.Sprintf("p0-%03d", i), 0.8), caseLine(fmt.Sprintf("p1-%03d", i), 0.9))
	}
	path := suiteFile(t, url, "trials: 328\nstop: {mode: sequential, p0: 0.8, p1: 0.9, alpha: 0.05, beta: 0.2}\n", lines)
	path = strings.Replace(path, "concurrency: 32", "concurrency: 32", 1)
	run, res := runSuite(t, path, Options{})
	sum := Summarize(run, nil)
	falsePass, falseFail := 0, 0
	used := map[string]float64{}
	for _, c := range sum.Cases {
		kind := c.ID[:2]
		used[kind] += float64(c.Trials)
		if c.Stopped == nil {
			continue
		}
		if kind == "p0" && c.Stopped.Decision == StatusPass {
			falsePass++
		}
		if kind == "p1" && c.Stopped.Decision == StatusFail {
			falseFail++
		}
	}
	fp, ff := float64(falsePass)/each, float64(falseFail)/each
	t.Logf("false pass at p0 %.3f (α 0.05), false fail at p1 %.3f (β 0.2); mean trials %.1f at p0, %.1f at p1 (fixed n 82); saved %d of %d",
		fp, ff, used["p0"]/each, used["p1"]/each, res.Saved, sum.Suite.Planned)
	// Tolerances: three binomial SEs over the bound with 100 cases.
	if fp > 0.05+3*math.Sqrt(0.05*0.95/each) {
		t.Errorf("false-pass rate %.3f exceeds α = 0.05", fp)
	}
	if ff > 0.2+3*math.Sqrt(0.2*0.8/each) {
		t.Errorf("false-fail rate %.3f exceeds β = 0.2", ff)
	}
	for _, k := range []string{"p0", "p1"} {
		if m := used[k] / each; m >= 82 {
			t.Errorf("mean trials at %s = %.1f, want fewer than the fixed-n 82", k, m)
		}
	}
	if sum.Suite.Saved == 0 || sum.Suite.Saved != res.Saved {
		t.Errorf("trials saved: summary %d, runner %d; want equal and positive", sum.Suite.Saved, res.Saved)
	}
}

// TestPlantedRegressionsCaught: B is A with every case's pass rate lowered
// by 0.2; across 8 independent seed pairs Compare flags every one, and the
// gate's max_regression fails. A against an independent rerun of itself is
// flagged at most once.
func TestPlantedRegressionsCaught(t *testing.T) {
	var lines []string
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 30 {
		lines = append(lines, caseLine(fmt.Sprintf("c%02d", i), 0.6+0.4*rng.Float64()))
	}
	extra := "trials: 10\ngate: {max_regression: 0.05}\n"
	caught, falseAlarms := 0, 0
	const pairs = 8
	for i := range pairs {
		a := startAgent(t, &testagent.Agent{Seed: uint64(100 + i)})
		same := startAgent(t, &testagent.Agent{Seed: uint64(200 + i)})
		worse := startAgent(t, &testagent.Agent{Seed: uint64(300 + i), Delta: -0.2})
		runA, _ := runSuite(t, suiteFile(t, a, extra, lines), Options{})
		runSame, _ := runSuite(t, suiteFile(t, same, extra, lines), Options{})
		runWorse, _ := runSuite(t, suiteFile(t, worse, extra, lines), Options{})
		cw := Compare(runA, runWorse, CompareOptions{Margin: 0.05})
		cs := Compare(runA, runSame, CompareOptions{Margin: 0.05})
		if cw.Regressed {
			caught++
		}
		if cs.Regressed {
			falseAlarms++
		}
		if g := Summarize(runWorse, runA).Gate; g.Passed != !cw.Regressed {
			t.Errorf("gate passed %v but compare regressed %v (%s)", g.Passed, cw.Regressed, g.Reason)
		}
		if g := Summarize(runSame, runA).Gate; g.Passed == cs.Regressed {
			t.Errorf("gate on an equal version: passed %v, regressed %v (%s)", g.Passed, cs.Regressed, g.Reason)
		}
		t.Logf("pair %d: planted p_worse %.3f (Δ %.3f), equal p_worse %.3f (Δ %.3f)", i, cw.PWorse, cw.Delta, cs.PWorse, cs.Delta)
	}
	if caught != pairs {
		t.Errorf("planted regressions caught %d of %d", caught, pairs)
	}
	if falseAlarms > 1 {
		t.Errorf("equal versions flagged %d of %d times", falseAlarms, pairs)
	}
}

// TestSuiteIntervalMethodsVectors pins SuiteInterval to METHODS §1: the
// clustered example has CR1 SE 0.215166 against a naive 0.144338, a design
// effect of 20/9; and wilsonFloat equals stats.Wilson at integer n.
func TestSuiteIntervalMethodsVectors(t *testing.T) {
	g := [][]float64{{1, 1, 1}, {0, 0, 1}, {1, 1, 0}, {0, 0, 0}}
	p, _, _, _, nEff0, deff := SuiteInterval(g, Level)
	if p != 0.5 || math.Abs(deff-20.0/9) > 1e-9 || math.Abs(nEff0-5.4) > 1e-9 {
		t.Errorf("SuiteInterval = p %v, deff %v, n_eff %v; want 0.5, 20/9, 5.4", p, deff, nEff0)
	}
	for _, tc := range []struct{ c, n int }{{17, 20}, {20, 20}, {0, 20}, {9, 10}, {45, 50}} {
		want := stats.Wilson(tc.c, tc.n, 0.95)
		lo, hi := wilsonFloat(float64(tc.c)/float64(tc.n), float64(tc.n), stdNormalQuantile(0.975))
		if math.Abs(lo-want.Lo) > 1e-9 || math.Abs(hi-want.Hi) > 1e-9 {
			t.Errorf("wilsonFloat(%d/%d) = [%v, %v], want %v", tc.c, tc.n, lo, hi, want)
		}
		if got, w := func() float64 {
			l, _ := wilsonFloat(float64(tc.c)/float64(tc.n), float64(tc.n), stdNormalQuantile(0.95))
			return l
		}(), stats.WilsonLower(tc.c, tc.n, 0.95); math.Abs(got-w) > 1e-9 {
			t.Errorf("one-sided lower(%d/%d) = %v, want %v", tc.c, tc.n, got, w)
		}
	}
	// All-pass cases: no spread between cases, deff = 1, and the bound is
	// continuous with one failure among 200 trials.
	all := make([][]float64, 20)
	for i := range all {
		all[i] = []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	}
	_, lo, hi, lowerAll, nEff, _ := SuiteInterval(all, Level)
	if nEff != 200 || hi != 1 || lo >= stats.Wilson(200, 200, Level).Lo || lowerAll < 0.98 {
		t.Errorf("all-pass interval [%v, %v], lower %v (n_eff %v); want n_eff 200, hi 1, lo just under Wilson(200, 200), lower ≥ 0.98", lo, hi, lowerAll, nEff)
	}
	all[0][0] = 0
	_, _, _, lowerOne, _, deffOne := SuiteInterval(all, Level)
	if deffOne > 1.01 || math.Abs(lowerOne-lowerAll) > 0.02 {
		t.Errorf("one failure: deff %v, lower %v; want deff ≈ 1 and a lower bound near %v", deffOne, lowerOne, lowerAll)
	}
}

// TestSuiteIntervalCoverageSimulated checks the same property precisely on
// simulated outcomes (no target; 2000 suites per setting): two-sided and
// one-sided coverage within ±0.025 of nominal, or above it.
func TestSuiteIntervalCoverageSimulated(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tc := range []struct {
		rates []float64
		g, m  int
	}{
		{[]float64{0.5, 0.7, 0.85, 0.95, 1}, 8, 10},
		{[]float64{0.5, 0.7, 0.85, 0.95, 1}, 20, 5},
		{[]float64{0.3, 0.9, 1}, 30, 10},
		{[]float64{0.9}, 20, 10},
	} {
		mean := 0.0
		for _, r := range tc.rates {
			mean += r / float64(len(tc.rates))
		}
		const reps = 2000
		two, one := 0, 0
		for range reps {
			g := make([][]float64, tc.g)
			for i := range g {
				p := tc.rates[rng.IntN(len(tc.rates))]
				g[i] = make([]float64, tc.m)
				for j := range g[i] {
					if rng.Float64() < p {
						g[i][j] = 1
					}
				}
			}
			_, lo, hi, lower, _, _ := SuiteInterval(g, Level)
			if lo <= mean && mean <= hi {
				two++
			}
			if lower <= mean {
				one++
			}
		}
		c2, c1 := float64(two)/reps, float64(one)/reps
		if c2 < 0.925 || c1 < 0.925 {
			t.Errorf("rates %v, G=%d, m=%d: coverage two-sided %.3f, one-sided %.3f; want about 0.95", tc.rates, tc.g, tc.m, c2, c1)
		}
		t.Logf("rates %v, G=%d, m=%d: coverage two-sided %.3f, one-sided %.3f", tc.rates, tc.g, tc.m, c2, c1)
	}
}
