package stats

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/stat/distuv"
)

// Paired comparisons of two versions A and B run on the same items use the
// 2×2 table of per-item outcomes. Counts are named n<A><B>, 1 for pass and 0
// for fail:
//
//	n11  both pass            (METHODS §3 calls it a)
//	n10  A passes, B fails    (b: evidence that B regressed)
//	n01  A fails, B passes    (c: evidence that B improved)
//	n00  both fail            (d)
//
// Δ = θ_A − θ_B, so Δ > 0 means B is worse than A. Only the discordant items
// (n10 + n01) carry information about Δ.

// binomSFHalf is P(X >= k) for X ~ Bin(m, ½).
func binomSFHalf(k, m int) float64 {
	switch {
	case k <= 0:
		return 1
	case k > m:
		return 0
	}
	return regIncBeta(float64(k), float64(m-k+1), 0.5)
}

// binomPMFHalf is P(X = k) for X ~ Bin(m, ½).
func binomPMFHalf(k, m int) float64 {
	if k < 0 || k > m {
		return 0
	}
	lm, _ := math.Lgamma(float64(m + 1))
	lk, _ := math.Lgamma(float64(k + 1))
	lr, _ := math.Lgamma(float64(m - k + 1))
	return math.Exp(lm - lk - lr - float64(m)*math.Ln2)
}

// McNemarExact returns the exact McNemar p-values for b = n10 items where A
// passes and B fails and c = n01 items where A fails and B passes.
//
// oneSided is the regression test "B is worse than A": P(X >= b) for
// X ~ Bin(b+c, ½). twoSided is min(1, 2·P(X <= min(b, c))). Use the one-sided
// value to gate on regressions (METHODS §3); it is exact at any size, so
// there is no reason to use the χ² approximation. With b + c = 0 both are 1;
// with a negative count both are NaN.
func McNemarExact(b, c int) (oneSided, twoSided float64) {
	if b < 0 || c < 0 {
		return math.NaN(), math.NaN()
	}
	m := b + c
	if m == 0 {
		return 1, 1
	}
	lo := min(b, c)
	// Bin(m, ½) is symmetric: P(X <= lo) = P(X >= m−lo), which keeps tiny
	// p-values accurate.
	return binomSFHalf(b, m), math.Min(1, 2*binomSFHalf(m-lo, m))
}

// PairedSummary is the frequentist paired analysis of a 2×2 table.
type PairedSummary struct {
	N             int      // items
	Delta         float64  // θ̂_A − θ̂_B = (n10 − n01)/N; > 0 means B is worse
	SE            float64  // paired SE √((b+c) − (b−c)²/N)/N
	CI            Interval // Delta ± z·SE (paired Wald) at the requested level
	OneSided      float64  // exact McNemar P(X >= n10), the regression test
	TwoSided      float64  // exact McNemar two-sided
	MidP          float64  // two-sided mid-p: TwoSided − P(X = min(b, c))
	ChiSquareCC   float64  // (|b−c|−1)²/(b+c), continuity corrected
	ChiSquareCCP  float64  // its p-value (χ² with 1 df)
	ChiSquare     float64  // (b−c)²/(b+c), uncorrected
	ChiSquareP    float64  // its p-value
	Discordant    int      // b + c
	DiscordRate   float64  // (b + c)/N
	PosteriorMean float64  // posterior mean of Δ under Dirichlet(1,1,1,1)
}

