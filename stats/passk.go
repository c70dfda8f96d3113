package stats

import (
	"math"
	"math/rand/v2"
	"slices"
)

// PassAtK returns the unbiased estimate of pass@k for one task with c
// successes in n >= k trials: 1 − C(n−c, k)/C(n, k), the probability that at
// least one of k trials drawn without replacement succeeds (Chen et al. 2021).
//
// It uses the numerically stable product of openai/human-eval
// (1 − ∏_{i=n−c+1}^{n} (1 − k/i)), so n in the thousands is fine. pass@k
// answers "can the agent ever do it"; for "does it do it every time" use
// PassHatK. The plug-in 1 − (1 − c/n)^k is biased. Average over tasks for a
// benchmark value. It returns NaN unless 1 <= k <= n and 0 <= c <= n.
func PassAtK(n, c, k int) float64 {
	if !validCounts(c, n) || k < 1 || k > n {
		return math.NaN()
	}
	if n-c < k {
		return 1
	}
	prod := 1.0
	for i := n - c + 1; i <= n; i++ {
		prod *= 1 - float64(k)/float64(i)
	}
	return 1 - prod
}

// PassHatK returns the unbiased estimate of pass^k (τ-bench, Yao et al. 2024)
// for one task with c successes in n >= k trials: C(c, k)/C(n, k) =
// ∏_{j<k} (c−j)/(n−j), the probability that k trials drawn without
// replacement all succeed; 0 when c < k.
//
// pass^k is the reliability metric: an agent that solves a task 3 times in 4
// has pass^4 = 0 on it. E[PassHatK] = θ^k exactly for C ~ Bin(n, θ); the
// plug-in (c/n)^k is biased. Average over tasks for a benchmark value
// (PassHatKBootstrap does both and adds an interval). Like τ²-bench, which
// raises an error when trials < k, it returns NaN unless 1 <= k <= n and
// 0 <= c <= n.
func PassHatK(n, c, k int) float64 {
	if !validCounts(c, n) || k < 1 || k > n {
		return math.NaN()
	}
	if c < k {
		return 0
	}
	p := 1.0
	for j := 0; j < k; j++ {
		p *= float64(c-j) / float64(n-j)
	}
	return p
}

// PassHatKInterval maps an interval [L, U] for a task's pass rate θ to the
// interval [L^k, U^k] for θ^k. The map is monotone, so the coverage carries
// over exactly (METHODS §2): e.g. ClopperPearson(17, 20, 0.95) maps to
// [0.239568, 0.906840] for k = 3. It returns NaNs for k < 1.
func PassHatKInterval(iv Interval, k int) Interval {
	if k < 1 {
		return nanInterval
	}
	kf := float64(k)
	return Interval{math.Pow(iv.Lo, kf), math.Pow(iv.Hi, kf)}
}

// PassAtKInterval maps an interval [L, U] for a task's pass rate θ to the
// interval [1−(1−L)^k, 1−(1−U)^k] for pass@k = 1 − (1−θ)^k. It returns NaNs
// for k < 1.
func PassAtKInterval(iv Interval, k int) Interval {
	if k < 1 {
		return nanInterval
	}
	kf := float64(k)
	return Interval{1 - math.Pow(1-iv.Lo, kf), 1 - math.Pow(1-iv.Hi, kf)}
}

// PassHatKPosterior is the per-task Bayesian view of pass^k (METHODS §2): with
// a Beta(a0, b0) prior and c successes in n trials, it returns the posterior
// mean E[θ^k] and the equal-tailed level credible interval of θ^k.
//
// Per-task estimates are very noisy (the sampling SD of the unbiased pass^3
// at n = 20, θ = 0.85 is 0.17), so prefer this interval to a bare number when
// you report one task. Use BetaDist{c+a0, n−c+b0}.ProbAbove(t^(1/k)) for
// P(θ^k > t). Invalid input gives NaNs.
func PassHatKPosterior(c, n int, a0, b0 float64, k int, level float64) (mean float64, ci Interval) {
	if !validCounts(c, n) || !(a0 > 0) || !(b0 > 0) || k < 1 || !validLevel(level) {
		return math.NaN(), nanInterval
	}
	d := BetaDist{float64(c) + a0, float64(n-c) + b0}
	return d.MomentPower(k), PassHatKInterval(d.EqualTailed(level), k)
}

