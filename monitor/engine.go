package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/probity/probity"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure an Engine.
type Options struct {
	// Config is the parsed monitors file (Default() when nil).
	Config *Config
	// Store keeps series checkpoints, alerts and the outbox. Required.
	Store Store
	// Logger receives the engine's log; nil discards it.
	Logger *slog.Logger
	// Registerer, when set, gets the engine's Prometheus metrics.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Client sends notifications; nil means a client with no overall
	// timeout (each notifier's Timeout bounds its requests).
	Client *http.Client
	// ExternalURL is the server's address as receivers reach it, for links
	// in payloads ("https://probity.example.com"); empty omits links.
	ExternalURL string
	// CheckpointEvery is how often Run saves changed series; 0 means 5s.
	// A crash loses at most this much of the series' statistics; alerts
	// and notifications are saved when they happen.
	CheckpointEvery time.Duration
	// PollEvery is how often the dispatcher looks for notifications that
	// another process queued; 0 means 1s.
	PollEvery time.Duration
	// BucketWidth is the time bucket of the series' history (the points
	// a monitors page draws); 0 means 5m. Observations are bucketed by
	// their own Time, so a backfill of old traces lands in old buckets.
	BucketWidth time.Duration
}

// Engine runs the monitors of one Config over the observations it is
// given. Observe may be called concurrently. Run delivers notifications and
// checkpoints the series; with several server replicas exactly one (the
// leader) should own an Engine, since series live in its memory.
type Engine struct {
	cfg   *Config
	store Store
	log   *slog.Logger
	now   func() time.Time
	ext   string
	every time.Duration
	width time.Duration

	design designer
	disp   *dispatcher
	met    *metrics

	mu      sync.Mutex
	mons    []*monitorRun
	byName  map[string]*monitorRun
	pending []Change
	dirty   map[*seriesRun]bool
	// closed holds history points of buckets that ended since the last
	// checkpoint; open the series whose open bucket has changed.
	closed []Point
	open   map[*seriesRun]bool
}

type monitorRun struct {
	m       *Monitor
	series  map[string]*seriesRun
	order   []*seriesRun
	dropped int64
}

type seriesRun struct {
	mon   *monitorRun
	key   string
	group map[string]string
	s     *series
}

// New returns an Engine for o. Call Load before observing, so the series
// resume from their checkpoints.
func New(o Options) (*Engine, error) {
	if o.Store == nil {
		return nil, probity.Errorf(probity.EINVALID, "monitor: no store")
	}
	if o.Config == nil {
		cfg, err := Default()
		if err != nil {
			return nil, fmt.Errorf("monitor: default monitors: %w", err)
		}
		o.Config = cfg
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 5 * time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = time.Second
	}
	if o.BucketWidth <= 0 {
		o.BucketWidth = 5 * time.Minute
	}
	met, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("monitor: metrics: %w", err)
	}
	e := &Engine{
		cfg: o.Config, store: o.Store, log: o.Logger.With("component", "monitor"), now: o.Now,
		ext: o.ExternalURL, every: o.CheckpointEvery, width: o.BucketWidth, met: met,
		byName: map[string]*monitorRun{}, dirty: map[*seriesRun]bool{}, open: map[*seriesRun]bool{},
	}
	for _, m := range o.Config.Monitors {
		mr := &monitorRun{m: m, series: map[string]*seriesRun{}}
		e.mons = append(e.mons, mr)
		e.byName[m.Name] = mr
	}
	e.disp = newDispatcher(o.Store, o.Config, o.Client, o.Now, o.PollEvery, e.log, met)
	return e, nil
}

// Config returns the monitors the engine runs.
func (e *Engine) Config() *Config { return e.cfg }