// Paired returns the frequentist paired analysis of a 2×2 table (see the
// counts' naming above): the paired Δ with its Wald interval at level (the
// question-level paired-difference SE Miller recommends), and the exact,
// mid-p and χ² McNemar tests. The χ² forms are here for comparison with
// other tools; use the exact p-values. Invalid input (a negative count, no
// items, an invalid level) gives NaN fields.
func Paired(n00, n01, n10, n11 int, level float64) PairedSummary {
	nan := math.NaN()
	bad := PairedSummary{Delta: nan, SE: nan, CI: nanInterval, OneSided: nan, TwoSided: nan, MidP: nan,
		ChiSquareCC: nan, ChiSquareCCP: nan, ChiSquare: nan, ChiSquareP: nan, DiscordRate: nan, PosteriorMean: nan}
	if n00 < 0 || n01 < 0 || n10 < 0 || n11 < 0 || !validLevel(level) {
		return bad
	}
	n := n00 + n01 + n10 + n11
	if n == 0 {
		return bad
	}
	b, c := float64(n10), float64(n01)
	nf := float64(n)
	s := PairedSummary{N: n, Delta: (b - c) / nf, Discordant: n10 + n01, DiscordRate: (b + c) / nf}
	s.SE = math.Sqrt((b+c)-(b-c)*(b-c)/nf) / nf
	z := zTwoSided(level)
	s.CI = Interval{s.Delta - z*s.SE, s.Delta + z*s.SE}
	s.OneSided, s.TwoSided = McNemarExact(n10, n01)
	s.MidP = s.TwoSided - binomPMFHalf(min(n10, n01), n10+n01)
	if n10+n01 > 0 {
		s.ChiSquareCC = math.Pow(math.Abs(b-c)-1, 2) / (b + c)
		s.ChiSquare = (b - c) * (b - c) / (b + c)
		s.ChiSquareCCP = chiSquare1SF(s.ChiSquareCC)
		s.ChiSquareP = chiSquare1SF(s.ChiSquare)
	} else {
		s.ChiSquareCC, s.ChiSquare, s.ChiSquareCCP, s.ChiSquareP = 0, 0, 1, 1
	}
	s.PosteriorMean = (b - c) / (nf + 4)
	return s
}

// chiSquare1SF is P(χ²₁ > x) = 2(1 − Φ(√x)).
func chiSquare1SF(x float64) float64 { return 2 * normalSF(math.Sqrt(x)) }

// PairedPosterior returns the posterior probability that B is worse than A by
// more than margin, P(θ_A − θ_B > margin | data), under a Dirichlet(1,1,1,1)
// prior on the four cell probabilities (METHODS §3). Counts are named as
// above: n01 = A fails/B passes, n10 = A passes/B fails.
//
// With draws <= 0 it computes the exact value by 1-D quadrature (METHODS
// §3's closed form; this is the recommended call, and seed is ignored). With
// draws > 0 it estimates the same quantity from that many Dirichlet draws of
// a PCG generator seeded with seed, which is only useful to cross-check the
// quadrature. margin may be negative (P(B is not better than A by more than
// |margin|)). It returns NaN for negative counts, a margin outside (−1, 1) or
// NaN.
//
// Use it next to McNemarExact: the p-value says whether a regression is
// detectable, this says how likely a regression larger than you care about is.
func PairedPosterior(n00, n01, n10, n11 int, margin float64, draws int, seed uint64) float64 {
	if n00 < 0 || n01 < 0 || n10 < 0 || n11 < 0 || !(margin > -1 && margin < 1) {
		return math.NaN()
	}
	if draws <= 0 {
		return pairedProbAbove(n00, n01, n10, n11, margin)
	}
	src := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	gb := distuv.Gamma{Alpha: float64(n10 + 1), Beta: 1, Src: src}
	gc := distuv.Gamma{Alpha: float64(n01 + 1), Beta: 1, Src: src}
	gr := distuv.Gamma{Alpha: float64(n00 + n11 + 2), Beta: 1, Src: src}
	hits := 0
	for range draws {
		x, y, r := gb.Rand(), gc.Rand(), gr.Rand()
		if (x-y)/(x+y+r) > margin {
			hits++
		}
	}
	return float64(hits) / float64(draws)
}

// pairedProbAbove is P(Δ > m) exactly. With s = π10 + π01 ~ Beta(b+c+2,
// a+d+2) independent of u = π10/s ~ Beta(b+1, c+1) and Δ = s(2u − 1):
//
//	P(Δ > m) = ∫ f_s(s) · [1 − I_{(1+m/s)/2}(b+1, c+1)] ds,
//
// where the bracket is 0 for s <= m (m >= 0) and 1 for s <= −m (m < 0).
func pairedProbAbove(n00, n01, n10, n11 int, m float64) float64 {
	sd := BetaDist{float64(n10 + n01 + 2), float64(n00 + n11 + 2)}
	ub, uc := float64(n10+1), float64(n01+1)
	inner := func(s float64) float64 {
		x := (1 + m/s) / 2
		switch {
		case x >= 1:
			return 0
		case x <= 0:
			return 1
		}
		return 1 - regIncBeta(ub, uc, x)
	}
	base := 0.0
	lo := 0.0
	if m >= 0 {
		lo = m
	} else {
		lo = -m
		base = sd.CDF(-m)
	}
	return base + integrateBetaWeighted(sd, inner, lo, 1)
}

