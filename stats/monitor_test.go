package stats

import (
	"math"
	"testing"

	"github.com/probity/probity"
)

// TestCUSUMVector checks METHODS §5: p0 = 0.05, p1 = 0.10, h = 4; 20
// successes then failure, success, failure, failure, success, failure,
// failure, failure (x = 1 means failure) alarms at t = 28.
func TestCUSUMVector(t *testing.T) {
	c := NewCUSUM(CUSUMConfig{P0: 0.05, P1: 0.10})
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
	if !near(c.wFail, 0.693147, tol) || !near(c.wOK, -0.054067, tol) {
		t.Errorf("weights = %.6f, %.6f, want 0.693147, -0.054067", c.wFail, c.wOK)
	}
	for i := range 20 {
		if c.Observe(true) || c.Statistic() != 0 {
			t.Fatalf("trace %d: alarm or S = %v during in-control successes", i+1, c.Statistic())
		}
	}
	fails := []bool{true, false, true, true, false, true, true, true}
	want := []float64{0.693147, 0.639080, 1.332227, 2.025374, 1.971307, 2.664454, 3.357601, 4.050749}
	for i, failed := range fails {
		alarm := c.Observe(!failed)
		if got := c.Statistic(); !near(got, want[i], tol) {
			t.Errorf("trace %d: S = %.6f, want %.6f", 21+i, got, want[i])
		}
		if wantAlarm := i == len(fails)-1; alarm != wantAlarm {
			t.Errorf("trace %d: alarm = %v, want %v", 21+i, alarm, wantAlarm)
		}
	}
	if c.AlarmAt() != 28 || !c.Alarm() || c.N() != 28 {
		t.Errorf("AlarmAt = %d, Alarm = %v, N = %d, want 28, true, 28", c.AlarmAt(), c.Alarm(), c.N())
	}
	c.Reset()
	if c.Statistic() != 0 || c.AlarmAt() != 0 || c.Alarm() || c.N() != 0 {
		t.Errorf("after Reset: S=%v at=%d alarm=%v n=%d", c.Statistic(), c.AlarmAt(), c.Alarm(), c.N())
	}
}

// TestCUSUMRunLength checks METHODS §5's Monte Carlo tuning table for h = 4
// (ARL₀ 3960, delay 42.4 at p = 0.20) as statistical properties with fixed
// seeds.
func TestCUSUMRunLength(t *testing.T) {
	cfg := CUSUMConfig{P0: 0.05, P1: 0.10}
	// Run lengths are roughly geometric, so 500 runs give an SE of about
	// 4.5%; allow 3 SE.
	if arl := SimulateCUSUM(cfg, 0.05, 500, 1_000_000, 1); math.Abs(arl-3960)/3960 > 0.135 {
		t.Errorf("ARL₀ = %.0f, want about 3960", arl)
	} else {
		t.Logf("CUSUM h=4: ARL₀ = %.0f (METHODS: 3960)", arl)
	}
	if d := SimulateCUSUM(cfg, 0.20, 3000, 100_000, 2); !near(d, 42.4, 2) {
		t.Errorf("delay at p=0.20 = %.1f, want about 42.4", d)
	}
	if d := SimulateCUSUM(cfg, 0.10, 1500, 100_000, 3); !near(d, 157.6, 12) {
		t.Errorf("delay at p=0.10 = %.1f, want about 157.6", d)
	}
	h3 := cfg
	h3.H = 3
	if arl := SimulateCUSUM(h3, 0.05, 500, 1_000_000, 4); math.Abs(arl-1308)/1308 > 0.135 {
		t.Errorf("ARL₀(h=3) = %.0f, want about 1308", arl)
	}
}

func TestCUSUMInvalid(t *testing.T) {
	for _, cfg := range []CUSUMConfig{{}, {P0: 0.1, P1: 0.05}, {P0: 0.05, P1: 1}, {P0: 0.05, P1: 0.1, H: -1}, {P0: math.NaN(), P1: 0.1}} {
		if err := cfg.Validate(); probity.ErrorCode(err) != probity.EINVALID {
			t.Errorf("Validate(%+v) = %v, want EINVALID", cfg, err)
		}
		c := NewCUSUM(cfg)
		if c.Err() == nil || c.Observe(false) {
			t.Errorf("NewCUSUM(%+v): err %v; it must never alarm", cfg, c.Err())
		}
		if got := SimulateCUSUM(cfg, 0.1, 10, 10, 1); !math.IsNaN(got) {
			t.Errorf("SimulateCUSUM(%+v) = %v, want NaN", cfg, got)
		}
	}
}

// TestForgettingBeta checks METHODS §5: λ = 0.99 from Beta(1, 19), 200
// successes then failures at 1,0,0,1,0,1,0,0,1,1.
func TestForgettingBeta(t *testing.T) {
	f := ForgettingBeta{Lambda: 0.99, A: 1, B: 19}
	for range 200 {
		f.Observe(false)
	}
	for _, x := range []bool{true, false, false, true, false, true, false, false, true, true} {
		f.Observe(x)
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		{"A", f.A, 4.926762}, {"B", f.B, 85.379732},
		{"mean", f.Posterior().Mean(), 0.054556}, {"P(p > 0.05)", f.Posterior().ProbAbove(0.05), 0.522390},
	}
	for _, tt := range tests {
		if !near(tt.got, tt.want, tol) {
			t.Errorf("%s = %.7f, want %.6f", tt.name, tt.got, tt.want)
		}
	}
}

// TestWindow checks the window counts and METHODS §5's window vector
// (W = 100 with 12 failures: P(p > 0.05) = 0.998395 under Beta(1, 1)).
func TestWindow(t *testing.T) {
	w := NewWindow(100)
	for i := range 250 {
		// The last 100 observations hold 12 events.
		w.Observe(i < 150 && i%2 == 0 || i >= 150 && i%25 < 3)
	}
	if e, n := w.Counts(); e != 12 || n != 100 {
		t.Fatalf("Counts = %d, %d, want 12, 100", e, n)
	}
	if got := w.Posterior(1, 1).ProbAbove(0.05); !near(got, 0.998395, tol) {
		t.Errorf("P(p > 0.05) = %.7f, want 0.998395", got)
	}
	if got := w.Posterior(0, 1).Mean(); !math.IsNaN(got) {
		t.Errorf("Posterior(0, 1).Mean = %v, want NaN", got)
	}
	small := NewWindow(0)
	small.Observe(true)
	small.Observe(false)
	if e, n := small.Counts(); e != 0 || n != 1 {
		t.Errorf("NewWindow(0) counts = %d, %d, want 0, 1", e, n)
	}
}
