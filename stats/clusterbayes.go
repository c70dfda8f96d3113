package stats

import (
	"math"

	"gonum.org/v1/gonum/integrate/quad"
)

// ClusteredBayes returns the posterior mean and the equal-tailed level
// credible interval of the overall pass rate θ under the hierarchical
// Beta-Binomial model of Bowyer, Aitchison & Ivanova (2025; no_clt_paper,
// intervals_clustered.py):
//
//	c_t ~ BetaBinomial(n_t, dθ, d(1−θ)),  θ ~ Beta(1, 1),  d ~ Gamma(1, 1),
//
// one TaskCounts per cluster (task). The dispersion d says how much tasks
// differ: small d means tasks are mostly all-pass or all-fail, and the
// interval widens toward what the number of tasks, not trials, supports.
//
// METHODS §0 recommends it over ClusteredSE when there are few clusters
// (where a CLT interval is too narrow). Bowyer's code fits it by importance
// sampling; this computes it by 2-D quadrature (a θ grid of 1000 midpoints ×
// Gauss–Legendre over log d in [1e-7, 200]), which is deterministic and
// matches METHODS' example to 1e-6. Cost grows with the number of distinct
// (N, C) pairs, not of tasks. It returns NaNs for no tasks, invalid counts
// or an invalid level.
func ClusteredBayes(tasks []TaskCounts, level float64) (mean float64, ci Interval) {
	if len(tasks) == 0 || !validLevel(level) {
		return math.NaN(), nanInterval
	}
	type pair struct{ n, c int }
	mult := map[pair]float64{}
	for _, t := range tasks {
		if !validCounts(t.C, t.N) {
			return math.NaN(), nanInterval
		}
		if t.N > 0 {
			mult[pair{t.N, t.C}]++
		}
	}
	// log d nodes and weights (with the Exp(1) prior and the Jacobian d).
	const dPanels, dNodes = 12, 16
	loD, hiD := math.Log(1e-7), math.Log(200)
	var ds, logWd []float64
	xs, ws := make([]float64, dNodes), make([]float64, dNodes)
	pw := (hiD - loD) / dPanels
	for p := range dPanels {
		quad.Legendre{}.FixedLocations(xs, ws, loD+float64(p)*pw, loD+float64(p+1)*pw)
		for i, x := range xs {
			d := math.Exp(x)
			ds = append(ds, d)
			logWd = append(logWd, math.Log(ws[i])+x-d)
		}
	}
	const m = 1000
	logW := make([]float64, m*len(ds))
	maxLog := math.Inf(-1)
	for i := range m {
		th := (float64(i) + 0.5) / m
		for j, d := range ds {
			a, b := d*th, d*(1-th)
			ll := logWd[j]
			for pr, k := range mult {
				ll += k * logBetaBinomialRatio(pr.c, pr.n, a, b)
			}
			logW[i*len(ds)+j] = ll
			maxLog = math.Max(maxLog, ll)
		}
	}
	dens := make([]float64, m)
	total := 0.0
	for i := range m {
		s := 0.0
		for j := range ds {
			s += math.Exp(logW[i*len(ds)+j] - maxLog)
		}
		dens[i] = s
		total += s
		mean += s * (float64(i) + 0.5) / m
	}
	if !(total > 0) {
		return math.NaN(), nanInterval
	}
	mean /= total
	// The CDF at the cell edges j/m is the running sum of cell masses;
	// interpolate linearly inside a cell.
	quantile := func(q float64) float64 {
		acc := 0.0
		for i, s := range dens {
			next := acc + s/total
			if next >= q {
				return (float64(i) + (q-acc)/(next-acc)) / m
			}
			acc = next
		}
		return 1
	}
	a := 1 - level
	return mean, Interval{quantile(a / 2), quantile(1 - a/2)}
}

// logBetaBinomialRatio is log B(c+a, n−c+b) − log B(a, b), the Beta-Binomial
// log likelihood without its binomial coefficient. For the small n of
// repeated trials it is a sum of n logs, much cheaper than four Lgammas.
func logBetaBinomialRatio(c, n int, a, b float64) float64 {
	if n > 64 {
		return lbeta(float64(c)+a, float64(n-c)+b) - lbeta(a, b)
	}
	s := 0.0
	for j := range c {
		s += math.Log(a + float64(j))
	}
	for j := range n - c {
		s += math.Log(b + float64(j))
	}
	for j := range n {
		s -= math.Log(a + b + float64(j))
	}
	return s
}
