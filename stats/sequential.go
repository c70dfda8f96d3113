package stats

import (
	"fmt"
	"math"

	"github.com/probity/probity"
)

// Decision is what a sequential test says after an observation.
type Decision int

const (
	// Continue: the evidence is not yet clear; run another trial.
	Continue Decision = iota
	// Accept: the pass rate is above P0. H₀: p <= P0 is rejected at level
	// Alpha, so P(Accept | p <= P0) <= Alpha at any stopping time. The gate
	// passes.
	Accept
	// Reject: the pass rate is below P1 (below P0 when no P1 is set).
	// H₀′: p >= P1 is rejected at level Beta, so P(Reject | p >= P1) <= Beta.
	// The gate fails.
	Reject
	// Inconclusive: MaxTrials were used without a decision (or the
	// configuration is invalid; see Sequential.Err). Report the interval.
	Inconclusive
)

// String returns "continue", "accept", "reject" or "inconclusive".
func (d Decision) String() string {
	switch d {
	case Continue:
		return "continue"
	case Accept:
		return "accept"
	case Reject:
		return "reject"
	case Inconclusive:
		return "inconclusive"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// SequentialMethod chooses the e-process of a Sequential test.
type SequentialMethod int

const (
	// MethodAuto is MethodSPRT when P1 is set and MethodMixture otherwise.
	MethodAuto SequentialMethod = iota
	// MethodSPRT is the likelihood ratio of the point alternative P1 against
	// P0 with Ville thresholds 1/Alpha and 1/Beta (METHODS §4 "SPRT
	// e-process"). It needs a pre-committed P1 and is the most efficient at
	// the design points: 22–53% fewer trials than the fixed-n test.
	MethodSPRT
	// MethodMixture is the exact Bernoulli mixture e-process: the likelihood
	// ratio integrated over a Beta(PriorA, PriorB) prior truncated to
	// (P0, 1] for Accept and to [0, P1) for Reject. It needs no P1 but can
	// cost up to 1.4× the fixed n near the boundary; hence the cap.
	MethodMixture
	// MethodBetting is the betting e-process of Waudby-Smith & Ramdas with
	// aGRAPA-style predictable bets (as in METHODS' betting_mc.py), truncated
	// at ½/P0 and ½/(1−P1). It also suits graded scores in [0, 1].
	MethodBetting
)

// String names the method.
func (m SequentialMethod) String() string {
	switch m {
	case MethodAuto:
		return "auto"
	case MethodSPRT:
		return "sprt"
	case MethodMixture:
		return "mixture"
	case MethodBetting:
		return "betting"
	}
	return fmt.Sprintf("SequentialMethod(%d)", int(m))
}

// SequentialConfig pre-registers a sequential test (METHODS §4 step 1).
type SequentialConfig struct {
	// P0 is the unacceptable pass rate: Accept means "p > P0" with error
	// probability at most Alpha. Required, in (0, 1).
	P0 float64
	// P1 is the acceptable pass rate, the minimum effect committed to in
	// advance (P0 < P1 < 1). Reject means "p < P1" with error probability at
	// most Beta. 0 means none: then Reject means "p < P0" and the method
	// cannot be MethodSPRT.
	P1 float64
	// Alpha bounds P(Accept | p <= P0), the false pass. Default 0.05.
	Alpha float64
	// Beta bounds P(Reject | p >= P1), the false fail. Default 0.2.
	Beta float64
	// MaxTrials is the hard cap N_max, after which the test is
	// Inconclusive. Default with P1: 4× the fixed-n sample size of
	// FixedNDesign(P0, P1, Alpha, 1−Beta). Required without P1.
	MaxTrials int
	// Method chooses the e-process; default MethodAuto.
	Method SequentialMethod
	// PriorA and PriorB are the Beta prior of MethodMixture and of the
	// confidence sequence; default 1, 1 (uniform). A prior concentrated near
	// the expected rate (METHODS §4 tried Beta(18, 2) for P0 = 0.8) saves
	// trials when it is right.
	PriorA, PriorB float64
}

// withDefaults fills zero fields.
func (c SequentialConfig) withDefaults() SequentialConfig {
	if c.Alpha == 0 {
		c.Alpha = 0.05
	}
	if c.Beta == 0 {
		c.Beta = 0.2
	}
	if c.PriorA == 0 {
		c.PriorA = 1
	}
	if c.PriorB == 0 {
		c.PriorB = 1
	}
	if c.Method == MethodAuto {
		if c.P1 != 0 {
			c.Method = MethodSPRT
		} else {
			c.Method = MethodMixture
		}
	}
	if c.MaxTrials == 0 && c.P1 > c.P0 && c.P1 < 1 && c.P0 > 0 && validLevel(c.Alpha) && validLevel(c.Beta) {
		if n, _, err := FixedNDesign(c.P0, c.P1, c.Alpha, 1-c.Beta); err == nil {
			c.MaxTrials = 4 * n
		}
	}
	return c
}

// Validate reports an invalid configuration as a *probity.Error with code
// EINVALID, after filling defaults. Call it where the configuration is read
// (a suite file) to report the mistake there.
func (c SequentialConfig) Validate() error {
	c = c.withDefaults()
	bad := func(format string, args ...any) error {
		return probity.Errorf(probity.EINVALID, "sequential test: "+format, args...)
	}
	switch {
	case !(c.P0 > 0 && c.P0 < 1):
		return bad("p0 = %v, want a rate strictly between 0 and 1", c.P0)
	case c.P1 != 0 && !(c.P1 > c.P0 && c.P1 < 1):
		return bad("p1 = %v, want p0 < p1 < 1 (p0 = %v) or 0 for none", c.P1, c.P0)
	case !validLevel(c.Alpha):
		return bad("alpha = %v, want a probability in (0, 1)", c.Alpha)
	case !validLevel(c.Beta):
		return bad("beta = %v, want a probability in (0, 1)", c.Beta)
	case c.MaxTrials < 1:
		return bad("max trials = %d: set a hard cap (required when p1 is not set)", c.MaxTrials)
	case !(c.PriorA > 0) || !(c.PriorB > 0) || math.IsInf(c.PriorA, 0) || math.IsInf(c.PriorB, 0):
		return bad("prior Beta(%v, %v): both parameters must be positive", c.PriorA, c.PriorB)
	case c.Method == MethodSPRT && c.P1 == 0:
		return bad("the SPRT method needs p1, the pre-committed acceptable rate")
	case c.Method < MethodAuto || c.Method > MethodBetting:
		return bad("unknown method %d", int(c.Method))
	}
	return nil
}

// Sequential is an anytime-valid sequential test of a pass rate that you feed
// one outcome at a time (METHODS §4): stop as soon as it says Accept or
// Reject, and trust the error rates Alpha and Beta whatever the stopping
// time, because the decision statistic is an e-process and the thresholds
// are Ville's 1/Alpha and 1/Beta. Never peek at a fixed-n p-value or a
// posterior probability instead: METHODS §4 measured a false-pass rate of
// 0.138 for a nominal 0.05 that way.
//
// Use one Sequential per case (or per suite) with a randomised trial order;
// a difficulty-sorted order breaks exchangeability. Trials finished in
// parallel batches may be fed in any order. To test a regression between
// versions, feed only discordant pairs (pass = A won the pair) with P0 = 0.5.
// After an early stop, report PValue and Interval (anytime-valid), not a
// fixed-n Wilson interval.
//
// A Sequential is not safe for concurrent use.
type Sequential struct {
	cfg SequentialConfig
	err error

	n        int
	s        float64 // sum of scores
	decision Decision
	minP     float64 // running min of 1/E for Accept
	minPRej  float64 // running min of 1/E′ for Reject
	logE     float64 // Accept-side log e-value
	logERej  float64 // Reject-side log e-value
	cs       Interval

	// Betting state: running regularised mean and variance (of the scores
	// so far) and the capital of both sides.
	mu, sig2, sumSq float64

	// Constants of the mixture.
	mixDenUp, mixDenLo float64
}

// NewSequential starts a sequential test. An invalid configuration does not
// panic: the test is Inconclusive from the start and Err reports why (check
// cfg.Validate where the configuration is read).
func NewSequential(cfg SequentialConfig) *Sequential {
	cfg = cfg.withDefaults()
	s := &Sequential{cfg: cfg, minP: 1, minPRej: 1, cs: Interval{0, 1}, mu: 0.5, sig2: 0.25}
	if err := cfg.Validate(); err != nil {
		s.err = err
		s.decision = Inconclusive
		return s
	}
	a, b := cfg.PriorA, cfg.PriorB
	s.mixDenUp = lbeta(a, b) + math.Log(regIncBeta(b, a, 1-cfg.P0))
	s.mixDenLo = lbeta(a, b) + math.Log(regIncBeta(a, b, cfg.lowerRef()))
	return s
}

// lowerRef is the rate the Reject side tests against: P1, or P0 without one.
func (c SequentialConfig) lowerRef() float64 {
	if c.P1 != 0 {
		return c.P1
	}
	return c.P0
}

// Config returns the configuration with its defaults filled in.
func (s *Sequential) Config() SequentialConfig { return s.cfg }

// Err returns the configuration error, or the first invalid score passed to
// ObserveScore, or nil.
func (s *Sequential) Err() error { return s.err }

// Observe records one trial and returns the decision. Once the decision is
// not Continue it is final: later observations are ignored and return it.
func (s *Sequential) Observe(pass bool) Decision {
	if pass {
		return s.ObserveScore(1)
	}
	return s.ObserveScore(0)
}

// ObserveScore records a graded score in [0, 1] (1 = pass). All three
// e-processes stay valid for graded scores: each per-trial factor is convex
// in the score, so its mean under H₀ is at most that of a 0/1 score with
// the same mean. A score outside [0, 1] or NaN is ignored and reported by
// Err.
func (s *Sequential) ObserveScore(x float64) Decision {
	if s.decision != Continue {
		return s.decision
	}
	if !(x >= 0 && x <= 1) {
		if s.err == nil {
			s.err = probity.Errorf(probity.EINVALID, "sequential test: trial %d: score %v outside [0, 1]", s.n+1, x)
		}
		return s.decision
	}
	if s.cfg.Method == MethodBetting {
		s.bet(x)
	}
	s.n++
	s.s += x
	switch s.cfg.Method {
	case MethodSPRT:
		s.logE = sprtLogLR(s.s, s.n, s.cfg.P0, s.cfg.P1)
		s.logERej = -s.logE
	case MethodMixture:
		s.logE = s.mixUpper(s.s, s.n)
		s.logERej = s.mixLower(s.s, s.n)
	}
	s.minP = math.Min(s.minP, math.Exp(-s.logE))
	s.minPRej = math.Min(s.minPRej, math.Exp(-s.logERej))
	s.cs = csWithin(s.s, s.n, s.cfg.PriorA, s.cfg.PriorB, s.cfg.Alpha, s.cs)
	s.decision = s.cfg.decide(s.n, s.logE, s.logERej)
	return s.decision
}

// decide applies the Ville thresholds and the cap; Accept wins a tie.
func (c SequentialConfig) decide(n int, logE, logERej float64) Decision {
	switch {
	case logE >= math.Log(1/c.Alpha):
		return Accept
	case logERej >= math.Log(1/c.Beta):
		return Reject
	case n >= c.MaxTrials:
		return Inconclusive
	}
	return Continue
}

// bet updates the betting capital with score x using bets chosen from the
// scores before it (predictable), then the running mean and variance.
func (s *Sequential) bet(x float64) {
	const trunc = 0.5
	p0, pl := s.cfg.P0, s.cfg.lowerRef()
	g := s.mu - p0
	lam := clamp(g/(s.sig2+g*g), 0, trunc/p0)
	g2 := pl - s.mu
	lam2 := clamp(g2/(s.sig2+g2*g2), 0, trunc/(1-pl))
	s.logE += math.Log1p(lam * (x - p0))
	s.logERej += math.Log1p(-lam2 * (x - pl))
	t := float64(s.n + 1)
	s.mu = (0.5 + s.s + x) / (t + 1)
	s.sumSq += (x - s.mu) * (x - s.mu)
	s.sig2 = (0.25 + s.sumSq) / (t + 1)
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// Decision returns the current decision.
func (s *Sequential) Decision() Decision { return s.decision }

// N returns the number of trials observed.
func (s *Sequential) N() int { return s.n }

// Successes returns the sum of scores (the number of passes for 0/1).
func (s *Sequential) Successes() float64 { return s.s }

// EValue returns the current e-value for Accept (evidence that p > P0).
func (s *Sequential) EValue() float64 { return math.Exp(s.logE) }

// LogEValue returns the natural log of EValue (the SPRT log likelihood ratio
// for MethodSPRT), which stays finite where EValue over- or underflows.
func (s *Sequential) LogEValue() float64 { return s.logE }

// PValue returns the always-valid p-value for H₀: p <= P0, min over time
// of 1/E, capped at 1. It is valid at the data-dependent stopping time.
func (s *Sequential) PValue() float64 { return s.minP }

// PValueReject returns the always-valid p-value for H₀′: p >= P1 (P0
// without P1).
func (s *Sequential) PValueReject() float64 { return s.minPRej }

// Interval returns the running intersection of the (1 − Alpha) mixture
// confidence sequences (see ConfidenceSequence): an interval for the pass
// rate that is valid at any stopping time, unlike a fixed-n interval. If the
// intersection would exclude the current estimate (an event of probability
// at most Alpha) it restarts from the current confidence set.
func (s *Sequential) Interval() Interval { return s.cs }

// sprtLogLR is the log likelihood ratio of p1 against p0 for score sum s in
// n trials.
func sprtLogLR(s float64, n int, p0, p1 float64) float64 {
	return s*math.Log(p1/p0) + (float64(n)-s)*math.Log((1-p1)/(1-p0))
}

// mixUpper is the log of the Beta(a, b)-on-(p0, 1] mixture e-value.
func (s *Sequential) mixUpper(sum float64, n int) float64 {
	return logMixtureUpper(sum, n, s.cfg.P0, s.cfg.PriorA, s.cfg.PriorB, s.mixDenUp)
}

// mixLower is the log of the Beta(a, b)-on-[0, pl) mixture e-value against
// the point pl.
func (s *Sequential) mixLower(sum float64, n int) float64 {
	return logMixtureLower(sum, n, s.cfg.lowerRef(), s.cfg.PriorA, s.cfg.PriorB, s.mixDenLo)
}

func logMixtureUpper(sum float64, n int, p0, a, b, den float64) float64 {
	fa, fb := sum+a, float64(n)-sum+b
	// 1 − I_{p0}(fa, fb) = I_{1−p0}(fb, fa), which keeps precision when tiny.
	num := lbeta(fa, fb) + math.Log(regIncBeta(fb, fa, 1-p0))
	return num - den - (sum*math.Log(p0) + (float64(n)-sum)*math.Log1p(-p0))
}

func logMixtureLower(sum float64, n int, pl, a, b, den float64) float64 {
	fa, fb := sum+a, float64(n)-sum+b
	num := lbeta(fa, fb) + math.Log(regIncBeta(fa, fb, pl))
	return num - den - (sum*math.Log(pl) + (float64(n)-sum)*math.Log1p(-pl))
}

// MixtureEValue returns the exact Bernoulli mixture e-value for H₀: p <= p0
// after c successes in n trials, with a Beta(a, b) prior truncated to
// (p0, 1] (METHODS §4):
//
//	E = B(c+a, n−c+b)·(1 − I_{p0}(c+a, n−c+b)) / [B(a,b)·(1 − I_{p0}(a,b))·p0^c (1−p0)^(n−c)].
//
// E >= 1/α rejects H₀ at level α at any stopping time. It returns NaN for
// invalid input.
func MixtureEValue(c, n int, p0, a, b float64) float64 {
	if !validCounts(c, n) || !(p0 > 0 && p0 < 1) || !(a > 0) || !(b > 0) {
		return math.NaN()
	}
	den := lbeta(a, b) + math.Log(regIncBeta(b, a, 1-p0))
	return math.Exp(logMixtureUpper(float64(c), n, p0, a, b, den))
}

// LikelihoodRatio returns the SPRT likelihood ratio (p1/p0)^c ((1−p1)/(1−p0))^(n−c)
// of c successes in n trials, an e-value for H₀: p <= p0 when p1 > p0. It
// returns NaN for invalid input.
func LikelihoodRatio(c, n int, p0, p1 float64) float64 {
	if !validCounts(c, n) || !(p0 > 0 && p0 < 1) || !(p1 > 0 && p1 < 1) {
		return math.NaN()
	}
	return math.Exp(sprtLogLR(float64(c), n, p0, p1))
}

// NormalMixtureLR returns the mSPRT statistic of Johari, Pekelis & Walsh for
// normal data with known variance sigma2 and a N(theta0, tau2) mixing
// distribution, after n observations with mean xbar:
//
//	Λₙ = √(σ²/(σ²+nτ²))·exp(n²τ²(x̄ₙ−θ₀)² / (2σ²(σ²+nτ²))).
//
// The always-valid p-value is the running min of 1/Λ. Prefer Sequential for
// 0/1 outcomes: it needs no normal approximation. NaN for invalid input.
func NormalMixtureLR(n int, xbar, theta0, sigma2, tau2 float64) float64 {
	if n < 0 || !(sigma2 > 0) || !(tau2 > 0) || math.IsNaN(xbar) || math.IsNaN(theta0) {
		return math.NaN()
	}
	nf := float64(n)
	d := sigma2 + nf*tau2
	return math.Sqrt(sigma2/d) * math.Exp(nf*nf*tau2*(xbar-theta0)*(xbar-theta0)/(2*sigma2*d))
}

// ConfidenceSequence returns the set {m : E_m < 1/α} of rates not rejected
// by the Beta(a, b) mixture e-value against the point m,
//
//	E_m = B(s+a, n−s+b) / (B(a, b)·m^s (1−m)^(n−s)),
//
// after score sum s in n trials. It covers the true rate at every n
// simultaneously with probability at least 1 − α (Ville), so it stays valid
// after a data-dependent stop; intersecting it over time (as Sequential does)
// keeps that. It returns [0, 1] for n = 0 and NaNs for invalid input.
func ConfidenceSequence(s float64, n int, a, b, alpha float64) Interval {
	if n < 0 || !(s >= 0 && s <= float64(n)) || !(a > 0) || !(b > 0) || !validLevel(alpha) {
		return nanInterval
	}
	return csWithin(s, n, a, b, alpha, Interval{0, 1})
}

// csWithin intersects the confidence sequence at (s, n) with prev. Because
// log E_m is convex in m with its minimum at m = s/n, each end is the root
// of a convex function on one side of s/n; it is found by safeguarded Newton
// steps starting from prev's end, which is usually already next to it (this
// keeps Sequential.Observe cheap).
func csWithin(s float64, n int, a, b, alpha float64, prev Interval) Interval {
	if n == 0 {
		return prev
	}
	nf := float64(n)
	f := nf - s
	lb := lbeta(s+a, f+b) - lbeta(a, b)
	thr := math.Log(1 / alpha)
	g := func(m float64) (v, dv float64) {
		v = lb - thr
		if s > 0 {
			v -= s * math.Log(m)
			dv -= s / m
		}
		if f > 0 {
			v -= f * math.Log1p(-m)
			dv += f / (1 - m)
		}
		return v, dv
	}
	mhat := s / nf
	if v, _ := g(mhat); v >= 0 {
		// Cannot happen for a proper prior; never return an empty set.
		return Interval{mhat, mhat}
	}
	iv := prev
	if s > 0 && iv.Lo < mhat {
		if v, _ := g(math.Max(iv.Lo, 0)); v >= 0 || iv.Lo <= 0 {
			iv.Lo = convexRoot(g, math.Max(iv.Lo, 0), mhat)
		}
	}
	if f > 0 && iv.Hi > mhat {
		if v, _ := g(math.Min(iv.Hi, 1)); v >= 0 || iv.Hi >= 1 {
			iv.Hi = convexRoot(g, math.Min(iv.Hi, 1), mhat)
		}
	}
	if !(iv.Lo <= mhat && mhat <= iv.Hi) && prev != (Interval{0, 1}) {
		// The running intersection excludes the estimate or is empty, which
		// happens with probability at most α; report the current set rather
		// than an empty one.
		return csWithin(s, n, a, b, alpha, Interval{0, 1})
	}
	return iv
}

// convexRoot finds the root of g between out (where g >= 0 or g is
// undefined at 0 or 1) and in (where g < 0), by Newton steps from the out
// side, falling back to bisection when a step leaves the bracket.
func convexRoot(g func(float64) (float64, float64), out, in float64) float64 {
	x := out
	for range 200 {
		v, dv := g(x)
		if math.IsInf(v, 1) || math.IsNaN(v) || dv == 0 || math.IsInf(dv, 0) {
			x = (x + in) / 2
			continue
		}
		if v < 0 {
			in = x
			x = (out + in) / 2
			continue
		}
		out = x
		next := x - v/dv
		if (next-out)*(next-in) > 0 { // outside the bracket
			next = (out + in) / 2
		}
		if math.Abs(next-x) < 1e-13 {
			return next
		}
		x = next
	}
	return (out + in) / 2
}

// FixedNDesign returns the smallest fixed-n exact one-sided binomial test of
// H₀: p <= p0 with size at most alpha and power at least power at p1: run n
// trials and pass if at least k succeed. It is the baseline that sequential
// stopping is measured against (METHODS §4: p0 = 0.8, p1 = 0.9 gives n = 82,
// k = 72). It returns a *probity.Error (EINVALID) for invalid input or when n
// would exceed 100,000.
func FixedNDesign(p0, p1, alpha, power float64) (n, k int, err error) {
	if !(p0 > 0 && p0 < 1) || !(p1 > p0 && p1 < 1) || !validLevel(alpha) || !validLevel(power) {
		return 0, 0, probity.Errorf(probity.EINVALID, "fixed-n design: need 0 < p0 < p1 < 1 and alpha, power in (0, 1); got p0=%v p1=%v alpha=%v power=%v", p0, p1, alpha, power)
	}
	// k(n), the smallest k with P(X >= k | p0) <= alpha, moves by at most
	// one as n grows by one, so it is tracked instead of searched for.
	k = 1
	for n = 1; n <= 100_000; n++ {
		for k > 0 && binomSF(k-1, n, p0) <= alpha {
			k--
		}
		for binomSF(k, n, p0) > alpha {
			k++
		}
		if k <= n && binomSF(k, n, p1) >= power {
			return n, k, nil
		}
	}
	return 0, 0, probity.Errorf(probity.EINVALID, "fixed-n design: p0=%v and p1=%v are too close (n > 100000)", p0, p1)
}

// binomSF is P(X >= k) for X ~ Bin(n, p).
func binomSF(k, n int, p float64) float64 {
	switch {
	case k <= 0:
		return 1
	case k > n:
		return 0
	}
	return regIncBeta(float64(k), float64(n-k+1), p)
}

// OperatingCharacteristics are the exact error rates and expected sample size
// of a sequential test at one true pass rate.
type OperatingCharacteristics struct {
	PAccept       float64 // P(Accept)
	PReject       float64 // P(Reject)
	PInconclusive float64 // P(reaching MaxTrials undecided)
	ExpectedN     float64 // E[trials used]
}

// SequentialOC computes the operating characteristics of cfg at true pass
// rate p exactly, by dynamic programming over the binomial lattice (as
// METHODS §4's seq2.py): use it to check a design's error rates and its
// expected saving against FixedNDesign before running it. MethodBetting
// depends on the order of outcomes, not only on (n, successes), so it has no
// exact DP: simulate Sequential instead. It returns a *probity.Error
// (EINVALID) for an invalid configuration, p outside [0, 1], the betting
// method, or MaxTrials above 20,000.
func SequentialOC(cfg SequentialConfig, p float64) (OperatingCharacteristics, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return OperatingCharacteristics{}, err
	}
	if !(p >= 0 && p <= 1) {
		return OperatingCharacteristics{}, probity.Errorf(probity.EINVALID, "operating characteristics: rate %v outside [0, 1]", p)
	}
	if cfg.Method == MethodBetting {
		return OperatingCharacteristics{}, probity.Errorf(probity.EINVALID, "operating characteristics: the betting e-process is path-dependent; simulate it")
	}
	if cfg.MaxTrials > 20_000 {
		return OperatingCharacteristics{}, probity.Errorf(probity.EINVALID, "operating characteristics: max trials %d above 20000", cfg.MaxTrials)
	}
	s := NewSequential(cfg) // for the mixture constants
	return latticeOC(p, cfg.MaxTrials, func(n, c int) Decision {
		var logE, logERej float64
		switch cfg.Method {
		case MethodSPRT:
			logE = sprtLogLR(float64(c), n, cfg.P0, cfg.P1)
			logERej = -logE
		case MethodMixture:
			logE, logERej = s.mixUpper(float64(c), n), s.mixLower(float64(c), n)
		}
		return cfg.decide(n, logE, logERej)
	}), nil
}

// latticeOC runs the stopping rule decide(n, successes) over the binomial
// lattice at rate p up to maxN trials, where whatever is still undecided
// counts as Inconclusive.
func latticeOC(p float64, maxN int, decide func(n, c int) Decision) OperatingCharacteristics {
	var oc OperatingCharacteristics
	dist := []float64{1}
	for n := 1; n <= maxN; n++ {
		next := make([]float64, n+1)
		for c, q := range dist {
			next[c] += q * (1 - p)
			next[c+1] += q * p
		}
		dist = next
		for c, q := range dist {
			if q == 0 {
				continue
			}
			d := decide(n, c)
			if d == Continue && n == maxN {
				d = Inconclusive
			}
			switch d {
			case Accept:
				oc.PAccept += q
			case Reject:
				oc.PReject += q
			case Inconclusive:
				oc.PInconclusive += q
			default:
				continue
			}
			oc.ExpectedN += float64(n) * q
			dist[c] = 0
		}
	}
	return oc
}