// Load restores the series from the store's checkpoints. Checkpoints of
// monitors no longer configured are ignored; a checkpoint that cannot be
// read starts its series afresh, with a warning.
func (e *Engine) Load(ctx context.Context) error {
	recs, err := e.store.LoadSeries(ctx)
	if err != nil {
		return fmt.Errorf("load monitor state: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range recs {
		mr := e.byName[r.Monitor]
		if mr == nil {
			continue
		}
		var s series
		if err := json.Unmarshal(r.Data, &s); err != nil || s.V != seriesVersion {
			e.log.Warn("unreadable series checkpoint; starting it afresh", "monitor", r.Monitor, "group", r.Group, "err", err)
			continue
		}
		var group map[string]string
		if err := json.Unmarshal([]byte(r.Group), &group); err != nil {
			continue
		}
		tu := &mr.m.tuning
		if len(s.Hist.ring) != tu.History {
			s.Hist = resize(s.Hist, tu.History)
		}
		// The file may have changed since the checkpoint: design the
		// CUSUMs for today's tuning from the saved estimate.
		if b := s.Base; b != nil {
			nb := newBaseline(tu, &e.design, b.Rate, b.Guard, b.Threshold, b.Since)
			nb.Refine, nb.PendN, nb.PendE, nb.CountN, nb.CountE, nb.RefineAt = b.Refine, b.PendN, b.PendE, b.CountN, b.CountE, b.RefineAt
			if s.Firing != nil {
				nb.HR = e.design.resolveThreshold(nb.P0, nb.P1, tu.ARL0)
			}
			s.Base = nb
		}
		sr := &seriesRun{mon: mr, key: r.Group, group: group, s: &s}
		mr.series[r.Group] = sr
		mr.order = append(mr.order, sr)
	}
	return nil
}

func resize(h history, n int) history {
	out := newHistory(n)
	es := h.entries()
	if len(es) > n {
		es = es[len(es)-n:]
	}
	for _, en := range es {
		out.add(en.at, en.x, en.id)
	}
	return out
}

// groupKey returns the canonical key of o's group in m (a JSON object, so
// any attribute value is unambiguous) and the group's attributes.
func groupKey(m *Monitor, attrs map[string]string, split string) (string, map[string]string) {
	g := make(map[string]string, len(m.GroupBy)+1)
	for _, k := range m.GroupBy {
		g[k] = attrs[k]
	}
	if split != "" {
		g[AttrDetector] = split
	}
	b, _ := json.Marshal(g) // map keys marshal sorted
	return string(b), g
}

// GroupKeyOf turns a group as a person writes it, "service.name=checkout,
// gen_ai.agent.name=planner", into the canonical key the store keeps
// (a JSON object with sorted keys); a key already in that form is
// returned in canonical form. EINVALID says what is wrong.
func GroupKeyOf(s string) (string, error) {
	g := map[string]string{}
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		if err := json.Unmarshal([]byte(s), &g); err != nil {
			return "", probity.Errorf(probity.EINVALID, "group %q: %v", s, err)
		}
	} else {
		for _, kv := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if k = strings.TrimSpace(k); !ok || k == "" {
				return "", probity.Errorf(probity.EINVALID, "group %q: want name=value pairs joined by commas", s)
			}
			g[k] = strings.TrimSpace(v)
		}
	}
	b, _ := json.Marshal(g) // map keys marshal sorted, as groupKey's do
	return string(b), nil
}

func matches(m *Monitor, attrs map[string]string) bool {
	for k, vs := range m.Where {
		if !slices.Contains(vs, attrs[k]) {
			return false
		}
	}
	return true
}

// Observe feeds one observation to every monitor that counts it. An alert
// that fires or resolves is written to the store, with its notifications,
// before Observe returns; if that write fails, Observe returns the error
// and the write is retried by the next Observe, Flush or checkpoint, so no
// alert is lost while the process lives.
func (e *Engine) Observe(ctx context.Context, o Observation) error {
	at := o.Time
	if at.IsZero() {
		at = e.now()
	}
	var buf [8]sample
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, mr := range e.mons {
		m := mr.m
		if !matches(m, o.Attrs) {
			continue
		}
		ss := m.kind.samples(&o, buf[:0])
		for _, smp := range ss {
			sr := e.seriesFor(mr, o.Attrs, smp.split, at)
			if sr == nil {
				continue
			}
			e.met.observations.WithLabelValues(m.Name).Inc()
			e.count(sr, smp.x, at)
			tr, res := sr.s.observe(&m.tuning, &e.design, smp.x, o.TraceID, at)
			e.dirty[sr] = true
			switch tr {
			case fired:
				a := e.newAlert(sr, at)
				sr.s.fire(&m.tuning, &e.design, a)
				e.queue(sr, a)
			case resolved:
				e.queue(sr, res)
			}
		}
	}
	return e.flushPendingLocked(ctx)
}

