package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// tol is the tolerance for METHODS.md's exact test vectors, printed to 6
// decimals.
const tol = 1e-6

func near(got, want, eps float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= eps
}

func nearIv(got, want Interval, eps float64) bool {
	return near(got.Lo, want.Lo, eps) && near(got.Hi, want.Hi, eps)
}

// TestIntervalVectors checks METHODS §1's table of exact 95% intervals.
func TestIntervalVectors(t *testing.T) {
	tests := []struct {
		n, c                                        int
		wald, wilson, cp, jeffRaw, jeffBCD, uniform Interval
	}{
		{20, 17, Interval{0.693509, 1.006491}, Interval{0.639581, 0.947631}, Interval{0.621073, 0.967929},
			Interval{0.651422, 0.955869}, Interval{0.651422, 0.955869}, Interval{0.636576, 0.945536}},
		{20, 20, Interval{1, 1}, Interval{0.838875, 1}, Interval{0.831567, 1},
			Interval{0.883361, 0.999976}, Interval{0.883361, 1}, Interval{0.838902, 0.998795}},
		{20, 0, Interval{0, 0}, Interval{0, 0.161125}, Interval{0, 0.168433},
			Interval{0.000024, 0.116639}, Interval{0, 0.116639}, Interval{0.001205, 0.161098}},
		{10, 9, Interval{0.714061, 1.085939}, Interval{0.595850, 0.982124}, Interval{0.554984, 0.997471},
			Interval{0.618685, 0.988988}, Interval{0.618685, 0.988988}, Interval{0.587220, 0.977169}},
		{50, 45, Interval{0.816846, 0.983154}, Interval{0.786398, 0.956524}, Interval{0.781865, 0.966725},
			Interval{0.794645, 0.960806}, Interval{0.794645, 0.960806}, Interval{0.785855, 0.955580}},
	}
	for _, tt := range tests {
		check := func(name string, got, want Interval) {
			t.Helper()
			// The brief prints 6 decimals, so allow half a unit in the last
			// place on top of the 1e-6 tolerance.
			if !nearIv(got, want, tol+5e-7) {
				t.Errorf("%s(c=%d, n=%d, 0.95) = [%.7f, %.7f], want [%.6f, %.6f]", name, tt.c, tt.n, got.Lo, got.Hi, want.Lo, want.Hi)
			}
		}
		check("Wald", Wald(tt.c, tt.n, 0.95), tt.wald)
		check("Wilson", Wilson(tt.c, tt.n, 0.95), tt.wilson)
		check("ClopperPearson", ClopperPearson(tt.c, tt.n, 0.95), tt.cp)
		check("BetaPosterior(½,½)", BetaPosterior(tt.c, tt.n, 0.5, 0.5, 0.95), tt.jeffRaw)
		check("Jeffreys", Jeffreys(tt.c, tt.n, 0.95), tt.jeffBCD)
		check("BetaPosterior(1,1)", BetaPosterior(tt.c, tt.n, 1, 1, 0.95), tt.uniform)
	}
}

// TestPointVectors checks METHODS §1's further vectors for n=20, c=17, the
// 30/30 bound, and §5's window vectors.
func TestPointVectors(t *testing.T) {
	tests := []struct {
		name      string
		got, want float64
	}{
		{"PosteriorMean Jeffreys", PosteriorMean(17, 20, 0.5, 0.5), 0.833333},
		{"PosteriorMean uniform", PosteriorMean(17, 20, 1, 1), 0.818182},
		{"ProbAbove Jeffreys 0.8", ProbAbove(17, 20, 0.5, 0.5, 0.8), 0.696954},
		{"ProbAbove uniform 0.8", ProbAbove(17, 20, 1, 1, 0.8), 0.629624},
		{"WilsonLower 95%", WilsonLower(17, 20, 0.95), 0.678172},
		{"ClopperPearsonLower 95%", ClopperPearsonLower(17, 20, 0.95), 0.656336},
		{"JeffreysLower 95%", JeffreysLower(17, 20, 0.95), 0.686320},
		{"ClopperPearsonLower 30/30", ClopperPearsonLower(30, 30, 0.95), math.Pow(0.05, 1.0/30)},
		{"ClopperPearsonLower 30/30 vector", ClopperPearsonLower(30, 30, 0.95), 0.904966},
		// §5 window: W=100, f=12 failures.
		{"ProbAbove window", ProbAbove(12, 100, 1, 1, 0.05), 0.998395},
		{"JeffreysLower window", JeffreysLower(12, 100, 0.95), 0.074667},
	}
	for _, tt := range tests {
		if !near(tt.got, tt.want, tol) {
			t.Errorf("%s = %.7f, want %.6f", tt.name, tt.got, tt.want)
		}
	}
}