// TaskCounts is one task's result: C successes in N trials.
type TaskCounts struct{ N, C int }

// PassHatKBootstrap returns the benchmark pass^k (the mean over tasks of
// PassHatK) and a percentile bootstrap interval at level from reps resamples
// of whole tasks, drawn from a PCG generator seeded with seed.
//
// Resampling tasks (not trials) is METHODS §2's default: task-level estimates
// are i.i.d., so the interval captures both which tasks were sampled and the
// trial noise within them. Percentiles use linear interpolation (numpy's
// default, "type 7"). The same inputs and seed always give the same interval.
// With fewer than a handful of tasks the interval is unreliable; say so next
// to it. It returns NaNs when tasks is empty, reps < 1, the level is invalid,
// or any task has N < k or invalid counts (pass^k is undefined there, and
// τ²-bench refuses it too).
func PassHatKBootstrap(tasks []TaskCounts, k, reps int, seed uint64, level float64) (est float64, ci Interval) {
	return taskBootstrap(tasks, k, reps, seed, level, PassHatK)
}

// PassAtKBootstrap is PassHatKBootstrap for pass@k (the mean over tasks of
// PassAtK).
func PassAtKBootstrap(tasks []TaskCounts, k, reps int, seed uint64, level float64) (est float64, ci Interval) {
	return taskBootstrap(tasks, k, reps, seed, level, PassAtK)
}

func taskBootstrap(tasks []TaskCounts, k, reps int, seed uint64, level float64, f func(n, c, k int) float64) (float64, Interval) {
	if len(tasks) == 0 {
		return math.NaN(), nanInterval
	}
	vals := make([]float64, len(tasks))
	for i, t := range tasks {
		vals[i] = f(t.N, t.C, k)
		if math.IsNaN(vals[i]) {
			return math.NaN(), nanInterval
		}
	}
	b := Bootstrap(vals, reps, seed, level)
	return b.Mean, b.CI
}

// BootstrapResult is a percentile bootstrap of a mean.
type BootstrapResult struct {
	Mean float64  // the mean of the original values
	SE   float64  // the standard deviation of the resampled means
	CI   Interval // percentile interval of the resampled means
}

// Bootstrap resamples values (one per independent unit, e.g. per task) with
// replacement reps times, seeded with seed, and returns the mean, the
// bootstrap standard error and the percentile interval at level (linear
// interpolation between order statistics, numpy's default).
//
// Use it for any per-task score: pass^k, pass@k, a graded score averaged per
// task. It returns NaNs for empty values, NaN values, reps < 1 or an invalid
// level.
func Bootstrap(values []float64, reps int, seed uint64, level float64) BootstrapResult {
	bad := BootstrapResult{math.NaN(), math.NaN(), nanInterval}
	if len(values) == 0 || reps < 1 || !validLevel(level) {
		return bad
	}
	mean := 0.0
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return bad
		}
		mean += v
	}
	n := len(values)
	mean /= float64(n)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	means := make([]float64, reps)
	for r := range means {
		s := 0.0
		for range n {
			s += values[rng.IntN(n)]
		}
		means[r] = s / float64(n)
	}
	a := 1 - level
	return BootstrapResult{
		Mean: mean,
		SE:   popSD(means),
		CI:   percentileInterval(means, a/2, 1-a/2),
	}
}

// percentileInterval sorts xs in place and returns its type-7 quantiles.
func percentileInterval(xs []float64, lo, hi float64) Interval {
	slices.Sort(xs)
	return Interval{quantile7(xs, lo), quantile7(xs, hi)}
}

// quantile7 is the q-quantile of sorted xs with linear interpolation between
// order statistics (Hyndman & Fan type 7, numpy's default).
func quantile7(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	h := q * float64(len(sorted)-1)
	i := int(math.Floor(h))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-float64(i))*(sorted[i+1]-sorted[i])
}

// popSD is the population (divide by n) standard deviation, as numpy's std.
func popSD(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return math.Sqrt(v / float64(len(xs)))
}