func (e *Engine) seriesFor(mr *monitorRun, attrs map[string]string, split string, at time.Time) *seriesRun {
	key, group := groupKey(mr.m, attrs, split)
	if sr := mr.series[key]; sr != nil {
		return sr
	}
	if len(mr.series) >= mr.m.MaxGroups {
		if mr.dropped == 0 {
			e.log.Warn("monitor has reached max_groups; new groups are not watched", "monitor", mr.m.Name, "max_groups", mr.m.MaxGroups)
		}
		mr.dropped++
		e.met.dropped.WithLabelValues(mr.m.Name).Inc()
		return nil
	}
	sr := &seriesRun{mon: mr, key: key, group: group, s: newSeries(&mr.m.tuning, &e.design, at)}
	mr.series[key] = sr
	mr.order = append(mr.order, sr)
	return sr
}

// newAlert builds the alert for a series whose CUSUM just crossed its
// threshold.
func (e *Engine) newAlert(sr *seriesRun, at time.Time) *Alert {
	m := sr.mon.m
	s := sr.s
	d := s.diagnose(&m.tuning)
	b := s.Base
	a := &Alert{
		ID:       alertID(m.Name, sr.key, at, s.N),
		Monitor:  m.Name,
		Kind:     m.Kind,
		Event:    eventText(m, b),
		Group:    sr.group,
		GroupKey: sr.key,
		State:    AlertFiring,
		FiredAt:  at,
		Change:   d.change,
		Baseline: b.Rate,
		Before:   d.before,
		After:    d.after,
		Examples: d.examples,
		Method: Method{Name: "bernoulli-cusum", ARL0: m.tuning.ARL0, P0: round6(b.P0), P1: round6(b.P1),
			GuardRate: round6(b.Guard), H: round6(b.H), Statistic: round6(s.S)},
	}
	if a.Examples == nil {
		a.Examples = []string{}
	}
	if m.tuning.Continuous {
		t := b.Threshold
		a.Method.Threshold = &t
	}
	a.Summary = fmt.Sprintf("%s (%s): %s rose from %s to %s; the change began around %s, %d traces before the alarm",
		m.Name, groupString(groupOrder(m, sr.group), sr.group), a.Event, a.Before, a.After,
		a.Change.At.UTC().Format(time.RFC3339), a.Change.TracesAgo)
	return a
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

func eventText(m *Monitor, b *baseline) string {
	ev := m.kind.event()
	if m.tuning.Continuous {
		ev += " " + thresholdText(m.Kind, b.Threshold)
		if m.tuning.Above == nil {
			ev += fmt.Sprintf(" (the baseline's %g quantile)", m.tuning.Quantile)
		}
	}
	return ev
}

// groupOrder lists a series' attributes in group_by order, the detector
// last.
func groupOrder(m *Monitor, g map[string]string) []string {
	keys := slices.Clone(m.GroupBy)
	if _, ok := g[AttrDetector]; ok {
		keys = append(keys, AttrDetector)
	}
	return keys
}

// queue records an alert change and its notifications for writing, with
// the series' checkpoint in the same Change.
func (e *Engine) queue(sr *seriesRun, a *Alert) {
	m := sr.mon.m
	now := e.now()
	c := Change{Alerts: []Alert{*a}}
	if rec, err := sr.record(now); err == nil {
		c.Series = []SeriesRecord{rec}
		delete(e.dirty, sr)
	}
	for _, n := range e.cfg.Notifiers {
		if !n.wants(m.Name) || a.State == AlertResolved && !n.SendResolved {
			continue
		}
		ct, body, err := renderers[n.Type](renderInput{notifier: n, alert: a, groupBy: groupOrder(m, sr.group), externalURL: e.ext})
		if err != nil {
			e.log.Error("render notification", "notifier", n.Name, "alert", a.ID, "err", err)
			continue
		}
		c.Deliveries = append(c.Deliveries, Delivery{
			Key: n.Name + "/" + a.ID, Notifier: n.Name, AlertID: a.ID, Event: a.State,
			ContentType: ct, Body: body, State: DeliveryPending, NextAt: now, CreatedAt: now,
		})
	}
	e.pending = append(e.pending, c)
	event := "fired"
	if a.State == AlertResolved {
		event = "resolved"
	}
	e.met.alerts.WithLabelValues(m.Name, event).Inc()
	e.log.Info("alert "+event, "monitor", m.Name, "group", sr.key, "alert", a.ID, "summary", a.Summary)
}

// count adds an observation to its series' open history bucket, closing
// the bucket when the observation belongs to a later one. An observation
// older than the open bucket (a late trace) counts in the open bucket:
// points already written are not reopened.
func (e *Engine) count(sr *seriesRun, x float64, at time.Time) {
	ev, known := sr.s.eventOf(&sr.mon.m.tuning, x)
	if !known {
		return
	}
	start := at.UTC().Truncate(e.width)
	b := sr.s.Bucket
	if b != nil && start.After(b.Start) {
		e.closed = append(e.closed, sr.point(b))
		b = nil
	}
	if b == nil {
		b = &bucket{Start: start, End: at}
		sr.s.Bucket = b
	}
	b.N++
	if ev {
		b.Events++
	}
	if at.After(b.End) {
		b.End = at
	}
	e.open[sr] = true
}

// point is the history point of bucket b of the series, with the
// series' current baseline.
func (sr *seriesRun) point(b *bucket) Point {
	p := Point{Monitor: sr.mon.m.Name, Group: sr.key, Start: b.Start, End: b.End, Rate: jeffreysRate(b.Events, b.N)}
	if base := sr.s.Base; base != nil {
		r := base.Rate
		p.Baseline = &r
	}
	return p
}

func (sr *seriesRun) record(now time.Time) (SeriesRecord, error) {
	b, err := json.Marshal(sr.s)
	if err != nil {
		return SeriesRecord{}, err
	}
	return SeriesRecord{Monitor: sr.mon.m.Name, Group: sr.key, Data: b, UpdatedAt: now}, nil
}

// flushPendingLocked writes queued alert changes in order.
func (e *Engine) flushPendingLocked(ctx context.Context) error {
	wrote := false
	for len(e.pending) > 0 {
		if err := e.store.Apply(ctx, e.pending[0]); err != nil {
			return fmt.Errorf("save alert: %w", err)
		}
		wrote = wrote || len(e.pending[0].Deliveries) > 0
		e.pending = e.pending[1:]
	}
	if wrote {
		e.disp.poke()
	}
	return nil
}

// Flush writes queued alert changes and checkpoints every series that
// changed since the last checkpoint, with the history points of its
// buckets (the open one with its counts so far) in the same transaction.
func (e *Engine) Flush(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.flushPendingLocked(ctx); err != nil {
		return err
	}
	if len(e.dirty) == 0 && len(e.open) == 0 && len(e.closed) == 0 {
		return nil
	}
	now := e.now()
	c := Change{Points: slices.Clone(e.closed)}
	for sr := range e.dirty {
		rec, err := sr.record(now)
		if err != nil {
			return fmt.Errorf("checkpoint series: %w", err)
		}
		c.Series = append(c.Series, rec)
	}
	for sr := range e.open {
		if b := sr.s.Bucket; b != nil {
			c.Points = append(c.Points, sr.point(b))
		}
	}
	if err := e.store.Apply(ctx, c); err != nil {
		return fmt.Errorf("checkpoint series: %w", err)
	}
	clear(e.dirty)
	clear(e.open)
	e.closed = e.closed[:0]
	return nil
}

// Run checkpoints the series every CheckpointEvery and delivers
// notifications until ctx is done, then saves a last checkpoint.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { e.disp.run(ctx) })
	t := time.NewTicker(e.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return e.Flush(fctx)
		case <-t.C:
			if err := e.Flush(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("checkpoint monitors", "err", err)
			}
		}
	}
}

