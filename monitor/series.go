package monitor

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/probity/probity/stats"
)

// tuning is the statistical configuration of one monitor, resolved from
// the monitors file.
type tuning struct {
	ARL0   float64 // target mean traces between false alarms
	Warmup int     // traces in the baseline estimate
	Shift  float64 // design shift p1 = p0 + Shift (when Ratio is 0)
	Ratio  float64 // design shift p1 = p0 · Ratio
	// Guard is the one-sided level of the baseline's upper bound at which
	// ARL0 is guaranteed.
	Guard float64
	// Baseline fixes the baseline rate (no warm-up) when > 0.
	Baseline float64
	// Continuous monitors (cost, latency) turn a value into an event by a
	// threshold: Above when set, else the Quantile of the warm-up values.
	Continuous bool
	Above      *float64
	Quantile   float64
	History    int // observations kept for diagnosis
	Window     int // observations in the dashboard rate
	Examples   int // example trace ids in an alert
}

// designer computes CUSUM thresholds: h of a CUSUM tuned to p0 → p1 with
// ARL₀ >= arl0 at the true rate guard. Each solves a Markov chain, so they
// are memoised: groups with the same counts share them.
type designer struct {
	mu   sync.Mutex
	memo map[[4]float64]float64
}

func (d *designer) threshold(p0, p1, guard, arl0 float64) float64 {
	key := [4]float64{p0, p1, guard, arl0}
	d.mu.Lock()
	v, ok := d.memo[key]
	d.mu.Unlock()
	if ok {
		return v
	}
	v = finiteThreshold(stats.CUSUMThreshold(p0, p1, guard, arl0))
	d.mu.Lock()
	if d.memo == nil || len(d.memo) > 4096 {
		d.memo = map[[4]float64]float64{}
	}
	d.memo[key] = v
	d.mu.Unlock()
	return v
}

// resolveThreshold is the threshold of the CUSUM that watches successes
// for a return from p1 to p0, with a mean of arl0 traces to a false
// resolution while the rate stays at p1.
func (d *designer) resolveThreshold(p0, p1, arl0 float64) float64 {
	return d.threshold(1-p1, 1-p0, 1-p1, arl0)
}

// neverAlarm stands for a threshold no statistic reaches: the chain could
// not be solved (a rate within a hair of 1), so the CUSUM stays silent
// rather than alarm at a guessed threshold. JSON has no +Inf.
const neverAlarm = 1e300

func finiteThreshold(h float64) float64 {
	if math.IsNaN(h) || math.IsInf(h, 0) {
		return neverAlarm
	}
	return h
}

// series is the state of one monitor for one group. Its fields are
// exported for its JSON checkpoint (SeriesRecord.Data); the type is not.
type series struct {
	V int   `json:"v"`
	N int64 `json:"n"` // observations since the series started
	// Warm collects a baseline estimate: the first one, or a fresh one
	// after an alert resolved.
	Warm *warmup   `json:"warm,omitempty"`
	Base *baseline `json:"base,omitempty"`
	// S is the alarm CUSUM, R the resolving one while an alert fires.
	S      float64 `json:"s"`
	Firing *Alert  `json:"firing,omitempty"`
	R      float64 `json:"r"`
	Hist   history `json:"hist"`
	// Bucket counts the open time bucket of the series' history; the
	// engine writes it as a Point at each checkpoint, and keeping it in
	// the checkpoint lets a restarted engine go on counting it.
	Bucket *bucket `json:"bucket,omitempty"`
}

// bucket is the open time bucket of a series' history.
type bucket struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	N      int       `json:"n"`
	Events int       `json:"events"`
}

// eventOf says whether value x is an event as the next observe will count
// it, and false for known while a cost or latency monitor has no threshold
// yet (its warm-up is still collecting values to take a quantile of).
func (s *series) eventOf(tu *tuning, x float64) (event, known bool) {
	switch {
	case s.Base != nil:
		return x > s.Base.Threshold, true
	case !tu.Continuous || tu.Above != nil:
		return x > thresholdOf(tu), true
	}
	return false, false
}

