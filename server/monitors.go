package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/store"
)

// MonitorState is where the monitors keep what must outlive a process:
// series checkpoints, alerts, the notification outbox, and the inbox of
// observations. Both stores provide it on their own database
// ((*sqlite.DB).MonitorState, (*postgres.DB).MonitorState).
type MonitorState interface {
	monitor.Store
	monitor.Inbox
}

// monitorBatch bounds the observations the leader counts per transaction.
const monitorBatch = 500

// monitorLockRetry is how often a replica that is not the leader tries
// to become it.
const monitorLockRetry = 5 * time.Second

// monitors runs the monitor engine on the one replica that holds the
// "monitors" lock. Every replica queues the observations of the analyses
// it saved in the inbox (one transaction per saved batch); the leader
// reads the inbox in order, counts each observation, checkpoints the
// series and only then acknowledges what it read. A leader that dies or
// loses its lock leaves unacknowledged observations for the next one,
// which resumes from the last checkpoint: an observation is counted at
// least once (a crash between a checkpoint and its acknowledgement counts
// up to one batch twice).
type monitors struct {
	s        *Server
	mu       sync.Mutex
	engine   *monitor.Engine // set while this replica leads
	register bool            // metrics not yet registered
}

func (m *monitors) current() *monitor.Engine {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.engine
}

func (m *monitors) newEngine() (*monitor.Engine, error) {
	o := monitor.Options{Config: m.s.o.Monitors, Store: m.s.o.MonitorState, Logger: m.s.log, Now: m.s.o.Now,
		Client: m.s.o.NotifyClient, ExternalURL: m.s.o.ExternalURL}
	m.mu.Lock()
	if m.register {
		// Metrics are registered by the first engine only: a replica that
		// leads again later would register them twice.
		o.Registerer, m.register = m.s.o.Registerer, false
	}
	m.mu.Unlock()
	return monitor.New(o)
}

// loop tries to lead until ctx ends.
func (m *monitors) loop(ctx context.Context) {
	for {
		l, ok, err := m.s.o.Store.TryLock(ctx, "monitors")
		switch {
		case err != nil:
			if ctx.Err() == nil {
				m.s.log.Error("monitors: lock", "err", err)
			}
		case ok:
			m.lead(ctx, l)
			ulctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			l.Unlock(ulctx)
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(monitorLockRetry):
		}
	}
}

