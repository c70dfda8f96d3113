package stats

import (
	"math"
	"math/rand/v2"

	"github.com/probity/probity"
)

// CUSUMConfig tunes a Bernoulli CUSUM on the failure rate of production
// traces.
type CUSUMConfig struct {
	// P0 is the in-control failure rate (e.g. 0.05). Required, in (0, 1).
	P0 float64
	// P1 is the failure rate the alarm should catch quickly (> P0), the
	// design shift. Required, in (P0, 1).
	P1 float64
	// H is the alarm threshold on the statistic. Default 4: at P0 = 0.05,
	// P1 = 0.10 that gives an in-control average run length (ARL₀) of about
	// 3960 traces and alarms after about 158 traces at a failure rate of
	// 0.10 and 42 at 0.20 (METHODS §5). Raise H for fewer false alarms
	// (4.5: ARL₀ ≈ 6634), lower it for faster detection (3: ARL₀ ≈ 1308);
	// check a choice with SimulateCUSUM.
	H float64
}

func (c CUSUMConfig) withDefaults() CUSUMConfig {
	if c.H == 0 {
		c.H = 4
	}
	return c
}

// Validate reports an invalid configuration as a *probity.Error (EINVALID),
// after filling defaults.
func (c CUSUMConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case !(c.P0 > 0 && c.P0 < 1):
		return probity.Errorf(probity.EINVALID, "cusum: p0 = %v, want a failure rate strictly between 0 and 1", c.P0)
	case !(c.P1 > c.P0 && c.P1 < 1):
		return probity.Errorf(probity.EINVALID, "cusum: p1 = %v, want p0 < p1 < 1 (p0 = %v)", c.P1, c.P0)
	case !(c.H > 0) || math.IsInf(c.H, 0):
		return probity.Errorf(probity.EINVALID, "cusum: threshold h = %v, want a positive number", c.H)
	}
	return nil
}

// CUSUM is Page's (1954) Bernoulli CUSUM on the failure rate: after each
// trace, S = max(0, S + w), with w = log(P1/P0) for a failure and
// log((1−P1)/(1−P0)) for a success; it alarms when S >= H. It is a repeated
// SPRT tuned to the shift P0 → P1, and at comparable false-alarm rates it
// detects that shift faster than a sliding window (METHODS §5). Use it to
// alert on a production failure rate; stratify by task type, since a shift
// in traffic mix looks like a change in quality.
//
// After an alarm the statistic keeps running; call Reset once the alarm is
// handled. A CUSUM is not safe for concurrent use.
type CUSUM struct {
	cfg      CUSUMConfig
	err      error
	wFail    float64
	wOK      float64
	s        float64
	n        int
	alarmAt  int
	alarming bool
}

// NewCUSUM starts a CUSUM at S = 0. An invalid configuration does not panic:
// the CUSUM never alarms and Err reports why.
func NewCUSUM(cfg CUSUMConfig) *CUSUM {
	cfg = cfg.withDefaults()
	c := &CUSUM{cfg: cfg}
	if err := cfg.Validate(); err != nil {
		c.err = err
		return c
	}
	c.wFail = math.Log(cfg.P1 / cfg.P0)
	c.wOK = math.Log((1 - cfg.P1) / (1 - cfg.P0))
	return c
}

// Err returns the configuration error, or nil.
func (c *CUSUM) Err() error { return c.err }

// Config returns the configuration with defaults filled in.
func (c *CUSUM) Config() CUSUMConfig { return c.cfg }

// Observe records one trace, pass = true when it succeeded (the same
// convention as Sequential.Observe; the CUSUM counts failures), and reports
// whether the statistic is at or above the threshold.
func (c *CUSUM) Observe(pass bool) (alarm bool) {
	if c.err != nil {
		return false
	}
	c.n++
	w := c.wOK
	if !pass {
		w = c.wFail
	}
	c.s = math.Max(0, c.s+w)
	c.alarming = c.s >= c.cfg.H
	if c.alarming && c.alarmAt == 0 {
		c.alarmAt = c.n
	}
	return c.alarming
}

