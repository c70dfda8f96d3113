package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Interval is a closed interval [Lo, Hi] for a rate or a difference of rates.
// An Interval of NaNs means the input was invalid.
type Interval struct{ Lo, Hi float64 }

var nanInterval = Interval{math.NaN(), math.NaN()}

// Valid reports whether the interval holds numbers (not NaN) with Lo <= Hi.
func (iv Interval) Valid() bool { return iv.Lo <= iv.Hi }

// Contains reports whether p lies in [Lo, Hi].
func (iv Interval) Contains(p float64) bool { return iv.Lo <= p && p <= iv.Hi }

// String formats the interval as "[0.6396, 0.9476]".
func (iv Interval) String() string { return fmt.Sprintf("[%.4f, %.4f]", iv.Lo, iv.Hi) }

// Width is Hi - Lo.
func (iv Interval) Width() float64 { return iv.Hi - iv.Lo }

// validCounts reports whether c successes of n trials make sense.
func validCounts(c, n int) bool { return n >= 0 && c >= 0 && c <= n }

// validLevel reports whether level is a probability strictly inside (0, 1).
func validLevel(level float64) bool { return level > 0 && level < 1 }

// zTwoSided is Φ⁻¹(1 − (1−level)/2), the normal critical value of a two-sided
// interval at level.
func zTwoSided(level float64) float64 { return normalQuantile(1 - (1-level)/2) }

// normalQuantile is Φ⁻¹(p) computed from the complementary error function
// inverse, which keeps full precision in both tails.
func normalQuantile(p float64) float64 { return -math.Sqrt2 * math.Erfcinv(2*p) }

// normalSF is 1 − Φ(x).
func normalSF(x float64) float64 { return 0.5 * math.Erfc(x/math.Sqrt2) }

// regIncBeta is I_x(a, b) that returns NaN instead of panicking (gonum's
// mathext panics outside its domain).
func regIncBeta(a, b, x float64) float64 {
	if !(a > 0) || !(b > 0) || math.IsInf(a, 0) || math.IsInf(b, 0) || !(x >= 0 && x <= 1) {
		return math.NaN()
	}
	return mathext.RegIncBeta(a, b, x)
}

// betaQuantile is B(q; a, b), the q-quantile of Beta(a, b), or NaN outside
// the domain.
func betaQuantile(q, a, b float64) float64 {
	if !(a > 0) || !(b > 0) || math.IsInf(a, 0) || math.IsInf(b, 0) || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	return mathext.InvRegIncBeta(a, b, q)
}

// lbeta is log B(a, b).
func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// Wilson returns the Wilson score interval for c successes in n trials at the
// two-sided level (0.95 for 95%).
//
// It is the default interval for one pass rate (METHODS §1; Brown, Cai &
// DasGupta, Stat. Sci. 2001, recommend it for small n): its coverage is
// nominal on average even at n = 10, and unlike Wald it never collapses to a
// point at c = 0 or c = n. With n = 0 it returns [0, 1] (no information); with
// invalid input it returns an Interval of NaNs.
func Wilson(c, n int, level float64) Interval {
	if !validCounts(c, n) || !validLevel(level) {
		return nanInterval
	}
	if n == 0 {
		return Interval{0, 1}
	}
	return wilson(c, n, zTwoSided(level))
}

func wilson(c, n int, z float64) Interval {
	return wilsonReal(float64(c)/float64(n), float64(n), z)
}

func wilsonReal(p, nf, z float64) Interval {
	z2 := z * z
	d := 1 + z2/nf
	centre := (p + z2/(2*nf)) / d
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / d
	lo, hi := centre-half, centre+half
	// The formula gives exactly 0 and 1 at the edges only up to rounding.
	if p == 0 {
		lo = 0
	}
	if p == 1 {
		hi = 1
	}
	// A one-sided level below ½ makes z negative; keep both ends in [0, 1].
	return Interval{clamp(lo, 0, 1), clamp(hi, 0, 1)}
}

// WilsonLower returns the one-sided Wilson lower bound at level (0.95 means
// "the rate is at least this with 95% confidence"): the lower end of the
// Wilson interval with z = Φ⁻¹(level).
//
// Use it for a gate on a suite pass rate when the items are independent; use
// ClopperPearsonLower when the gate must hold its level for every true rate
// (METHODS §1 recommends Clopper–Pearson for "guaranteed ≥ 95%" safety gates).
// With n = 0 it returns 0; with invalid input NaN.
func WilsonLower(c, n int, level float64) float64 {
	if !validCounts(c, n) || !validLevel(level) {
		return math.NaN()
	}
	if n == 0 {
		return 0
	}
	return wilson(c, n, normalQuantile(level)).Lo
}