const seriesVersion = 1

type warmup struct {
	N      int       `json:"n"`
	Events int       `json:"events"`
	Values []float64 `json:"values,omitempty"` // continuous monitors without a fixed threshold
	Since  time.Time `json:"since"`
	// Hold suspends alarms until the estimate is done: after a person
	// resolved an alert, the old baseline no longer applies.
	Hold bool `json:"hold,omitempty"`
}

type baseline struct {
	Rate      Rate      `json:"rate"`
	Threshold float64   `json:"threshold"` // event iff value > Threshold
	P0        float64   `json:"p0"`
	P1        float64   `json:"p1"`
	Guard     float64   `json:"guard"`
	H         float64   `json:"h"`
	HR        float64   `json:"hr,omitempty"` // set when an alert fires
	Since     time.Time `json:"since"`
	// Refine grows the estimate while the rate stays in control: traces
	// are held in Pending until the CUSUM is back at zero (so a change in
	// progress is not absorbed), then join the counts, and at each
	// doubling of the counts (up to refineFactor × the warm-up) the CUSUM
	// is designed again on the larger sample, with a narrower interval.
	Refine   bool `json:"refine,omitempty"`
	PendN    int  `json:"pend_n,omitempty"`
	PendE    int  `json:"pend_e,omitempty"`
	CountN   int  `json:"count_n,omitempty"`
	CountE   int  `json:"count_e,omitempty"`
	RefineAt int  `json:"refine_at,omitempty"`
}

// refineFactor bounds the refined baseline at this many warm-ups: past it
// the estimate is fixed, so a slow drift below the design shift cannot be
// absorbed for ever.
const refineFactor = 16

func newSeries(tu *tuning, d *designer, at time.Time) *series {
	s := &series{V: seriesVersion, Hist: newHistory(tu.History)}
	if tu.Baseline > 0 {
		thr := 0.5
		if tu.Above != nil {
			thr = *tu.Above
		}
		r := Rate{Rate: tu.Baseline, Lo: tu.Baseline, Hi: tu.Baseline}
		s.Base = newBaseline(tu, d, r, tu.Baseline, thr, at)
		return s
	}
	s.Warm = &warmup{Since: at}
	return s
}

// newBaseline designs the CUSUMs for an estimated rate r whose guard is
// the rate at which ARL₀ must hold.
func newBaseline(tu *tuning, d *designer, r Rate, guard, threshold float64, at time.Time) *baseline {
	// Design on a 2% grid of rates, the guard rounded up: the estimate's
	// own error is ten times larger, and groups with nearby rates then
	// share one (memoised) threshold computation.
	p0 := gridRate(r.Rate, false)
	guard = gridRate(guard, true)
	p1 := p0 + tu.Shift
	if tu.Ratio > 0 {
		p1 = p0 * tu.Ratio
	}
	// Keep p1 a rate above p0: halfway to 1 at most.
	p1 = math.Min(p1, (1+p0)/2)
	guard = math.Max(guard, p0)
	guard = math.Min(guard, (p0+p1)/2)
	h := d.threshold(p0, p1, guard, tu.ARL0)
	return &baseline{Rate: r, Threshold: threshold, P0: p0, P1: p1, Guard: guard, H: h, Since: at}
}

// gridRate rounds a rate in (0, 1) to a 2% logarithmic grid, up or to the
// nearest point.
func gridRate(x float64, up bool) float64 {
	if !(x > 0 && x < 1) {
		return x
	}
	l := math.Log(x) / math.Log(1.02)
	if up {
		l = math.Ceil(l - 1e-9)
	} else {
		l = math.Round(l)
	}
	return math.Min(math.Pow(1.02, l), 0.999)
}

