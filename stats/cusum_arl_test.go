package stats

import (
	"math"
	"testing"
)

// TestCUSUMARLMethods checks the Markov-chain ARL against METHODS §5's Monte
// Carlo table (p0 = 0.05, p1 = 0.10; 20,000 runs each, so about 0.7% standard
// error on the run lengths): the chain must land within 3 standard errors.
func TestCUSUMARLMethods(t *testing.T) {
	tests := []struct {
		h, p, want float64
	}{
		{3, 0.05, 1308}, {4, 0.05, 3960}, {4.5, 0.05, 6634},
		{3, 0.10, 112.3}, {4, 0.10, 157.6}, {4.5, 0.10, 182.5},
		{3, 0.20, 31.8}, {4, 0.20, 42.4}, {4.5, 0.20, 47.5},
	}
	for _, tt := range tests {
		got := CUSUMARL(CUSUMConfig{P0: 0.05, P1: 0.10, H: tt.h}, tt.p)
		if math.Abs(got-tt.want)/tt.want > 0.021 {
			t.Errorf("CUSUMARL(h=%v, p=%v) = %.1f, want %.1f ± 2.1%%", tt.h, tt.p, got, tt.want)
		}
	}
}

// TestCUSUMARLMatchesSimulation checks the chain against SimulateCUSUM for
// rates and shifts a monitor meets, including a rare event (0.2%) whose
// failure step dwarfs the success step, and the reverse.
func TestCUSUMARLMatchesSimulation(t *testing.T) {
	tests := []struct {
		cfg  CUSUMConfig
		p    float64
		runs int
	}{
		{CUSUMConfig{P0: 0.05, P1: 0.15, H: 3}, 0.05, 4000},
		{CUSUMConfig{P0: 0.05, P1: 0.15, H: 3}, 0.15, 4000},
		{CUSUMConfig{P0: 0.20, P1: 0.30, H: 2.5}, 0.20, 4000},
		{CUSUMConfig{P0: 0.20, P1: 0.30, H: 2.5}, 0.25, 4000},
		{CUSUMConfig{P0: 0.002, P1: 0.10, H: 5}, 0.002, 4000},
		{CUSUMConfig{P0: 0.002, P1: 0.10, H: 5}, 0.05, 4000},
		// A success step larger than the failure step: the CUSUM a
		// monitor uses to see a rate come back (successes at 0.85 → 0.95).
		{CUSUMConfig{P0: 0.85, P1: 0.95, H: 4}, 0.85, 4000},
		{CUSUMConfig{P0: 0.85, P1: 0.95, H: 4}, 0.95, 4000},
	}
	for i, tt := range tests {
		got := CUSUMARL(tt.cfg, tt.p)
		sim := SimulateCUSUM(tt.cfg, tt.p, tt.runs, 10_000_000, uint64(100+i))
		// Run lengths are close to geometric: SD ≈ mean, SE ≈ mean/√runs.
		se := sim / math.Sqrt(float64(tt.runs))
		if math.Abs(got-sim) > 3.5*se {
			t.Errorf("CUSUMARL(%+v, p=%v) = %.1f, simulation %.1f ± %.1f", tt.cfg, tt.p, got, sim, se)
		} else {
			t.Logf("CUSUMARL(%+v, p=%v) = %.1f, simulation %.1f ± %.1f", tt.cfg, tt.p, got, sim, se)
		}
	}
}

// TestCUSUMThreshold checks that the threshold found reaches the target ARL
// and that a threshold a little lower does not, and that guarding against a
// higher true rate raises h.
func TestCUSUMThreshold(t *testing.T) {
	for _, tt := range []struct{ p0, p1, p, arl float64 }{
		{0.05, 0.15, 0.05, 10_000},
		{0.05, 0.10, 0.05, 3960},
		{0.10, 0.20, 0.12, 10_000},
		{0.001, 0.101, 0.001, 20_000},
		{0.40, 0.50, 0.40, 1000},
		{0.85, 0.95, 0.85, 10_000},
	} {
		h := CUSUMThreshold(tt.p0, tt.p1, tt.p, tt.arl)
		cfg := CUSUMConfig{P0: tt.p0, P1: tt.p1, H: h}
		if got := CUSUMARL(cfg, tt.p); !(got >= tt.arl) {
			t.Errorf("CUSUMThreshold(%v) = %.4f with ARL %.0f, want ARL >= %v", tt, h, got, tt.arl)
		}
		cfg.H = h * 0.97
		if got := CUSUMARL(cfg, tt.p); got >= tt.arl {
			t.Errorf("CUSUMThreshold(%v) = %.4f, but 3%% lower still has ARL %.0f >= %v: not the smallest", tt, h, got, tt.arl)
		}
	}
	// METHODS: h = 4 gives ARL₀ ≈ 3960, so the threshold for 3960 is near 4.
	if h := CUSUMThreshold(0.05, 0.10, 0.05, 3960); math.Abs(h-4) > 0.05 {
		t.Errorf("CUSUMThreshold(0.05, 0.10, ARL 3960) = %.3f, want about 4", h)
	}
	if a, b := CUSUMThreshold(0.05, 0.15, 0.05, 1e4), CUSUMThreshold(0.05, 0.15, 0.07, 1e4); !(b > a) {
		t.Errorf("threshold guarding p = 0.07 (%.3f) should exceed the one for p = 0.05 (%.3f)", b, a)
	}
}

func TestCUSUMARLInvalid(t *testing.T) {
	if got := CUSUMARL(CUSUMConfig{P0: 0.1, P1: 0.05}, 0.1); !math.IsNaN(got) {
		t.Errorf("CUSUMARL(p1 < p0) = %v, want NaN", got)
	}
	if got := CUSUMARL(CUSUMConfig{P0: 0.05, P1: 0.1}, 1.5); !math.IsNaN(got) {
		t.Errorf("CUSUMARL(p = 1.5) = %v, want NaN", got)
	}
	if got := CUSUMARL(CUSUMConfig{P0: 0.05, P1: 0.1}, 0); !math.IsInf(got, 1) {
		t.Errorf("CUSUMARL(p = 0) = %v, want +Inf (never alarms)", got)
	}
	if got := CUSUMARL(CUSUMConfig{P0: 0.05, P1: 0.1, H: 1}, 1); got != 2 {
		t.Errorf("CUSUMARL(h = 1, p = 1) = %v, want 2 (two failures of log 2 each)", got)
	}
	for _, args := range [][4]float64{{0.05, 0.1, 0.05, 0}, {0.05, 0.1, 1, 100}, {0, 0.1, 0.05, 100}, {0.05, 0.1, 0.05, math.Inf(1)}} {
		if got := CUSUMThreshold(args[0], args[1], args[2], args[3]); !math.IsNaN(got) {
			t.Errorf("CUSUMThreshold(%v) = %v, want NaN", args, got)
		}
	}
}

func BenchmarkCUSUMThreshold(b *testing.B) {
	for b.Loop() {
		CUSUMThreshold(0.05, 0.15, 0.065, 10_000)
	}
}
