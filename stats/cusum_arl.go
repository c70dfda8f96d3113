package stats

import (
	"math"
	"sync"
)

var cusumBuffers = sync.Pool{New: func() any { return new([]float64) }}

// Choosing the CUSUM threshold for a stated false-alarm rate.
//
// The run length of a Bernoulli CUSUM is the absorption time of a Markov
// chain on the statistic S. S moves by +a = log(P1/P0) on a failure and by
// −b = log((1−P1)/(1−P0)) on a success, floored at 0, so the states it can
// reach are sums i·a − j·b: a countable, dense set when a/b is irrational.
// Brook & Evans (Biometrika 59:539–549, 1972) put S on a lattice instead:
// the smaller of the two steps is an exact number of units and the larger
// is rounded to the nearest unit, with units fine enough that the larger
// step spans at least cusumLatticeSteps of them, and chosen among a few
// candidates to round it best. The average run length
// (ARL) from S = 0 then solves (I − Q)·L = 1 over the transient states
// 0..H−1. Q has two entries per row, one k columns to the left (clamped at
// 0) and one m to the right, so I − Q is banded and an M-matrix: Gaussian
// elimination without pivoting is stable and costs O(H·k·m), milliseconds
// for the thresholds monitors use. Rounding moves the larger step by at
// most 1/(2·cusumLatticeSteps) of itself, usually far less; TestCUSUMARLMatchesSimulation
// checks the result against simulation within Monte Carlo error.

// cusumLatticeSteps is the number of lattice units the larger step spans
// (at least); it sets the discretisation error.
const cusumLatticeSteps = 100

// cusumMaxCells bounds the band storage of one ARL computation (about
// 64 MB of float64): thresholds needing more make CUSUMARL return +Inf.
const cusumMaxCells = 8 << 20

// cusumLattice is the discretised chain of a CUSUM configuration.
type cusumLattice struct {
	k, m int     // units per success (down) and per failure (up)
	unit float64 // the length of one unit on the scale of S
}

func newCUSUMLattice(p0, p1 float64) cusumLattice {
	return newCUSUMLatticeSteps(p0, p1, cusumLatticeSteps)
}

func newCUSUMLatticeSteps(p0, p1 float64, steps int) cusumLattice {
	a := math.Log(p1 / p0)
	b := -math.Log((1 - p1) / (1 - p0))
	small, ratio := b, a/b
	if a < b {
		small, ratio = a, b/a
	}
	// Units per small step: enough for the large step to span
	// cusumLatticeSteps, and among the next few counts the one that rounds
	// the large step best (its error drives the ARL's).
	lo := max(4, int(math.Ceil(float64(steps)/ratio)))
	n, bestErr := lo, math.Inf(1)
	for c := lo; c <= lo+lo/2+1; c++ {
		x := float64(c) * ratio
		if e := math.Abs(x-math.Round(x)) / x; e < bestErr {
			n, bestErr = c, e
		}
	}
	large := int(math.Round(float64(n) * ratio))
	if a >= b {
		return cusumLattice{k: n, m: large, unit: small / float64(n)}
	}
	return cusumLattice{k: large, m: n, unit: small / float64(n)}
}

// states returns the number of transient lattice states for threshold h:
// the CUSUM alarms once S reaches h, i.e. once the lattice statistic
// reaches ceil(h/unit).
func (l cusumLattice) states(h float64) int {
	return max(1, int(math.Ceil(h/l.unit-1e-9)))
}

// arl solves for the zero-state ARL with n transient states when a trace
// fails with probability p. It returns +Inf when the chain is too large to
// solve or cannot alarm.
func (l cusumLattice) arl(n int, p float64) float64 {
	kl, ku := l.k, l.m
	w := kl + ku + 1
	if n > cusumMaxCells/w {
		return math.Inf(1)
	}
	q := 1 - p
	// band[i*w + (j-i+kl)] holds A[i][j] for A = I − Q. Threshold searches
	// solve many chains of similar size: reuse the memory.
	buf := cusumBuffers.Get().(*[]float64)
	defer cusumBuffers.Put(buf)
	if cap(*buf) < n*(w+2) {
		*buf = make([]float64, n*(w+2))
	}
	all := (*buf)[:n*(w+2)]
	clear(all)
	band, rhs, arl := all[:n*w], all[n*w:n*w+n], all[n*w+n:]
	at := func(i, j int) *float64 { return &band[i*w+j-i+kl] }
	for i := range n {
		*at(i, i) = 1
		rhs[i] = 1
		*at(i, max(0, i-kl)) -= q
		if i+ku < n {
			*at(i, i+ku) -= p
		}
	}
	for i := range n {
		piv := *at(i, i)
		if !(piv > 0) {
			// Every state returns to itself with probability 1: S can
			// never reach the threshold (p = 0).
			return math.Inf(1)
		}
		last := min(n-1, i+ku)
		for r := i + 1; r <= min(n-1, i+kl); r++ {
			f := *at(r, i) / piv
			if f == 0 {
				continue
			}
			*at(r, i) = 0
			row, src := band[r*w+kl-r:], band[i*w+kl-i:]
			for j := i + 1; j <= last; j++ {
				row[j] -= f * src[j]
			}
			rhs[r] -= f * rhs[i]
		}
	}
	for i := n - 1; i >= 0; i-- {
		s := rhs[i]
		row := band[i*w+kl-i:]
		for j := i + 1; j <= min(n-1, i+ku); j++ {
			s -= row[j] * arl[j]
		}
		arl[i] = s / row[i]
	}
	return arl[0]
}