// TestIntervalEdges checks that no input panics and that invalid input gives
// NaN as documented.
func TestIntervalEdges(t *testing.T) {
	nan := math.NaN()
	bad := []struct {
		c, n  int
		level float64
	}{
		{-1, 10, 0.95}, {11, 10, 0.95}, {0, -1, 0.95}, {5, 10, 0}, {5, 10, 1}, {5, 10, nan}, {5, 10, -0.5}, {5, 10, 1.5},
	}
	funcs := map[string]func(c, n int, level float64) Interval{
		"Wilson": Wilson, "Jeffreys": Jeffreys, "ClopperPearson": ClopperPearson, "Wald": Wald,
		"BetaPosterior": func(c, n int, l float64) Interval { return BetaPosterior(c, n, 1, 1, l) },
	}
	lowers := map[string]func(c, n int, level float64) float64{
		"WilsonLower": WilsonLower, "ClopperPearsonLower": ClopperPearsonLower, "JeffreysLower": JeffreysLower,
	}
	for _, b := range bad {
		for name, f := range funcs {
			if got := f(b.c, b.n, b.level); got.Valid() {
				t.Errorf("%s(%d, %d, %v) = %v, want NaNs", name, b.c, b.n, b.level, got)
			}
		}
		for name, f := range lowers {
			if got := f(b.c, b.n, b.level); !math.IsNaN(got) {
				t.Errorf("%s(%d, %d, %v) = %v, want NaN", name, b.c, b.n, b.level, got)
			}
		}
	}
	// n = 0: no information.
	for name, f := range map[string]func(c, n int, level float64) Interval{"Wilson": Wilson, "Jeffreys": Jeffreys, "ClopperPearson": ClopperPearson} {
		if got := f(0, 0, 0.95); got != (Interval{0, 1}) {
			t.Errorf("%s(0, 0, 0.95) = %v, want [0, 1]", name, got)
		}
	}
	if got := Wald(0, 0, 0.95); got.Valid() {
		t.Errorf("Wald(0, 0) = %v, want NaNs", got)
	}
	if got, want := BetaPosterior(0, 0, 1, 1, 0.95), (Interval{0.025, 0.975}); !nearIv(got, want, 1e-12) {
		t.Errorf("BetaPosterior(0, 0, 1, 1) = %v, want the prior's %v", got, want)
	}
	for _, p := range []struct{ a0, b0, t float64 }{{0, 1, 0.5}, {1, -1, 0.5}, {1, 1, nan}, {nan, 1, 0.5}} {
		if got := ProbAbove(3, 10, p.a0, p.b0, p.t); !math.IsNaN(got) {
			t.Errorf("ProbAbove(3, 10, %v, %v, %v) = %v, want NaN", p.a0, p.b0, p.t, got)
		}
	}
	if got := ProbAbove(3, 10, 1, 1, 1.5); got != 0 {
		t.Errorf("ProbAbove(t=1.5) = %v, want 0", got)
	}
	if got := ProbAbove(3, 10, 1, 1, -0.5); got != 1 {
		t.Errorf("ProbAbove(t=-0.5) = %v, want 1", got)
	}
	// Large n must not overflow.
	if got := Wilson(999_990, 1_000_000, 0.95); !got.Contains(0.99999) || got.Width() > 1e-4 {
		t.Errorf("Wilson(999990, 1e6) = %v", got)
	}
	if got := ClopperPearson(999_990, 1_000_000, 0.95); !got.Contains(0.99999) || got.Width() > 1e-4 {
		t.Errorf("ClopperPearson(999990, 1e6) = %v", got)
	}
}