// estimate turns a finished warm-up into a baseline. A binary rate (or a
// value above a fixed threshold) gets the Jeffreys posterior of the events
// counted. A value above the warm-up's own q-quantile, the r-th order
// statistic of n values, is exceeded by a new value with probability
// U ~ Beta(n − r + 1, r) whatever the distribution, so that Beta is the
// baseline's posterior and its interval is exact.
func (w *warmup) estimate(tu *tuning, d *designer, at time.Time) *baseline {
	if !tu.Continuous || tu.Above != nil {
		thr := 0.5
		if tu.Above != nil {
			thr = *tu.Above
		}
		b := estimateCounts(tu, d, w.Events, w.N, thr, at)
		b.Refine, b.CountN, b.CountE, b.RefineAt = true, w.N, w.Events, 2*w.N
		return b
	}
	vals := slices.Clone(w.Values)
	slices.Sort(vals)
	n := len(vals)
	rank := min(n, max(1, int(math.Ceil(tu.Quantile*float64(n)))))
	thr := vals[rank-1]
	events := 0
	for _, v := range vals {
		if v > thr {
			events++
		}
	}
	u := stats.BetaDist{A: float64(n - rank + 1), B: float64(rank)}
	iv := u.EqualTailed(0.95)
	r := Rate{Rate: u.Mean(), Lo: iv.Lo, Hi: iv.Hi, Events: events, N: n}
	return newBaseline(tu, d, r, u.Quantile(tu.Guard), thr, at)
}

// estimateCounts designs a baseline on events of n, guarding ARL₀ at the
// Guard-level upper bound of the Jeffreys posterior.
func estimateCounts(tu *tuning, d *designer, events, n int, thr float64, at time.Time) *baseline {
	r := jeffreysRate(events, n)
	guard := stats.BetaDist{A: float64(events) + 0.5, B: float64(n-events) + 0.5}.Quantile(tu.Guard)
	return newBaseline(tu, d, r, guard, thr, at)
}

// refine counts one in-control trace towards the baseline and designs the
// CUSUM again when the counts have doubled.
func (s *series) refine(tu *tuning, d *designer, event bool, at time.Time) {
	b := s.Base
	if !b.Refine {
		return
	}
	b.PendN++
	if event {
		b.PendE++
	}
	if s.S > 0 {
		return
	}
	b.CountN, b.CountE, b.PendN, b.PendE = b.CountN+b.PendN, b.CountE+b.PendE, 0, 0
	if b.CountN < b.RefineAt {
		return
	}
	nb := estimateCounts(tu, d, b.CountE, b.CountN, b.Threshold, b.Since)
	nb.CountN, nb.CountE = b.CountN, b.CountE
	if nb.RefineAt = 2 * b.RefineAt; nb.RefineAt <= refineFactor*tu.Warmup {
		nb.Refine = true
	}
	s.Base = nb
}

// transition is what one observation did to a series.
type transition int

const (
	noChange transition = iota
	fired
	resolved
)

// observe adds one observation with value x (0/1 for rates) of trace id at
// time at. It returns fired with s.Firing set to the new alert, or resolved
// with the resolved alert.
func (s *series) observe(tu *tuning, d *designer, x float64, id string, at time.Time) (transition, *Alert) {
	s.N++
	event := false
	if s.Base != nil {
		event = x > s.Base.Threshold
	} else if !tu.Continuous {
		event = x > 0.5
	}
	keepID := ""
	if event {
		keepID = id
	}
	s.Hist.add(at, x, keepID)
	if w := s.Warm; w != nil {
		w.N++
		if tu.Continuous && tu.Above == nil {
			w.Values = append(w.Values, x)
		} else if x > thresholdOf(tu) {
			w.Events++
		}
		if w.N >= tu.Warmup {
			first := s.Base == nil
			s.Base = w.estimate(tu, d, at)
			s.Warm, s.S = nil, 0
			if first {
				return noChange, nil
			}
		} else if s.Base == nil || w.Hold {
			return noChange, nil
		}
	}
	b := s.Base
	if s.Firing != nil {
		// The resolving CUSUM watches successes for a return from p1 to
		// p0: each non-event adds log((1−p0)/(1−p1)) > 0.
		w := math.Log(b.P0 / b.P1)
		if !event {
			w = math.Log((1 - b.P0) / (1 - b.P1))
		}
		s.R = math.Max(0, s.R+w)
		if s.R < b.HR {
			return noChange, nil
		}
		a := *s.Firing
		a.State = AlertResolved
		t := at
		a.ResolvedAt = &t
		a.Resolution = "recovered"
		s.Firing, s.R, s.S = nil, 0, 0
		s.Warm = &warmup{Since: at}
		return resolved, &a
	}
	w := math.Log((1 - b.P1) / (1 - b.P0))
	if event {
		w = math.Log(b.P1 / b.P0)
	}
	s.S = math.Max(0, s.S+w)
	if s.S >= b.H {
		return fired, nil
	}
	if s.Warm == nil {
		s.refine(tu, d, event, at)
	}
	return noChange, nil
}