// WilsonEffective returns the Wilson interval for an observed rate phat at a
// real-valued sample size nEff, such as the effective sample size N/deff of
// clustered trials (deff = ClusteredSE's variance over p̂(1−p̂)/N, Kish's
// design effect). At an integer nEff and phat = c/nEff it equals Wilson. It
// returns NaNs unless 0 <= phat <= 1, nEff > 0 and the level is valid.
func WilsonEffective(phat, nEff, level float64) Interval {
	if !(phat >= 0 && phat <= 1) || !(nEff > 0) || math.IsInf(nEff, 0) || !validLevel(level) {
		return nanInterval
	}
	return wilsonReal(phat, nEff, zTwoSided(level))
}

// WilsonEffectiveLower is the one-sided (z = Φ⁻¹(level)) lower bound of
// WilsonEffective, or NaN for invalid input.
func WilsonEffectiveLower(phat, nEff, level float64) float64 {
	if !(phat >= 0 && phat <= 1) || !(nEff > 0) || math.IsInf(nEff, 0) || !validLevel(level) {
		return math.NaN()
	}
	return wilsonReal(phat, nEff, normalQuantile(level)).Lo
}

// Wald returns the normal-approximation interval p̂ ± z·√(p̂(1−p̂)/n), not
// clipped to [0, 1], so callers can see how wrong it is.
//
// It is here for comparison only: METHODS §1 measured its coverage at 0.78 on
// average (0.05 at worst) at n = 10 and it has zero width at c = 0 and c = n.
// Never use it below a few hundred independent items. With n = 0 or invalid
// input it returns an Interval of NaNs.
func Wald(c, n int, level float64) Interval {
	if !validCounts(c, n) || !validLevel(level) || n == 0 {
		return nanInterval
	}
	p := float64(c) / float64(n)
	h := zTwoSided(level) * math.Sqrt(p*(1-p)/float64(n))
	return Interval{p - h, p + h}
}

// ClopperPearson returns the exact (Clopper–Pearson) interval
// [B(α/2; c, n−c+1), B(1−α/2; c+1, n−c)] with α = 1 − level, and L = 0 at
// c = 0, U = 1 at c = n.
//
// It covers the true rate at least at level for every rate, so it is
// conservative (13% wider than Wilson at n = 20, METHODS §1). Use it when the
// guarantee matters more than the width. With n = 0 it returns [0, 1]; with
// invalid input an Interval of NaNs.
func ClopperPearson(c, n int, level float64) Interval {
	if !validCounts(c, n) || !validLevel(level) {
		return nanInterval
	}
	a := 1 - level
	iv := Interval{0, 1}
	if c > 0 {
		iv.Lo = betaQuantile(a/2, float64(c), float64(n-c+1))
	}
	if c < n {
		iv.Hi = betaQuantile(1-a/2, float64(c+1), float64(n-c))
	}
	return iv
}

// ClopperPearsonLower returns the one-sided exact lower bound B(1−level; c,
// n−c+1) (0 when c = 0): the rate is at least this with confidence level for
// every true rate. For c = n it equals (1−level)^(1/n), e.g. 0.904966 for
// 30 of 30 at 95% (the "rule of three" gives 0.9).
//
// This is the bound for "at least X% with ≥ 95% confidence" safety gates
// (METHODS §1). With n = 0 it returns 0; with invalid input NaN.
func ClopperPearsonLower(c, n int, level float64) float64 {
	if !validCounts(c, n) || !validLevel(level) {
		return math.NaN()
	}
	if c == 0 {
		return 0
	}
	return betaQuantile(1-level, float64(c), float64(n-c+1))
}

// Jeffreys returns the equal-tailed Jeffreys interval: the central level
// credible interval of the Beta(c+½, n−c+½) posterior, with the
// Brown–Cai–DasGupta convention L = 0 when c = 0 and U = 1 when c = n.
//
// It has nominal average coverage (METHODS §1) and is a posterior, so it
// pairs with ProbAbove for statements like P(p > SLO). Use BetaPosterior with
// a0 = b0 = ½ for the raw equal-tailed interval without the convention. With
// n = 0 it returns [0, 1]; with invalid input an Interval of NaNs.
func Jeffreys(c, n int, level float64) Interval {
	iv := BetaPosterior(c, n, 0.5, 0.5, level)
	if !iv.Valid() {
		return iv
	}
	if c == 0 {
		iv.Lo = 0
	}
	if c == n {
		iv.Hi = 1
	}
	return iv
}