// History returns the points of a monitor's series and the changepoints
// of its alerts, for GET /api/v1/monitors/{name}/series and the monitors
// page. It returns ENOTFOUND for a monitor cfg does not define.
func History(ctx context.Context, cfg *Config, st State, q PointQuery) ([]SeriesHistory, error) {
	if cfg == nil {
		var err error
		if cfg, err = Default(); err != nil {
			return nil, fmt.Errorf("monitor: default monitors: %w", err)
		}
	}
	if !slices.ContainsFunc(cfg.Monitors, func(m *Monitor) bool { return m.Name == q.Monitor }) {
		return nil, probity.Errorf(probity.ENOTFOUND, "no monitor %q", q.Monitor)
	}
	pts, err := st.Points(ctx, q)
	if err != nil {
		return nil, err
	}
	alerts, err := st.Alerts(ctx, AlertQuery{Monitor: q.Monitor, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var out []SeriesHistory
	at := map[string]int{}
	get := func(key string) *SeriesHistory {
		i, ok := at[key]
		if !ok {
			var g map[string]string
			if json.Unmarshal([]byte(key), &g) != nil {
				g = map[string]string{}
			}
			i = len(out)
			at[key] = i
			out = append(out, SeriesHistory{Monitor: q.Monitor, Group: g, GroupKey: key, Points: []Point{}, Changepoints: []Changepoint{}})
		}
		return &out[i]
	}
	for _, p := range pts {
		h := get(p.Group)
		h.Points = append(h.Points, p)
	}
	// Alerts come newest first; a chart reads oldest first.
	for _, a := range slices.Backward(alerts) {
		if q.Group != "" && a.GroupKey != q.Group {
			continue
		}
		if !q.Since.IsZero() && a.Change.Latest.Before(q.Since) && a.FiredAt.Before(q.Since) {
			continue
		}
		h := get(a.GroupKey)
		h.Changepoints = append(h.Changepoints, Changepoint{AlertID: a.ID, State: a.State, FiredAt: a.FiredAt, ResolvedAt: a.ResolvedAt,
			At: a.Change.At, Earliest: a.Change.Earliest, Latest: a.Change.Latest, Before: a.Before, After: a.After, Examples: append([]string{}, a.Examples...)})
	}
	return out, nil
}

// SeriesHistory is one group's points and changepoints.
type SeriesHistory struct {
	Monitor      string            `json:"monitor"`
	Group        map[string]string `json:"group"`
	GroupKey     string            `json:"group_key"`
	Points       []Point           `json:"points"`
	Changepoints []Changepoint     `json:"changepoints"`
}

// Changepoint is where an alert dated its change (ChangeEstimate), with
// the rates on either side and the alert's example traces.
type Changepoint struct {
	AlertID    string     `json:"alert_id"`
	State      string     `json:"state"`
	FiredAt    time.Time  `json:"fired_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	At         time.Time  `json:"at"`
	Earliest   time.Time  `json:"earliest"`
	Latest     time.Time  `json:"latest"`
	Before     Rate       `json:"before"`
	After      Rate       `json:"after"`
	Examples   []string   `json:"examples"`
}

// Alerts returns alerts from the store, for GET /api/v1/alerts.
func (e *Engine) Alerts(ctx context.Context, q AlertQuery) ([]Alert, error) {
	if q.State != "" && q.State != AlertFiring && q.State != AlertResolved {
		return nil, probity.Errorf(probity.EINVALID, "alert state %q: want firing or resolved", q.State)
	}
	return e.store.Alerts(ctx, q)
}

// Resolve resolves the firing alert id on a person's word ("accept the new
// rate"): the series estimates a new baseline and stays quiet until it
// has one. It returns ENOTFOUND when no firing alert has that id.
func (e *Engine) Resolve(ctx context.Context, id, note string) (*Alert, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, mr := range e.mons {
		for _, sr := range mr.order {
			if sr.s.Firing == nil || sr.s.Firing.ID != id {
				continue
			}
			a := sr.s.resolveManually(note, e.now())
			e.queue(sr, a)
			return a, e.flushPendingLocked(ctx)
		}
	}
	return nil, probity.Errorf(probity.ENOTFOUND, "no firing alert %q", id)
}

// MonitorStatus is one monitor and its series, for GET /api/v1/monitors.
type MonitorStatus struct {
	Name        string         `json:"name"`
	Kind        string         `json:"kind"`
	Description string         `json:"description,omitempty"`
	GroupBy     []string       `json:"group_by"`
	ARL0        float64        `json:"arl0"`
	Dropped     int64          `json:"dropped_observations"`
	Series      []SeriesStatus `json:"series"`
}

// SeriesStatus is the state of one group of a monitor.
type SeriesStatus struct {
	Group map[string]string `json:"group"`
	// Phase is "warmup" (estimating the first baseline), "watching" or
	// "firing".
	Phase    string `json:"phase"`
	Observed int64  `json:"observed"`
	// WarmupDone counts the traces of a baseline estimate in progress.
	WarmupDone int `json:"warmup_done,omitempty"`
	WarmupOf   int `json:"warmup_of,omitempty"`
	// Baseline is the current baseline estimate, if any.
	Baseline *Rate `json:"baseline,omitempty"`
	// Recent is the windowed Jeffreys rate over the last `window` traces,
	// for dashboards; absent while a cost or latency monitor has no
	// threshold yet.
	Recent *Rate `json:"recent,omitempty"`
	// Statistic and Threshold are the alarm CUSUM and its h.
	Statistic float64 `json:"statistic"`
	Threshold float64 `json:"threshold,omitempty"`
	// EventThreshold turns a cost or latency into an event.
	EventThreshold *float64 `json:"event_threshold,omitempty"`
	AlertID        string   `json:"alert_id,omitempty"`
}

// Monitors returns the monitors and the state of their series.
func (e *Engine) Monitors() []MonitorStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []MonitorStatus
	for _, mr := range e.mons {
		m := mr.m
		ms := MonitorStatus{Name: m.Name, Kind: m.Kind, Description: m.Description, GroupBy: m.GroupBy, ARL0: m.tuning.ARL0, Dropped: mr.dropped, Series: []SeriesStatus{}}
		for _, sr := range mr.order {
			s := sr.s
			st := SeriesStatus{Group: sr.group, Phase: "watching", Observed: s.N, Statistic: round6(s.S)}
			if r, ok := s.recent(&m.tuning); ok {
				st.Recent = &r
			}
			if s.Warm != nil {
				st.WarmupDone, st.WarmupOf = s.Warm.N, m.tuning.Warmup
			}
			if b := s.Base; b != nil {
				r := b.Rate
				st.Baseline, st.Threshold = &r, round6(b.H)
				if m.tuning.Continuous {
					t := b.Threshold
					st.EventThreshold = &t
				}
			} else {
				st.Phase = "warmup"
			}
			if s.Firing != nil {
				st.Phase, st.AlertID, st.Statistic = "firing", s.Firing.ID, round6(s.R)
			}
			ms.Series = append(ms.Series, st)
		}
		out = append(out, ms)
	}
	return out
}

// metrics are the engine's Prometheus metrics.
type metrics struct {
	observations  *prometheus.CounterVec
	alerts        *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	notifications *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		observations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probity_monitor_observations_total", Help: "Observations counted by each monitor's series.",
		}, []string{"monitor"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probity_monitor_alerts_total", Help: "Alerts that fired or resolved.",
		}, []string{"monitor", "event"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probity_monitor_dropped_observations_total", Help: "Observations of groups beyond a monitor's max_groups.",
		}, []string{"monitor"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "probity_monitor_notification_attempts_total", Help: "Notification attempts by outcome (delivered, retry, failed).",
		}, []string{"notifier", "outcome"}),
	}
	if r == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.observations, m.alerts, m.dropped, m.notifications} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Snapshot returns the monitors of cfg (the defaults when nil) and their
// series as of the last checkpoint in st, without observing anything: what
// a replica that is not the leader, or a page, shows.
func Snapshot(ctx context.Context, cfg *Config, st Store) ([]MonitorStatus, error) {
	e, err := New(Options{Config: cfg, Store: st})
	if err != nil {
		return nil, err
	}
	if err := e.Load(ctx); err != nil {
		return nil, err
	}
	return e.Monitors(), nil
}