func thresholdOf(tu *tuning) float64 {
	if tu.Above != nil {
		return *tu.Above
	}
	return 0.5
}

// fire makes a the series' firing alert: the alarm CUSUM rests and the
// resolving one starts, and a baseline estimate in progress is dropped,
// since its traces straddle the change.
func (s *series) fire(tu *tuning, d *designer, a *Alert) {
	s.Firing, s.R, s.S, s.Warm = a, 0, 0, nil
	s.Base.HR = d.resolveThreshold(s.Base.P0, s.Base.P1, tu.ARL0)
}

// resolveManually ends a firing alert on a person's word: the old baseline
// no longer applies, so alarms wait for a fresh estimate.
func (s *series) resolveManually(note string, at time.Time) *Alert {
	if s.Firing == nil {
		return nil
	}
	a := *s.Firing
	a.State = AlertResolved
	t := at
	a.ResolvedAt = &t
	a.Resolution = "manual"
	if note != "" {
		a.Resolution += ": " + note
	}
	s.Firing, s.R, s.S = nil, 0, 0
	s.Warm = &warmup{Since: at, Hold: true}
	return &a
}

// diagnosis is what BOCPD and the history say about a change at an alarm.
type diagnosis struct {
	change        ChangeEstimate
	before, after Rate
	examples      []string
}

// bocpdHazard is the prior probability of a change at each trace: one
// change per thousand traces, as METHODS §5's simulation used.
const bocpdHazard = 1e-3

// diagnose dates the change with BOCPD over the recent history and
// measures the rate on either side of it.
func (s *series) diagnose(tu *tuning) diagnosis {
	h := s.Hist.entries()
	thr := s.Base.Threshold
	// A new run's prior is centred on the baseline with the weight of two
	// traces, so a short burst is not taken for a new regime on its own.
	p0 := s.Base.P0
	det := stats.NewBOCPD(stats.BOCPDConfig{A0: 2 * p0, B0: 2 * (1 - p0), Hazard: bocpdHazard})
	for _, e := range h {
		det.Observe(!(e.x > thr))
	}
	n := len(h)
	// The CUSUM alarmed, so a change happened: condition the run-length
	// posterior on a change within the history (run length < n). Without
	// that, one run over the whole history often stays the single most
	// probable explanation when the change is a few dozen traces old.
	probs := det.RunLengthProbs()
	if len(probs) > n {
		probs = probs[:n]
	}
	total := 0.0
	for _, p := range probs[1:] {
		total += p
	}
	rMAP := 1
	for r := 1; r < len(probs); r++ {
		if probs[r] > probs[rMAP] {
			rMAP = r
		}
	}
	if total <= 0 {
		rMAP, total = n, 1
	}
	// The 90% interval of the run length: its 5% and 95% quantiles.
	rLo, rHi, cum := -1, n, 0.0
	for r := 1; r < len(probs); r++ {
		cum += probs[r] / total
		if rLo < 0 && cum >= 0.05 {
			rLo = r
		}
		if cum >= 0.95 {
			rHi = r
			break
		}
	}
	rLo = max(rLo, 1)
	rHi = max(min(rHi, n), rLo)
	pAfter := 0.0
	for r := 1; r <= min(rMAP, len(probs)-1); r++ {
		pAfter += probs[r] / total
	}
	idx := n - rMAP
	var d diagnosis
	d.change = ChangeEstimate{
		At:          h[idx].at,
		Earliest:    h[n-rHi].at,
		Latest:      h[n-rLo].at,
		TracesAgo:   rMAP,
		Probability: round6(pAfter),
	}
	count := func(es []entry) (events int) {
		for _, e := range es {
			if e.x > thr {
				events++
			}
		}
		return events
	}
	if idx > 0 {
		d.before = jeffreysRate(count(h[:idx]), idx)
	} else {
		d.before = s.Base.Rate
	}
	d.after = jeffreysRate(count(h[idx:]), n-idx)
	for i := n - 1; i >= idx && len(d.examples) < tu.Examples; i-- {
		if h[i].id != "" && h[i].x > thr {
			d.examples = append(d.examples, h[i].id)
		}
	}
	slices.Reverse(d.examples)
	return d
}

