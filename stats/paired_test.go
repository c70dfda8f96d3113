package stats

import (
	"math"
	"testing"
)

// METHODS §3's table: a=35 both pass, b=9 A only, c=3 B only, d=3 both fail.
const (
	tn11, tn10, tn01, tn00 = 35, 9, 3, 3
)

func TestPairedVectors(t *testing.T) {
	s := Paired(tn00, tn01, tn10, tn11, 0.95)
	tests := []struct {
		name      string
		got, want float64
	}{
		{"Delta", s.Delta, 0.12},
		{"TwoSided", s.TwoSided, 0.145996},
		{"MidP", s.MidP, 0.092285},
		{"ChiSquareCC", s.ChiSquareCC, 2.083333},
		{"ChiSquareCCP", s.ChiSquareCCP, 0.148915},
		{"ChiSquare", s.ChiSquare, 3.0},
		{"ChiSquareP", s.ChiSquareP, 0.083265},
		{"OneSided", s.OneSided, 0.072998},
		{"SE", s.SE, 0.067171},
		{"CI.Lo", s.CI.Lo, -0.011654},
		{"CI.Hi", s.CI.Hi, 0.251654},
		{"PosteriorMean", s.PosteriorMean, 0.111111},
	}
	for _, tt := range tests {
		if !near(tt.got, tt.want, tol) {
			t.Errorf("Paired(35,9,3,3).%s = %.7f, want %.6f", tt.name, tt.got, tt.want)
		}
	}
	one, two := McNemarExact(tn10, tn01)
	if !near(one, 0.072998, tol) || !near(two, 0.145996, tol) {
		t.Errorf("McNemarExact(9, 3) = %.7f, %.7f, want 0.072998, 0.145996", one, two)
	}
	// Direction: B better than A is no evidence of a regression.
	if one, _ := McNemarExact(tn01, tn10); one < 0.9 {
		t.Errorf("McNemarExact(3, 9) one-sided = %v, want large (B improved)", one)
	}
}

func TestPairedPosteriorVectors(t *testing.T) {
	for _, tt := range []struct{ margin, want float64 }{
		{0, 0.953857}, {0.02, 0.917078}, {0.05, 0.823386}, {0.10, 0.562081},
	} {
		if got := PairedPosterior(tn00, tn01, tn10, tn11, tt.margin, 0, 0); !near(got, tt.want, tol) {
			t.Errorf("PairedPosterior(margin %.2f) = %.7f, want %.6f", tt.margin, got, tt.want)
		}
	}
	// P(Δ > 0) has the closed form P(Beta(10, 4) > ½).
	if got, want := PairedPosterior(tn00, tn01, tn10, tn11, 0, 0, 0), (BetaDist{10, 4}).ProbAbove(0.5); !near(got, want, 1e-9) {
		t.Errorf("PairedPosterior(0) = %.10f, want P(Beta(10,4) > ½) = %.10f", got, want)
	}
	mean, ci := PairedDeltaInterval(tn00, tn01, tn10, tn11, 0.95)
	if !near(mean, 0.111111, tol) || !nearIv(ci, Interval{-0.019015, 0.245502}, tol) {
		t.Errorf("PairedDeltaInterval = %.6f %v, want 0.111111 [-0.019015, 0.245502]", mean, ci)
	}
	// Monte Carlo agrees with the quadrature within its standard error
	// (√(0.25/200000) ≈ 0.0011; allow 4 SE).
	for _, m := range []float64{0, 0.05, -0.05} {
		exact := PairedPosterior(tn00, tn01, tn10, tn11, m, 0, 0)
		mc := PairedPosterior(tn00, tn01, tn10, tn11, m, 200000, 7)
		if !near(mc, exact, 0.0045) {
			t.Errorf("PairedPosterior(margin %v) MC = %.4f, exact %.4f", m, mc, exact)
		}
		if again := PairedPosterior(tn00, tn01, tn10, tn11, m, 200000, 7); again != mc {
			t.Errorf("PairedPosterior MC not deterministic: %v then %v", mc, again)
		}
	}
	// A large, concentrated posterior is still integrated correctly: Δ is
	// centred at 0.01 with SD about 0.0032, so P(Δ > 0.01) is about ½.
	if got := PairedPosterior(4000, 200, 300, 5500, 0.01, 0, 0); !near(got, 0.5, 0.02) {
		t.Errorf("PairedPosterior(n=10000, margin at the mean) = %v, want about 0.5", got)
	}
	if got := PairedPosterior(0, 0, 0, 0, 0, 0, 0); !near(got, 0.5, 1e-9) {
		t.Errorf("PairedPosterior(no data, 0) = %v, want 0.5 by symmetry", got)
	}
}

func TestPairedEdges(t *testing.T) {
	for _, in := range [][4]int{{-1, 0, 0, 0}, {0, -1, 0, 0}, {0, 0, -1, 0}, {0, 0, 0, -1}} {
		if got := PairedPosterior(in[0], in[1], in[2], in[3], 0, 0, 0); !math.IsNaN(got) {
			t.Errorf("PairedPosterior(%v) = %v, want NaN", in, got)
		}
		if got := Paired(in[0], in[1], in[2], in[3], 0.95); !math.IsNaN(got.SE) {
			t.Errorf("Paired(%v).SE = %v, want NaN", in, got.SE)
		}
	}
	for _, m := range []float64{-1, 1, math.NaN(), 2} {
		if got := PairedPosterior(3, 3, 9, 35, m, 0, 0); !math.IsNaN(got) {
			t.Errorf("PairedPosterior(margin %v) = %v, want NaN", m, got)
		}
	}
	if one, two := McNemarExact(0, 0); one != 1 || two != 1 {
		t.Errorf("McNemarExact(0, 0) = %v, %v, want 1, 1", one, two)
	}
	if one, two := McNemarExact(-1, 3); !math.IsNaN(one) || !math.IsNaN(two) {
		t.Errorf("McNemarExact(-1, 3) = %v, %v, want NaN", one, two)
	}
	if one, two := McNemarExact(60, 0); !near(one, math.Pow(0.5, 60), 1e-25) || !near(two, 2*math.Pow(0.5, 60), 1e-25) {
		t.Errorf("McNemarExact(60, 0) = %g, %g, want 2^-60, 2^-59", one, two)
	}
	if got := Paired(0, 0, 0, 0, 0.95); !math.IsNaN(got.Delta) {
		t.Errorf("Paired(empty).Delta = %v, want NaN", got.Delta)
	}
}

func TestSampleSize(t *testing.T) {
	for _, tt := range []struct{ disc, delta, want float64 }{
		{0.15, 0.05, 463.1}, {0.10, 0.05, 306.1}, {0.30, 0.05, 934.0}, {0.15, 0.03, 1300.3},
	} {
		if got := PairedSampleSize(tt.disc, tt.delta, 0.05, 0.8); !near(got, tt.want, 0.05) {
			t.Errorf("PairedSampleSize(%v, %v) = %.2f, want %.1f", tt.disc, tt.delta, got, tt.want)
		}
	}
	if got := math.Ceil(UnpairedSampleSize(0.80, 0.75, 0.05, 0.8)); got != 1091 {
		t.Errorf("UnpairedSampleSize(0.80, 0.75) = %v, want 1091", got)
	}
	if got := PairedSampleSize(0.1, 0.2, 0.05, 0.8); !math.IsNaN(got) {
		t.Errorf("PairedSampleSize(delta > discordance) = %v, want NaN", got)
	}
}
