package monitor

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/stats"
)

// The measurement of issue 12, by simulation: false alarms and detection
// delay of the failure-rate monitor, and the CUSUM against a sliding-window
// count alarm at the same false-alarm rate.
// `go test ./monitor -run TestSimulated -v` takes about a minute of CPU;
// the figures in docs/monitors.md come from
// `go test ./monitor -run TestSimulated -v -sim.scale 5 -timeout 120m`.
var simScale = flag.Float64("sim.scale", 1, "multiply the simulation's run counts (5 for the documented table)")

// simRuns scales a run count by -sim.scale.
func simRuns(n int) int { return max(10, int(float64(n)**simScale)) }

// meanCI is a Monte Carlo mean with its 95% normal interval.
type meanCI struct {
	mean, lo, hi float64
	n            int
}

func newMeanCI(xs []float64) meanCI {
	n := float64(len(xs))
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= n
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	se := math.Sqrt(v / (n - 1) / n)
	return meanCI{m, m - 1.96*se, m + 1.96*se, len(xs)}
}

func (c meanCI) String() string {
	if c.mean >= 1000 {
		return fmt.Sprintf("%.0f [%.0f, %.0f]", c.mean, c.lo, c.hi)
	}
	return fmt.Sprintf("%.1f [%.1f, %.1f]", c.mean, c.lo, c.hi)
}

// simSeries runs the monitor's own series code: warm-up at p0, then
// traffic at p0 for inControl traces, then at p1. It returns the number of
// traces from the change to the alarm (the alarm's trace counted), or the
// negative number of traces after warm-up at which a false alarm came
// first; cap bounds the run.
func simSeries(tu *tuning, d *designer, rng *rand.Rand, p0, p1 float64, inControl, limit int) (delay int, s *series) {
	s = newSeries(tu, d, time.Unix(0, 0))
	i := 0
	step := func(p float64) bool {
		i++
		x := 0.0
		if rng.Float64() < p {
			x = 1
		}
		tr, _ := s.observe(tu, d, x, fmt.Sprint(i), time.Unix(int64(i), 0))
		return tr == fired
	}
	for range tu.Warmup {
		step(p0)
	}
	for k := 1; k <= inControl; k++ {
		if step(p0) {
			return -k, s
		}
	}
	for k := 1; k <= limit; k++ {
		if step(p1) {
			return k, s
		}
	}
	return limit, s
}

// simWindow runs the sliding-window alarm "at least c events among the
// last w": from an empty window, inControl traces at p0, then p1.
func simWindow(rng *rand.Rand, w, c int, p0, p1 float64, inControl, limit int) int {
	ring := make([]bool, w)
	events, i := 0, 0
	step := func(p float64) bool {
		x := rng.Float64() < p
		if ring[i%w] {
			events--
		}
		ring[i%w] = x
		if x {
			events++
		}
		i++
		return events >= c
	}
	for k := 1; k <= inControl; k++ {
		if step(p0) {
			return -k
		}
	}
	for k := 1; k <= limit; k++ {
		if step(p1) {
			return k
		}
	}
	return limit
}

// windowARL0 estimates the mean traces to a false alarm of a window alarm.
func windowARL0(rng *rand.Rand, w, c int, p0 float64, runs, limit int) meanCI {
	xs := make([]float64, runs)
	for r := range xs {
		xs[r] = float64(simWindow(rng, w, c, p0, p0, 0, limit))
	}
	return newMeanCI(xs)
}

type scenario struct{ p0, p1 float64 }

func (s scenario) String() string {
	return fmt.Sprintf("%.2f→%.2f (failure %.2f→%.2f)", 1-s.p0, 1-s.p1, s.p0, s.p1)
}

var scenarios = []scenario{{0.05, 0.15}, {0.10, 0.20}, {0.20, 0.30}}

// simCUSUM is the steady-state delay of a CUSUM with known p0: inControl
// traces at p0 (runs that alarm there are dropped), then p1.
func simCUSUM(rng *rand.Rand, cfg stats.CUSUMConfig, p0, p1 float64, inControl, runs int) meanCI {
	var ds []float64
	for range runs {
		c := stats.NewCUSUM(cfg)
		early := false
		for range inControl {
			if c.Observe(rng.Float64() >= p0) {
				early = true
				break
			}
		}
		if early {
			continue
		}
		for k := 1; k <= 100_000; k++ {
			if c.Observe(rng.Float64() >= p1) {
				ds = append(ds, float64(k))
				break
			}
		}
	}
	return newMeanCI(ds)
}

