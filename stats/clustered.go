package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ClusteredSE returns the mean of all scores and its cluster-robust (CR0)
// standard error, with one inner slice per cluster: typically one task run
// several times, or several questions about one document.
//
// Trials of the same task are not independent, so treating m trials × T tasks
// as n = mT independent items understates the uncertainty; the task is the
// unit (METHODS §1). The estimator is Miller (2024) as implemented by Bowyer
// et al. (no_clt_paper, intervals_clustered.py):
//
//	Var = (1/N²) Σ_clusters (Σ_{i∈cluster} rᵢ)²,  rᵢ = sᵢ − s̄,
//
// which equals p̂(1−p̂)/N plus the within-cluster cross terms for 0/1 scores.
// Use it with many clusters (tens or more); with few, use ClusteredCI with
// small = true (CR1 and t critical values). Scores may be graded, not only
// 0/1. Empty clusters are ignored. With no scores, or any NaN or infinite
// score, both results are NaN; with one cluster the SE is 0, which is
// meaningless: ClusteredCI returns NaNs there.
func ClusteredSE(scores [][]float64) (mean, se float64) {
	mean, v, _ := clusteredVar(scores)
	return mean, math.Sqrt(v)
}

// NaiveSE returns the mean of scores treated as independent and Miller's
// CLT standard error √(Σ(sᵢ − s̄)²/(n(n−1))). It is here for comparison:
// with repeated trials per task use ClusteredSE, and below a few hundred
// 0/1 items use Wilson instead of any normal interval (METHODS §1). NaN for
// fewer than 2 scores or a NaN score.
func NaiveSE(scores []float64) (mean, se float64) {
	if len(scores) < 2 {
		return math.NaN(), math.NaN()
	}
	for _, s := range scores {
		mean += s
	}
	n := float64(len(scores))
	mean /= n
	ss := 0.0
	for _, s := range scores {
		ss += (s - mean) * (s - mean)
	}
	return mean, math.Sqrt(ss / (n * (n - 1)))
}

// ClusteredSECR1 is ClusteredSE with the small-sample correction G/(G−1)
// on the variance (CR1), for G clusters. It is NaN with fewer than 2
// clusters.
func ClusteredSECR1(scores [][]float64) (mean, se float64) {
	mean, v, g := clusteredVar(scores)
	if g < 2 {
		return mean, math.NaN()
	}
	return mean, math.Sqrt(v * float64(g) / float64(g-1))
}

// ClusteredCI returns a level confidence interval for the mean of clustered
// scores: mean ± z·SE(CR0) when small is false, and mean ± t_{G−1}·SE(CR1)
// when small is true (the small-G correction of METHODS §1; prefer it below
// about 30 clusters). It returns NaNs for fewer than 2 clusters, invalid
// scores or an invalid level.
func ClusteredCI(scores [][]float64, level float64, small bool) Interval {
	if !validLevel(level) {
		return nanInterval
	}
	mean, v, g := clusteredVar(scores)
	if g < 2 || math.IsNaN(v) {
		return nanInterval
	}
	crit := zTwoSided(level)
	if small {
		v *= float64(g) / float64(g-1)
		crit = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(g - 1)}.Quantile(1 - (1-level)/2)
	}
	h := crit * math.Sqrt(v)
	return Interval{mean - h, mean + h}
}

// clusteredVar returns the mean, the CR0 variance of the mean and the number
// of non-empty clusters.
func clusteredVar(scores [][]float64) (mean, v float64, g int) {
	n := 0
	for _, cl := range scores {
		for _, s := range cl {
			if math.IsNaN(s) || math.IsInf(s, 0) {
				return math.NaN(), math.NaN(), 0
			}
			mean += s
			n++
		}
		if len(cl) > 0 {
			g++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	mean /= float64(n)
	for _, cl := range scores {
		r := 0.0
		for _, s := range cl {
			r += s - mean
		}
		v += r * r
	}
	return mean, v / float64(n) / float64(n), g
}