// Statistic returns the current CUSUM statistic S.
func (c *CUSUM) Statistic() float64 { return c.s }

// N returns the number of traces observed since the start or the last Reset.
func (c *CUSUM) N() int { return c.n }

// Alarm reports whether the statistic is at or above the threshold now.
func (c *CUSUM) Alarm() bool { return c.alarming }

// AlarmAt returns the trace number (1-based, since the last Reset) of the
// first alarm, or 0 when there was none.
func (c *CUSUM) AlarmAt() int { return c.alarmAt }

// Reset restarts the CUSUM at S = 0, e.g. after an alarm was handled.
func (c *CUSUM) Reset() { c.s, c.n, c.alarmAt, c.alarming = 0, 0, 0, false }

// SimulateCUSUM estimates the zero-state average run length of a CUSUM when
// the true failure rate is p: the mean number of traces until the first
// alarm over runs seeded simulations, each cut at maxSteps (so the estimate
// is a lower bound when runs are cut). With p = P0 this is ARL₀ (the
// traces between false alarms); with p > P0 it is the detection delay. It
// returns NaN for an invalid configuration or arguments.
func SimulateCUSUM(cfg CUSUMConfig, p float64, runs, maxSteps int, seed uint64) float64 {
	if cfg.withDefaults().Validate() != nil || !(p >= 0 && p <= 1) || runs < 1 || maxSteps < 1 {
		return math.NaN()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	total := 0
	for range runs {
		c := NewCUSUM(cfg)
		for c.n < maxSteps && !c.Observe(rng.Float64() >= p) {
		}
		total += c.n
	}
	return float64(total) / float64(runs)
}

// ForgettingBeta is a Beta posterior of an event rate with exponential
// forgetting, for dashboards (METHODS §5): after each observation
// A ← λA + x and B ← λB + (1−x), so old traces fade with an effective window
// of about 1/(1−λ) observations. Set A and B to the prior (e.g. A = 1,
// B = 19 for a rate near 5%). To track a failure rate, observe failures as
// events. It is a display, not an alarm: alert with CUSUM.
type ForgettingBeta struct {
	Lambda float64 // forgetting factor in (0, 1]; 1 never forgets
	A, B   float64 // current pseudo-counts of events and non-events
}

// Observe decays the counts by Lambda and adds one observation.
func (f *ForgettingBeta) Observe(event bool) {
	f.A *= f.Lambda
	f.B *= f.Lambda
	if event {
		f.A++
	} else {
		f.B++
	}
}

// Posterior returns the current Beta(A, B); its methods give the mean, an
// interval and P(rate > t).
func (f *ForgettingBeta) Posterior() BetaDist { return BetaDist{f.A, f.B} }

// Window counts events over the last W observations, for a windowed Beta
// posterior Beta(a0 + events, b0 + W − events) on a dashboard, or a count
// alarm "at least f* events in the last W" (METHODS §5).
type Window struct {
	ring   []bool
	next   int
	filled int
	events int
}

// NewWindow returns a window over the last w observations (w >= 1; a smaller
// w is treated as 1).
func NewWindow(w int) *Window { return &Window{ring: make([]bool, max(w, 1))} }

// Observe adds one observation, dropping the oldest once the window is full.
func (w *Window) Observe(event bool) {
	if w.filled == len(w.ring) && w.ring[w.next] {
		w.events--
	}
	w.ring[w.next] = event
	if event {
		w.events++
	}
	w.next = (w.next + 1) % len(w.ring)
	w.filled = min(w.filled+1, len(w.ring))
}

// Counts returns the events and observations currently in the window.
func (w *Window) Counts() (events, n int) { return w.events, w.filled }

// Posterior returns Beta(a0 + events, b0 + n − events) over the window, or a
// NaN distribution for a prior that is not positive.
func (w *Window) Posterior(a0, b0 float64) BetaDist {
	if !(a0 > 0) || !(b0 > 0) {
		return BetaDist{math.NaN(), math.NaN()}
	}
	return BetaDist{a0 + float64(w.events), b0 + float64(w.filled-w.events)}
}