// TestSimulatedMethods compares the two alarm rules themselves at the same
// false-alarm rate, with the baseline rate known to both: for each window
// width, the smallest count whose ARL0 reaches 10,000 traces, then a CUSUM
// (tuned to p0 → p0 + 0.10) whose threshold gives exactly that window's
// measured ARL0. Both delays are steady-state: the change comes after 1,000
// in-control traces.
func TestSimulatedMethods(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("simulation: skipped with -short and under the race detector (no concurrency, ten times slower); .ci/run runs it without -race")
	}
	arlRuns, delayRuns := simRuns(150), simRuns(800)
	const target, inControl = 10_000, 1000
	var b strings.Builder
	fmt.Fprintf(&b, "known baseline, equal ARL0; runs %d (window ARL0), %d (each delay)\n", arlRuns, delayRuns)
	fmt.Fprintf(&b, "%-34s | %-14s | %-24s | %-9s | %-18s | %-18s | %s\n", "success (failure) rate", "window", "window ARL0", "CUSUM h", "window delay", "CUSUM delay", "window/CUSUM")
	for si, sc := range scenarios {
		rng := rand.New(rand.NewPCG(uint64(si+1), 7))
		var best, wide float64
		var bestCUSUM meanCI
		for _, w := range []int{50, 100, 200, 400, 1000} {
			c := int(math.Ceil(float64(w)*sc.p0 + 2*math.Sqrt(float64(w)*sc.p0*(1-sc.p0))))
			var arl meanCI
			for ; c <= w; c++ {
				if arl = windowARL0(rng, w, c, sc.p0, arlRuns, 40*target); arl.mean >= target {
					break
				}
			}
			cfg := stats.CUSUMConfig{P0: sc.p0, P1: sc.p0 + 0.10, H: stats.CUSUMThreshold(sc.p0, sc.p0+0.10, sc.p0, arl.mean)}
			var wd []float64
			for range delayRuns {
				if n := simWindow(rng, w, c, sc.p0, sc.p1, inControl+w, 100_000); n > 0 {
					wd = append(wd, float64(n))
				}
			}
			win := newMeanCI(wd)
			cus := simCUSUM(rng, cfg, sc.p0, sc.p1, inControl, delayRuns)
			ratio := win.mean / cus.mean
			fmt.Fprintf(&b, "%-34s | W=%-4d ≥%-5d | %-24s | %-9.3f | %-18s | %-18s | %.2f×\n", sc, w, c, arl, cfg.H, win, cus, ratio)
			if best == 0 || win.mean < best {
				best, bestCUSUM = win.mean, cus
			}
			if w == 1000 {
				wide = ratio
			}
		}
		// CUSUM is optimal for its design shift (Lorden 1971, Moustakides
		// 1986): no window may beat it beyond noise.
		if bestCUSUM.mean > 1.1*best {
			t.Errorf("%s: CUSUM delay %v is slower than the best window's %.1f", sc, bestCUSUM, best)
		}
		// The goal, 2× sooner, holds against long windows (a
		// window sized by time, as dashboards do) and not against a window
		// tuned to the shift; the table says how much sooner for each.
		if wide < 1.5 {
			t.Errorf("%s: against a 1000-trace window CUSUM is only %.2f× sooner", sc, wide)
		}
	}
	t.Log("\n" + b.String())
}

// TestSimulatedDetection measures the shipped failure-rate monitor as a
// whole: baseline estimated from a 500-trace warm-up with its interval,
// the CUSUM guarded at the interval's 90% upper bound and refined as
// in-control traces accumulate, BOCPD dating the change. ARL0 is the mean
// traces after the warm-up to a false alarm (runs capped at 40 × 10,000);
// delays are for a change 1,000 and 8,000 traces after the warm-up.
func TestSimulatedDetection(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("simulation: skipped with -short and under the race detector (no concurrency, ten times slower); .ci/run runs it without -race")
	}
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	tu := cfg.Monitors[0].tuning // failure-rate, at the defaults
	d := &designer{}
	arlRuns, delayRuns := simRuns(100), simRuns(300)
	var b strings.Builder
	fmt.Fprintf(&b, "defaults: ARL0 target %.0f, warm-up %d, shift +%.2f, guard %.2f; runs %d (ARL0), %d (each delay)\n",
		tu.ARL0, tu.Warmup, tu.Shift, tu.Guard, arlRuns, delayRuns)
	fmt.Fprintf(&b, "%-34s | %-24s | %-8s | %-8s | %-18s | %-18s | %s\n", "success (failure) rate", "ARL0 (mean traces)", "median", "P(FA<1k)", "delay, change@1k", "delay, change@8k", "BOCPD dating: median |error|, within ±25")
	for si, sc := range scenarios {
		rng := rand.New(rand.NewPCG(uint64(si+1), 42))
		limit := int(40 * tu.ARL0)
		arl := make([]float64, arlRuns)
		early := 0
		for r := range arl {
			n, _ := simSeries(&tu, d, rng, sc.p0, sc.p0, 0, limit)
			arl[r] = float64(n)
			if n <= 1000 {
				early++
			}
		}
		arlCI := newMeanCI(arl)
		sorted := slices.Sorted(slices.Values(arl))
		delay := func(inControl int) (meanCI, []float64) {
			var ds, errs []float64
			for range delayRuns {
				n, s := simSeries(&tu, d, rng, sc.p0, sc.p1, inControl, 100_000)
				if n < 0 {
					continue
				}
				ds = append(ds, float64(n))
				// BOCPD over the history costs more than the rest of a
				// run: date the change in half the runs at most.
				if inControl != 1000 || len(errs) >= delayRuns/2 {
					continue
				}
				dg := s.diagnose(&tu)
				errs = append(errs, math.Abs(float64(dg.change.At.Unix()-int64(tu.Warmup+inControl+1))))
			}
			return newMeanCI(ds), errs
		}
		d1, errs := delay(1000)
		d8, _ := delay(8000)
		slices.Sort(errs)
		within := 0
		for _, e := range errs {
			if e <= 25 {
				within++
			}
		}
		fmt.Fprintf(&b, "%-34s | %-24s | %-8.0f | %-8.3f | %-18s | %-18s | %.0f traces, %.0f%%\n",
			sc, arlCI, sorted[len(sorted)/2], float64(early)/float64(arlRuns), d1, d8, errs[len(errs)/2], 100*float64(within)/float64(len(errs)))
		if arlCI.mean < 10_000 {
			t.Errorf("%s: ARL0 %v, want >= 10,000", sc, arlCI)
		}
		if !(d8.mean < d1.mean*1.05) {
			t.Errorf("%s: refining the baseline should not slow detection: %v after 8k, %v after 1k", sc, d8, d1)
		}
	}
	t.Log("\n" + b.String())
}