func (m *monitors) lead(ctx context.Context, l store.Lock) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.Lost():
			m.s.log.Warn("monitors: leadership lost")
			cancel()
		case <-ctx.Done():
		}
	}()
	e, err := m.newEngine()
	if err == nil {
		err = e.Load(ctx)
	}
	if err != nil {
		m.s.log.Error("monitors: start", "err", err)
		return
	}
	m.s.log.Info("monitors: leading", "monitors", len(e.Config().Monitors))
	m.mu.Lock()
	m.engine = e
	m.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := e.Run(ctx); err != nil {
			m.s.log.Error("monitors: final checkpoint", "err", err)
		}
	})
	defer func() {
		cancel()
		wg.Wait()
		m.mu.Lock()
		m.engine = nil
		m.mu.Unlock()
	}()
	tick := time.NewTicker(m.s.o.Poll)
	defer tick.Stop()
	for {
		n, err := m.drain(ctx, e)
		if err != nil {
			if ctx.Err() == nil {
				// Start afresh from the last checkpoint: the observations
				// not acknowledged are read again by the next engine.
				m.s.log.Error("monitors: count observations", "err", err)
			}
			return
		}
		if n == monitorBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// drain counts one batch of queued observations, checkpoints, and
// acknowledges the batch. It returns how many it counted.
func (m *monitors) drain(ctx context.Context, e *monitor.Engine) (int, error) {
	qs, err := m.s.o.MonitorState.Pending(ctx, monitorBatch)
	if err != nil || len(qs) == 0 {
		return 0, err
	}
	ids := make([]int64, len(qs))
	for i, q := range qs {
		if err := e.Observe(ctx, q.Observation); err != nil {
			return 0, err
		}
		ids[i] = q.ID
	}
	if err := e.Flush(ctx); err != nil {
		return 0, err
	}
	return len(qs), m.s.o.MonitorState.Ack(ctx, ids)
}

// observe queues the observations of saved analyses for the leader.
func (m *monitors) observe(ctx context.Context, batch []result, errs []error) {
	var obs []monitor.Observation
	for i, r := range batch {
		if errs[i] != nil || r.ca.Analysis.Error != "" || r.rep == nil {
			continue
		}
		o := monitor.FromReport(r.trace, *r.rep)
		o.TraceID = r.ca.Claim.TraceID // the id the API and the UI know it by
		if o.Attrs[monitor.AttrService] == "" {
			// The resource's service.name is on the spans, not always in
			// the trace's metadata: group by what the list shows.
			if sum, err := m.s.o.Store.Trace(ctx, o.TraceID); err == nil && sum.Service != "" {
				o.Attrs[monitor.AttrService] = sum.Service
			}
		}
		obs = append(obs, o)
	}
	if err := m.s.o.MonitorState.Enqueue(ctx, obs); err != nil {
		m.s.log.Error("monitors: queue observations", "traces", len(obs), "err", err)
	}
}

// feedback queues a person's verdict for the feedback monitors.
func (m *monitors) feedback(ctx context.Context, fb store.Feedback) {
	o := monitor.Observation{TraceID: fb.TraceID, Time: fb.CreatedAt, Attrs: map[string]string{},
		Feedback: &monitor.Feedback{Label: fb.Label}}
	if sum, err := m.s.o.Store.Trace(ctx, fb.TraceID); err == nil {
		if sum.Service != "" {
			o.Attrs[monitor.AttrService] = sum.Service
		}
		if sum.Agent != "" {
			o.Attrs[monitor.AttrAgent] = sum.Agent
		}
	}
	if err := m.s.o.MonitorState.Enqueue(ctx, []monitor.Observation{o}); err != nil {
		m.s.log.Error("monitors: queue feedback", "trace_id", fb.TraceID, "err", err)
	}
}

// evalRun queues the trials of a newly pushed eval run for the eval
// pass-rate monitors, grouped by suite.
func (m *monitors) evalRun(ctx context.Context, run store.EvalRun, outcomes []monitor.EvalOutcome) {
	at := run.Started
	if at.IsZero() {
		at = m.s.o.Now()
	}
	obs := make([]monitor.Observation, len(outcomes))
	for i, o := range outcomes {
		o := o
		obs[i] = monitor.Observation{TraceID: run.ID, Time: at, Attrs: map[string]string{monitor.AttrSuite: o.Suite}, Eval: &o}
	}
	if err := m.s.o.MonitorState.Enqueue(ctx, obs); err != nil {
		m.s.log.Error("monitors: queue eval trials", "run", run.ID, "err", err)
	}
}

// status returns every monitor and series: live on the leader, from the
// last checkpoint elsewhere.
func (m *monitors) status(ctx context.Context) ([]monitor.MonitorStatus, error) {
	if e := m.current(); e != nil {
		return e.Monitors(), nil
	}
	return monitor.Snapshot(ctx, m.s.o.Monitors, m.s.o.MonitorState)
}

func (s *Server) listMonitors(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Monitors []monitor.MonitorStatus `json:"monitors"`
	}{Monitors: []monitor.MonitorStatus{}}
	if s.mon != nil {
		ms, err := s.mon.status(r.Context())
		if err != nil {
			s.apiError(w, err)
			return
		}
		if ms != nil {
			out.Monitors = ms
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	aq := monitor.AlertQuery{State: q.Get("state"), Monitor: q.Get("monitor")}
	switch aq.State {
	case "", monitor.AlertFiring, monitor.AlertResolved:
	default:
		writeError(w, probity.Errorf(probity.EINVALID, "state %q: want firing or resolved", aq.State))
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, probity.Errorf(probity.EINVALID, "limit %q: want 1 to 1000", v))
			return
		}
		aq.Limit = n
	}
	out := struct {
		Alerts []monitor.Alert `json:"alerts"`
	}{Alerts: []monitor.Alert{}}
	if s.mon != nil {
		as, err := s.o.MonitorState.Alerts(r.Context(), aq)
		if err != nil {
			s.apiError(w, err)
			return
		}
		out.Alerts = append(out.Alerts, as...)
	}
	writeJSON(w, http.StatusOK, out)
}

// monitorSeries answers GET /api/v1/monitors/{name}/series: the history
// points of the monitor's series (one group with ?group=, as its group
// key or as name=value pairs joined by commas) since ?since= (RFC 3339 or
// a duration back from now, "24h"; default 7 days), and the changepoints
// its alerts dated.
func (s *Server) monitorSeries(w http.ResponseWriter, r *http.Request) {
	if s.mon == nil {
		writeError(w, probity.Errorf(probity.ENOTFOUND, "the monitors are off on this server"))
		return
	}
	q := monitor.PointQuery{Monitor: r.PathValue("name"), Since: s.o.Now().Add(-7 * 24 * time.Hour)}
	v := r.URL.Query()
	if g := v.Get("group"); g != "" {
		key, err := monitor.GroupKeyOf(g)
		if err != nil {
			writeError(w, err)
			return
		}
		q.Group = key
	}
	if since := v.Get("since"); since != "" {
		t, err := parseSince(since, s.o.Now())
		if err != nil {
			writeError(w, err)
			return
		}
		q.Since = t
	}
	hs, err := monitor.History(r.Context(), s.o.Monitors, s.o.MonitorState, q)
	if err != nil {
		s.apiError(w, err)
		return
	}
	if hs == nil {
		hs = []monitor.SeriesHistory{}
	}
	writeJSON(w, http.StatusOK, struct {
		Monitor string                  `json:"monitor"`
		Since   time.Time               `json:"since"`
		Series  []monitor.SeriesHistory `json:"series"`
	}{q.Monitor, q.Since, hs})
}

// parseSince reads a time as RFC 3339 or as a duration before now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, probity.Errorf(probity.EINVALID, "since %q: want an RFC 3339 time or a duration such as 24h", v)
}