// recent returns the dashboard rate over the last Window observations, and
// false while a continuous monitor has no threshold yet.
func (s *series) recent(tu *tuning) (Rate, bool) {
	h := s.Hist.entries()
	if len(h) > tu.Window {
		h = h[len(h)-tu.Window:]
	}
	if s.Base == nil && tu.Continuous && tu.Above == nil {
		// No threshold yet: a value is not yet an event or not.
		return Rate{}, false
	}
	thr := thresholdOf(tu)
	if s.Base != nil {
		thr = s.Base.Threshold
	}
	events := 0
	for _, e := range h {
		if e.x > thr {
			events++
		}
	}
	return jeffreysRate(events, len(h)), true
}

// entry is one observation in a series' history.
type entry struct {
	at time.Time
	x  float64
	id string // kept for events only
}

// history is a ring of the last observations, for diagnosis and the
// dashboard rate.
type history struct {
	ring []entry
	next int
	full bool
}

func newHistory(n int) history { return history{ring: make([]entry, max(n, 1))} }

func (h *history) add(at time.Time, x float64, id string) {
	h.ring[h.next] = entry{at, x, id}
	h.next++
	if h.next == len(h.ring) {
		h.next, h.full = 0, true
	}
}

// entries returns the history, oldest first.
func (h *history) entries() []entry {
	if !h.full {
		return h.ring[:h.next]
	}
	return append(slices.Clone(h.ring[h.next:]), h.ring[:h.next]...)
}

// historyJSON is the compact checkpoint form: times as millisecond deltas
// (small numbers), ids only for events.
type historyJSON struct {
	Cap int               `json:"cap"`
	T0  int64             `json:"t0"`
	DT  []int64           `json:"dt"`
	X   []float64         `json:"x"`
	IDs map[string]string `json:"ids,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (h history) MarshalJSON() ([]byte, error) {
	es := h.entries()
	j := historyJSON{Cap: len(h.ring), DT: make([]int64, len(es)), X: make([]float64, len(es))}
	prev := int64(0)
	for i, e := range es {
		ms := e.at.UnixMilli()
		if i == 0 {
			j.T0, prev = ms, ms
		}
		j.DT[i], prev = ms-prev, ms
		j.X[i] = e.x
		if e.id != "" {
			if j.IDs == nil {
				j.IDs = map[string]string{}
			}
			j.IDs[fmt.Sprint(i)] = e.id
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON implements json.Unmarshaler.
func (h *history) UnmarshalJSON(b []byte) error {
	var j historyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if len(j.DT) != len(j.X) || j.Cap < 1 || j.Cap > 1<<20 || len(j.X) > j.Cap {
		return fmt.Errorf("history: %d times, %d values, capacity %d", len(j.DT), len(j.X), j.Cap)
	}
	*h = newHistory(j.Cap)
	ms := j.T0
	for i, x := range j.X {
		if i > 0 {
			ms += j.DT[i]
		}
		h.add(time.UnixMilli(ms).UTC(), x, j.IDs[fmt.Sprint(i)])
	}
	return nil
}