// JeffreysLower returns the one-sided Jeffreys lower bound B(1−level; c+½,
// n−c+½), 0 when c = 0 (the Brown–Cai–DasGupta convention). With invalid
// input it returns NaN.
func JeffreysLower(c, n int, level float64) float64 {
	if !validCounts(c, n) || !validLevel(level) {
		return math.NaN()
	}
	if c == 0 {
		return 0
	}
	return betaQuantile(1-level, float64(c)+0.5, float64(n-c)+0.5)
}

// BetaPosterior returns the equal-tailed level credible interval of the
// Beta(c+a0, n−c+b0) posterior of a pass rate under a Beta(a0, b0) prior.
//
// a0 = b0 = 1 (uniform) matches the default of Bowyer et al.'s bayes_evals;
// a0 = b0 = ½ is Jeffreys without the boundary convention. No boundary
// convention is applied: at c = n the upper end is below 1. With n = 0 it
// returns the prior's interval; with invalid input (counts, a0 or b0 not
// positive, level outside (0, 1)) an Interval of NaNs.
func BetaPosterior(c, n int, a0, b0, level float64) Interval {
	if !validCounts(c, n) || !validLevel(level) || !(a0 > 0) || !(b0 > 0) {
		return nanInterval
	}
	return BetaDist{float64(c) + a0, float64(n-c) + b0}.EqualTailed(level)
}

// ProbAbove returns P(p > t | data) = 1 − I_t(c+a0, n−c+b0), the posterior
// probability that the pass rate exceeds t under a Beta(a0, b0) prior.
//
// This is the decision quantity for "how likely is it that we meet the SLO".
// It is a coherent posterior statement at a fixed n, but do not stop a run
// the first time it crosses a threshold: METHODS §4 shows that inflates the
// false-pass rate from 0.05 to 0.135. Use Sequential for early stopping.
// With invalid input (or t outside [0, 1]) it returns NaN.
func ProbAbove(c, n int, a0, b0, t float64) float64 {
	if !validCounts(c, n) || !(a0 > 0) || !(b0 > 0) {
		return math.NaN()
	}
	return BetaDist{float64(c) + a0, float64(n-c) + b0}.ProbAbove(t)
}

// PosteriorMean returns (c+a0)/(n+a0+b0), the mean of the Beta(c+a0, n−c+b0)
// posterior, or NaN for invalid input.
func PosteriorMean(c, n int, a0, b0 float64) float64 {
	if !validCounts(c, n) || !(a0 > 0) || !(b0 > 0) {
		return math.NaN()
	}
	return BetaDist{float64(c) + a0, float64(n-c) + b0}.Mean()
}

// BetaDist is a Beta(A, B) distribution, the posterior of a rate. Its
// parameters may be fractional (a Jeffreys prior, or the decayed counts of
// ForgettingBeta). Methods return NaN unless A > 0 and B > 0.
type BetaDist struct{ A, B float64 }

func (d BetaDist) ok() bool {
	return d.A > 0 && d.B > 0 && !math.IsInf(d.A, 0) && !math.IsInf(d.B, 0)
}

// Mean is A/(A+B).
func (d BetaDist) Mean() float64 {
	if !d.ok() {
		return math.NaN()
	}
	return d.A / (d.A + d.B)
}

// CDF is P(p <= t) = I_t(A, B).
func (d BetaDist) CDF(t float64) float64 {
	if !d.ok() || math.IsNaN(t) {
		return math.NaN()
	}
	switch {
	case t <= 0:
		return 0
	case t >= 1:
		return 1
	}
	return regIncBeta(d.A, d.B, t)
}

// ProbAbove is P(p > t) = 1 − I_t(A, B).
func (d BetaDist) ProbAbove(t float64) float64 { return 1 - d.CDF(t) }

// Quantile is B(q; A, B), NaN unless 0 <= q <= 1.
func (d BetaDist) Quantile(q float64) float64 {
	if !d.ok() {
		return math.NaN()
	}
	return betaQuantile(q, d.A, d.B)
}

// EqualTailed is the central credible interval [B(α/2), B(1−α/2)] with
// α = 1 − level.
func (d BetaDist) EqualTailed(level float64) Interval {
	if !d.ok() || !validLevel(level) {
		return nanInterval
	}
	a := 1 - level
	return Interval{d.Quantile(a / 2), d.Quantile(1 - a/2)}
}

// MomentPower returns E[p^k] = ∏_{j<k} (A+j)/(A+B+j), the posterior mean of
// pass^k for a task whose rate has this distribution (METHODS §2), or NaN for
// k < 0.
func (d BetaDist) MomentPower(k int) float64 {
	if !d.ok() || k < 0 {
		return math.NaN()
	}
	m := 1.0
	for j := 0; j < k; j++ {
		m *= (d.A + float64(j)) / (d.A + d.B + float64(j))
	}
	return m
}