// integrateBetaWeighted returns ∫_lo^hi pdf_d(s)·g(s) ds for a smooth g by
// composite Gauss–Legendre over the part of [lo, hi] where the Beta density
// is not negligible (its mean ± 20 SD), so a posterior concentrated on a tiny
// interval (thousands of items) is still resolved.
func integrateBetaWeighted(d BetaDist, g func(float64) float64, lo, hi float64) float64 {
	a, b := d.A, d.B
	mean := a / (a + b)
	sd := math.Sqrt(a * b / ((a + b) * (a + b) * (a + b + 1)))
	lo = math.Max(lo, mean-20*sd)
	hi = math.Min(hi, mean+20*sd)
	if !(hi > lo) {
		return 0
	}
	lb := lbeta(a, b)
	f := func(s float64) float64 {
		if s <= 0 || s >= 1 {
			return 0
		}
		return math.Exp((a-1)*math.Log(s)+(b-1)*math.Log1p(-s)-lb) * g(s)
	}
	const panels, nodes = 16, 24
	w := (hi - lo) / panels
	total := 0.0
	for i := range panels {
		total += quad.Fixed(f, lo+float64(i)*w, lo+float64(i+1)*w, nodes, quad.Legendre{}, 0)
	}
	return total
}

// PairedDeltaInterval returns the posterior mean and the equal-tailed level
// credible interval of Δ = θ_A − θ_B under the Dirichlet(1,1,1,1) prior, by
// inverting the exact posterior CDF (see PairedPosterior). It returns NaNs for
// invalid input.
func PairedDeltaInterval(n00, n01, n10, n11 int, level float64) (mean float64, ci Interval) {
	if n00 < 0 || n01 < 0 || n10 < 0 || n11 < 0 || !validLevel(level) {
		return math.NaN(), nanInterval
	}
	n := float64(n00 + n01 + n10 + n11)
	mean = float64(n10-n01) / (n + 4)
	cdf := func(t float64) float64 { return 1 - pairedProbAbove(n00, n01, n10, n11, t) }
	a := 1 - level
	return mean, Interval{bisect(cdf, a/2, -1, 1), bisect(cdf, 1-a/2, -1, 1)}
}

// bisect finds t in [lo, hi] with f(t) = y for an increasing f.
func bisect(f func(float64) float64, y, lo, hi float64) float64 {
	for range 60 {
		mid := (lo + hi) / 2
		if f(mid) < y {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// PairedSampleSize returns the number of items a paired comparison needs to
// detect a difference delta = θ_A − θ_B with a two-sided level-alpha test and
// the given power, when a fraction discordance of items differ between the
// versions (normal approximation, METHODS §3):
//
//	n = (z_{1−α/2} + z_{power})² · ω² / δ²,  ω² = discordance − δ².
//
// Round up. It returns NaN unless 0 < |delta| <= discordance <= 1 and alpha,
// power lie in (0, 1). For two independent samples use UnpairedSampleSize:
// pairing typically needs a third to half as many items.
func PairedSampleSize(discordance, delta, alpha, power float64) float64 {
	if !(discordance > 0 && discordance <= 1) || !(math.Abs(delta) > 0 && math.Abs(delta) <= discordance) ||
		!validLevel(alpha) || !validLevel(power) {
		return math.NaN()
	}
	z := normalQuantile(1-alpha/2) + normalQuantile(power)
	return z * z * (discordance - delta*delta) / (delta * delta)
}

// UnpairedSampleSize returns the per-arm sample size of a two-sample test of
// rates p1 vs p2 (two-sided level alpha, the given power; normal
// approximation). It returns NaN for invalid input.
func UnpairedSampleSize(p1, p2, alpha, power float64) float64 {
	if !(p1 >= 0 && p1 <= 1) || !(p2 >= 0 && p2 <= 1) || p1 == p2 || !validLevel(alpha) || !validLevel(power) {
		return math.NaN()
	}
	z := normalQuantile(1-alpha/2) + normalQuantile(power)
	d := p1 - p2
	return z * z * (p1*(1-p1) + p2*(1-p2)) / (d * d)
}