// TestCoverage simulates binomial data at several true rates and checks
// that Wilson and Jeffreys cover the true rate at about 95% and Clopper–
// Pearson at no less (METHODS §1 measured mean coverage 0.95–0.954 and CP
// 0.97–0.98 over p in [0.5, 0.995]).
func TestCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const reps = 2000
	rates := []float64{0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95}
	for _, n := range []int{10, 20, 50} {
		var wil, jef, cp, total int
		for _, p := range rates {
			for range reps {
				c := 0
				for range n {
					if rng.Float64() < p {
						c++
					}
				}
				total++
				if Wilson(c, n, 0.95).Contains(p) {
					wil++
				}
				if Jeffreys(c, n, 0.95).Contains(p) {
					jef++
				}
				if ClopperPearson(c, n, 0.95).Contains(p) {
					cp++
				}
			}
		}
		// Averaged over rates the coverage is near 0.95; binomial
		// discreteness at a fixed rate moves it by a few points, and 14,000
		// draws have an SE of 0.002, so ±0.02 is a generous but failing bound
		// for an interval that is systematically off.
		for _, r := range []struct {
			name   string
			hits   int
			lo, hi float64
		}{{"Wilson", wil, 0.93, 0.975}, {"Jeffreys", jef, 0.93, 0.975}, {"ClopperPearson", cp, 0.955, 1}} {
			cov := float64(r.hits) / float64(total)
			t.Logf("n=%d: %s 95%% interval covered the true rate in %.4f of %d simulated runs", n, r.name, cov, total)
			if cov < r.lo || cov > r.hi {
				t.Errorf("n=%d: %s coverage = %.4f, want in [%.3f, %.3f]", n, r.name, cov, r.lo, r.hi)
			}
		}
	}
}

func TestWilsonEffective(t *testing.T) {
	for _, in := range []struct{ c, n int }{{17, 20}, {0, 20}, {20, 20}, {9, 10}} {
		if got, want := WilsonEffective(float64(in.c)/float64(in.n), float64(in.n), 0.95), Wilson(in.c, in.n, 0.95); !nearIv(got, want, 1e-12) {
			t.Errorf("WilsonEffective(%d/%d) = %v, want Wilson's %v", in.c, in.n, got, want)
		}
	}
	if got, want := WilsonEffectiveLower(0.85, 20, 0.95), WilsonLower(17, 20, 0.95); !near(got, want, 1e-12) {
		t.Errorf("WilsonEffectiveLower = %v, want %v", got, want)
	}
	// Fewer effective trials give a wider interval.
	if a, b := WilsonEffective(0.42, 200, 0.95), WilsonEffective(0.42, 90.5, 0.95); !(b.Lo < a.Lo && b.Hi > a.Hi) {
		t.Errorf("n_eff 90.5 interval %v should contain the n=200 one %v", b, a)
	}
	for _, in := range [][2]float64{{-0.1, 10}, {1.1, 10}, {0.5, 0}, {0.5, math.Inf(1)}, {math.NaN(), 10}} {
		if got := WilsonEffective(in[0], in[1], 0.95); got.Valid() {
			t.Errorf("WilsonEffective(%v, %v) = %v, want NaNs", in[0], in[1], got)
		}
		if got := WilsonEffectiveLower(in[0], in[1], 0.95); !math.IsNaN(got) {
			t.Errorf("WilsonEffectiveLower(%v, %v) = %v, want NaN", in[0], in[1], got)
		}
	}
}