// CUSUMARL returns the zero-state average run length of the CUSUM cfg (the
// mean number of traces from S = 0 to the first alarm) when each trace
// fails independently with probability p, computed from the Markov chain of
// Brook & Evans (1972) rather than by simulation. With p = P0 it is ARL₀,
// the mean traces between false alarms; with p > P0 it is the detection
// delay of a change present from the start. The lattice rounds the failure
// step by at most 0.25%; the result agrees with SimulateCUSUM within Monte
// Carlo error (TestCUSUMARLMatchesSimulation). It returns NaN for an invalid
// configuration or p outside [0, 1], and +Inf when the CUSUM can never
// alarm or the chain is too large to solve (h of hundreds).
func CUSUMARL(cfg CUSUMConfig, p float64) float64 {
	cfg = cfg.withDefaults()
	if cfg.Validate() != nil || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	l := newCUSUMLattice(cfg.P0, cfg.P1)
	return l.arl(l.states(cfg.H), p)
}

// CUSUMThreshold returns the smallest threshold h at which a CUSUM tuned to
// the shift p0 → p1 has an average run length of at least arl when the true
// failure rate is p: with p = p0 and arl = 10000 it is the h for "one false
// alarm per 10,000 traces on average". Passing a p above p0 (the upper end
// of p0's interval when p0 was estimated) keeps the false-alarm rate at or
// below the target even if the estimate was low. It returns NaN for invalid
// arguments (p0, p1 as in CUSUMConfig, p in [0, 1), arl >= 1) and +Inf when
// no threshold the chain can solve reaches arl.
func CUSUMThreshold(p0, p1, p, arl float64) float64 {
	if (CUSUMConfig{P0: p0, P1: p1, H: 1}).Validate() != nil || !(p >= 0 && p < 1) || !(arl >= 1) || math.IsInf(arl, 0) {
		return math.NaN()
	}
	// A coarse lattice finds h roughly and cheaply; the fine one then only
	// searches a narrow bracket around it.
	coarse := newCUSUMLatticeSteps(p0, p1, cusumLatticeSteps/4)
	hc, ok := coarse.threshold(p, arl, 1, 2)
	if !ok {
		return math.Inf(1)
	}
	l := newCUSUMLattice(p0, p1)
	n0 := l.states(hc)
	hf, ok := l.threshold(p, arl, n0, 1.03)
	if !ok {
		return math.Inf(1)
	}
	return hf
}

// threshold returns the smallest threshold on lattice l whose ARL at rate
// p reaches arl, searching from start states and widening by grow (> 1)
// until the target is bracketed. It reports false when the chain grows too
// large to solve.
func (l cusumLattice) threshold(p, arl float64, start int, grow float64) (float64, bool) {
	// The ARL grows with the number of states, about exponentially: find
	// a bracket, then narrow it by false position on log ARL (Illinois
	// variant), which needs a handful of solves where bisection needs a
	// dozen.
	target := math.Log(arl)
	f := func(n int) (float64, bool) {
		v := l.arl(n, p)
		if math.IsInf(v, 1) && n*(l.k+l.m+1) > cusumMaxCells {
			return 0, false
		}
		return math.Log(v) - target, true
	}
	next := func(n int, up bool) int {
		if up {
			return max(n+1, int(math.Ceil(float64(n)*grow)))
		}
		return max(1, min(n-1, int(math.Floor(float64(n)/grow))))
	}
	n := max(1, start)
	fn, ok := f(n)
	if !ok {
		return 0, false
	}
	lo, hi := 0, 0
	var flo, fhi float64
	if fn >= 0 {
		hi, fhi = n, fn
		for lo == 0 {
			if n == 1 {
				return 0.5 * l.unit, true
			}
			n = next(n, false)
			if fn, _ = f(n); fn < 0 {
				lo, flo = n, fn
			} else {
				hi, fhi = n, fn
			}
		}
	} else {
		lo, flo = n, fn
		for hi == 0 {
			n = next(n, true)
			if fn, ok = f(n); !ok {
				return 0, false
			}
			if fn >= 0 {
				hi, fhi = n, fn
			} else {
				lo, flo = n, fn
			}
		}
	}
	side := 0
	for hi-lo > 1 {
		mid := lo + int(math.Round(float64(hi-lo)*(-flo)/(fhi-flo)))
		mid = min(max(mid, lo+1), hi-1)
		fmid, _ := f(mid)
		if fmid >= 0 {
			hi, fhi = mid, fmid
			if side == 1 {
				flo /= 2
			}
			side = 1
		} else {
			lo, flo = mid, fmid
			if side == -1 {
				fhi /= 2
			}
			side = -1
		}
	}
	// Half a unit below the lattice threshold, so ceil(h/unit) recovers hi
	// despite rounding.
	return (float64(hi) - 0.5) * l.unit, true
}
