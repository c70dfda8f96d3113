package stats

import (
	"math"
	"testing"
)

// FuzzIntervals feeds arbitrary counts and levels to every interval and
// checks the invariants that must hold for any input: no panic, NaNs exactly
// for invalid input, and otherwise 0 <= Lo <= Hi <= 1; at the levels people
// use (0.8 and up; at 0.5 a Jeffreys bound is the posterior median, which
// can sit above p̂) the intervals contain p̂ and one-sided bounds lie below
// it.
func FuzzIntervals(f *testing.F) {
	for _, s := range []struct {
		c, n  int
		level float64
	}{{17, 20, 0.95}, {20, 20, 0.95}, {0, 20, 0.95}, {9, 10, 0.9}, {45, 50, 0.99}, {0, 0, 0.95}, {-1, 5, 0.95}, {6, 5, 0.5}, {3, 1_000_000_000, 0.95}, {5, 10, math.NaN()}} {
		f.Add(s.c, s.n, s.level)
	}
	f.Fuzz(func(t *testing.T, c, n int, level float64) {
		valid := n >= 0 && c >= 0 && c <= n && level > 0 && level < 1
		ivs := map[string]Interval{
			"Wilson": Wilson(c, n, level), "Jeffreys": Jeffreys(c, n, level), "ClopperPearson": ClopperPearson(c, n, level),
			"BetaPosterior": BetaPosterior(c, n, 1, 1, level),
		}
		lowers := map[string]float64{
			"WilsonLower": WilsonLower(c, n, level), "ClopperPearsonLower": ClopperPearsonLower(c, n, level), "JeffreysLower": JeffreysLower(c, n, level),
		}
		if !valid {
			for name, iv := range ivs {
				if iv.Valid() {
					t.Errorf("%s(%d, %d, %v) = %v for invalid input, want NaNs", name, c, n, level, iv)
				}
			}
			for name, lo := range lowers {
				if !math.IsNaN(lo) {
					t.Errorf("%s(%d, %d, %v) = %v for invalid input, want NaN", name, c, n, level, lo)
				}
			}
			return
		}
		phat := 0.5
		if n > 0 {
			phat = float64(c) / float64(n)
		}
		const eps = 1e-9
		for name, iv := range ivs {
			if !(iv.Lo >= 0 && iv.Hi <= 1 && iv.Lo <= iv.Hi) {
				t.Errorf("%s(%d, %d, %v) = %v, want 0 <= Lo <= Hi <= 1", name, c, n, level, iv)
			}
			if name != "BetaPosterior" && n > 0 && level >= 0.8 && !(iv.Lo <= phat+eps && phat <= iv.Hi+eps) {
				t.Errorf("%s(%d, %d, %v) = %v does not contain p̂ = %v", name, c, n, level, iv, phat)
			}
		}
		for name, lo := range lowers {
			if !(lo >= 0 && lo <= 1) || (n > 0 && level >= 0.8 && lo > phat+eps) {
				t.Errorf("%s(%d, %d, %v) = %v, want in [0, p̂ = %v]", name, c, n, level, lo, phat)
			}
		}
		if n >= 1 && n <= 1<<20 {
			for k := 1; k <= min(n, 4); k++ {
				at, hat := PassAtK(n, c, k), PassHatK(n, c, k)
				if !(hat >= 0 && hat <= at+eps && at <= 1) {
					t.Errorf("PassHatK(%d, %d, %d) = %v, PassAtK = %v, want 0 <= pass^k <= pass@k <= 1", n, c, k, hat, at)
				}
			}
		}
	})
}

// FuzzSequential feeds arbitrary configurations and outcome bits: no panic,
// and a decision once made never changes.
func FuzzSequential(f *testing.F) {
	f.Add(0.8, 0.9, 0.05, 0.2, 100, 0, uint64(0xfff0fff0))
	f.Add(0.5, 0.0, 0.1, 0.1, 30, 2, uint64(0))
	f.Add(0.8, 0.9, 0.05, 0.2, 0, 3, uint64(1))
	f.Add(math.NaN(), 0.9, 2.0, -1.0, -5, 9, uint64(7))
	f.Fuzz(func(t *testing.T, p0, p1, alpha, beta float64, maxTrials, method int, bits uint64) {
		if maxTrials > 10_000 {
			maxTrials = 10_000
		}
		s := NewSequential(SequentialConfig{P0: p0, P1: p1, Alpha: alpha, Beta: beta, MaxTrials: maxTrials, Method: SequentialMethod(method)})
		var final Decision
		for i := range 64 {
			d := s.Observe(bits>>i&1 == 1)
			if final != Continue && d != final {
				t.Fatalf("decision changed from %v to %v", final, d)
			}
			final = d
		}
		if iv := s.Interval(); s.Err() == nil && s.N() > 0 && !(iv.Lo <= iv.Hi && iv.Lo >= 0 && iv.Hi <= 1) {
			t.Errorf("Interval = %v", iv)
		}
	})
}