func TestIntervalString(t *testing.T) {
	if got, want := Wilson(17, 20, 0.95).String(), "[0.6396, 0.9476]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := nanInterval.String(), "[NaN, NaN]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestBetaDist(t *testing.T) {
	// §5 forgetting vector: a = 4.926762, b = 85.379732.
	d := BetaDist{4.926762, 85.379732}
	if got, want := d.Mean(), 0.054556; !near(got, want, tol) {
		t.Errorf("Mean = %.7f, want %.6f", got, want)
	}
	if got, want := d.ProbAbove(0.05), 0.522390; !near(got, want, 2e-6) {
		t.Errorf("ProbAbove(0.05) = %.7f, want %.6f", got, want)
	}
	if got := (BetaDist{0, 1}).Quantile(0.5); !math.IsNaN(got) {
		t.Errorf("Beta(0,1).Quantile = %v, want NaN", got)
	}
	if got := (BetaDist{2, 3}).Quantile(1.5); !math.IsNaN(got) {
		t.Errorf("Quantile(1.5) = %v, want NaN", got)
	}
}

// TestCoverageExact reproduces METHODS §1's exact coverage table: the mean
// and minimum coverage of nominal 95% intervals over the 991 rates
// p = 0.5, 0.5005, …, 0.995, by summing the binomial distribution (no
// simulation), and the mean widths. The 4-decimal values are the output of
// the brief's coverage.py, whose 3-decimal rounding the brief prints.
func TestCoverageExact(t *testing.T) {
	methods := []struct {
		name string
		f    func(c, n int) Interval
	}{
		{"Wald", func(c, n int) Interval { return Wald(c, n, 0.95) }},
		{"Wilson", func(c, n int) Interval { return Wilson(c, n, 0.95) }},
		{"ClopperPearson", func(c, n int) Interval { return ClopperPearson(c, n, 0.95) }},
		{"Jeffreys", func(c, n int) Interval { return Jeffreys(c, n, 0.95) }},
		{"Uniform", func(c, n int) Interval { return BetaPosterior(c, n, 1, 1, 0.95) }},
	}
	want := map[int][5][3]float64{ // mean coverage, min coverage, mean width
		10: {{0.7764, 0.0489, 0.4319}, {0.9539, 0.8382, 0.4370}, {0.9836, 0.9610, 0.5104}, {0.9529, 0.8681, 0.4346}, {0.9544, 0.7965, 0.4418}},
		20: {{0.8535, 0.0954, 0.3270}, {0.9531, 0.8431, 0.3269}, {0.9768, 0.9580, 0.3680}, {0.9512, 0.8937, 0.3246}, {0.9525, 0.7935, 0.3284}},
		50: {{0.9082, 0.2217, 0.2148}, {0.9519, 0.8951, 0.2143}, {0.9690, 0.9509, 0.2321}, {0.9500, 0.8842, 0.2132}, {0.9516, 0.8789, 0.2145}},
	}
	for n, rows := range want {
		pmf := func(c int, p float64) float64 {
			return math.Exp(lchoose(n, c) + float64(c)*math.Log(p) + float64(n-c)*math.Log1p(-p))
		}
		for i, m := range methods {
			ivs := make([]Interval, n+1)
			for c := range ivs {
				ivs[c] = m.f(c, n)
			}
			var sum, width float64
			minCov := 1.0
			const grid = 991
			for g := range grid {
				p := 0.5 + 0.0005*float64(g)
				cov := 0.0
				for c, iv := range ivs {
					w := pmf(c, p)
					if iv.Lo <= p && p <= iv.Hi {
						cov += w
					}
					width += w * iv.Width()
				}
				sum += cov
				minCov = math.Min(minCov, cov)
			}
			got := [3]float64{sum / grid, minCov, width / grid}
			for j, label := range []string{"mean coverage", "min coverage", "mean width"} {
				if !near(got[j], rows[i][j], 1.5e-4) {
					t.Errorf("n=%d %s: %s = %.5f, want %.4f", n, m.name, label, got[j], rows[i][j])
				}
			}
		}
	}
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}
