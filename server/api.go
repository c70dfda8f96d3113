package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/probity/probity"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/store"
)

// maxAPIBody bounds a JSON request body of the API (feedback).
const maxAPIBody = 64 << 10

// maxEvalRunBytes bounds a pushed eval run file.
const maxEvalRunBytes = 256 << 20

// traceItem is one trace in GET /api/v1/traces.
type traceItem struct {
	TraceID       string     `json:"trace_id"`
	Service       string     `json:"service"`
	Agent         string     `json:"agent,omitempty"`
	StartedAt     time.Time  `json:"started_at"`
	EndedAt       time.Time  `json:"ended_at"`
	Spans         int        `json:"spans"`
	Steps         int        `json:"steps"`
	Verdict       *string    `json:"verdict"` // null while pending
	RootCauseStep *int       `json:"root_cause_step"`
	Detectors     []string   `json:"detectors"`
	AnalysedAt    *time.Time `json:"analysed_at"`
	Revision      int        `json:"revision"`
	// Stale: spans arrived after the latest analysis; another follows.
	Stale bool `json:"stale"`
}

func item(s store.TraceSummary) traceItem {
	it := traceItem{TraceID: s.TraceID, Service: s.Service, Agent: s.Agent, StartedAt: s.StartedAt, EndedAt: s.EndedAt,
		Spans: s.Spans, Steps: s.Steps, RootCauseStep: s.RootCauseStep, Detectors: s.Detectors, Revision: s.Revision, Stale: s.Stale}
	if s.Verdict != "" {
		v := string(s.Verdict)
		it.Verdict = &v
	}
	if !s.AnalysedAt.IsZero() {
		at := s.AnalysedAt
		it.AnalysedAt = &at
	}
	if it.Detectors == nil {
		it.Detectors = []string{}
	}
	return it
}

func (s *Server) apiHandler() http.Handler {
	mux := http.NewServeMux()
	read := func(h http.HandlerFunc) http.Handler { return s.requireScope(ScopeRead, h) }
	mux.Handle("GET /api/v1/traces", read(s.listTraces))
	mux.Handle("GET /api/v1/traces/{id}", read(s.getTrace))
	mux.Handle("POST /api/v1/traces/{id}/feedback", read(s.postFeedback))
	mux.Handle("GET /api/v1/monitors", read(s.listMonitors))
	mux.Handle("GET /api/v1/monitors/{name}/series", read(s.monitorSeries))
	mux.Handle("GET /api/v1/alerts", read(s.listAlerts))
	mux.Handle("GET /api/v1/eval-runs", read(s.listEvalRuns))
	mux.Handle("GET /api/v1/eval-runs/{id}", read(s.getEvalRun))
	mux.Handle("POST /api/v1/eval-runs", s.requireScope(ScopeIngest, http.HandlerFunc(s.postEvalRun)))
	// OTLP/HTTP on the API port too, so `probity push` needs one URL.
	mux.Handle("/v1/traces", s.requireScope(ScopeIngest, s.handleOTLPHTTP("push")))
	mux.Handle("GET /metrics", s.requireScope(ScopeRead, promhttp.HandlerFor(s.o.Gatherer, promhttp.HandlerOpts{})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, probity.Errorf(probity.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	}
	if s.o.UI != nil {
		mux.HandleFunc("/api/", notFound)
		if s.o.Tokens != nil {
			// What a person needs before signing in: the login page and
			// its stylesheet.
			mux.Handle("GET /login", s.o.UI)
			mux.Handle("GET /assets/", s.o.UI)
			mux.Handle("GET /favicon.ico", s.o.UI)
			mux.HandleFunc("POST /login", s.login)
			mux.HandleFunc("POST /logout", s.logout)
		}
		mux.Handle("/", s.pageAuth(s.o.UI))
	} else {
		mux.HandleFunc("/", notFound)
	}
	// The UI shares this origin, so a page elsewhere must not be able to
	// make a visitor's browser post feedback or spans here (a cross-site
	// form may send text/plain JSON). Browsers say where a request comes
	// from (Sec-Fetch-Site, Origin); clients that are not browsers send
	// neither and pass.
	return http.NewCrossOriginProtection().Handler(mux)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeError(w, &probity.Error{Code: codeUnavailable, Message: "not ready"})
		return
	}
	if err := s.o.Store.Ping(r.Context()); err != nil {
		s.log.Warn("readiness: store", "err", err)
		writeError(w, &probity.Error{Code: codeUnavailable, Message: "store unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// parseTime reads an instant as RFC 3339 or as a duration before now
// ("1h": an hour ago).
func (s *Server) parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return s.o.Now().Add(-d), nil
	}
	return time.Time{}, probity.Errorf(probity.EINVALID, "%s=%q: want an RFC 3339 time (2026-03-01T12:00:00Z) or a duration before now (1h)", name, v)
}

func (s *Server) listTraces(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "verdict", "detector", "service", "agent", "since", "until", "limit", "cursor":
		default:
			writeError(w, probity.Errorf(probity.EINVALID, "unknown parameter %q (want verdict, detector, service, agent, since, until, limit, cursor)", k))
			return
		}
	}
	f := store.Filter{Verdict: q.Get("verdict"), Detector: q.Get("detector"), Service: q.Get("service"), Agent: q.Get("agent"), Cursor: q.Get("cursor")}
	var err error
	if f.Since, err = s.parseTime("since", q.Get("since")); err != nil {
		writeError(w, err)
		return
	}
	if f.Until, err = s.parseTime("until", q.Get("until")); err != nil {
		writeError(w, err)
		return
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			writeError(w, probity.Errorf(probity.EINVALID, "limit=%q: want 1 to %d", v, store.MaxLimit))
			return
		}
	}
	p, err := s.o.Store.ListTraces(r.Context(), f)
	if err != nil {
		s.apiError(w, err)
		return
	}
	out := struct {
		Traces     []traceItem `json:"traces"`
		NextCursor *string     `json:"next_cursor"`
	}{Traces: make([]traceItem, 0, len(p.Traces))}
	for _, t := range p.Traces {
		out.Traces = append(out.Traces, item(t))
	}
	if p.NextCursor != "" {
		out.NextCursor = &p.NextCursor
	}
	writeJSON(w, http.StatusOK, out)
}

// apiError logs internal errors before answering.
func (s *Server) apiError(w http.ResponseWriter, err error) {
	if httpStatus(err) >= 500 {
		s.log.Error("api", "err", err)
	}
	writeError(w, err)
}

func (s *Server) getTrace(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("id"))
	sum, err := s.o.Store.Trace(r.Context(), id)
	if err != nil {
		s.apiError(w, err)
		return
	}
	t, err := s.assemble(r.Context(), id)
	if err != nil && probity.ErrorCode(err) != probity.EINVALID {
		s.apiError(w, err)
		return
	}
	out := struct {
		Trace    *probity.Trace  `json:"trace"`
		Analysis json.RawMessage `json:"analysis"`
		Summary  traceItem       `json:"summary"`
		Error    string          `json:"error,omitempty"`
		Feedback []feedbackJSON  `json:"feedback"`
	}{Trace: t, Analysis: json.RawMessage("null"), Summary: item(sum), Feedback: []feedbackJSON{}}
	if err != nil {
		out.Error = err.Error()
	}
	a, err := s.o.Store.Analysis(r.Context(), id)
	switch {
	case err == nil && len(a.Report) > 0:
		out.Analysis = a.Report
	case err == nil:
		out.Error = a.Error
	case probity.ErrorCode(err) != probity.ENOTFOUND:
		s.apiError(w, err)
		return
	}
	fbs, err := s.o.Store.Feedback(r.Context(), id)
	if err != nil {
		s.apiError(w, err)
		return
	}
	for _, fb := range fbs {
		out.Feedback = append(out.Feedback, feedbackOut(fb))
	}
	writeJSON(w, http.StatusOK, out)
}

type feedbackJSON struct {
	ID        int64     `json:"id"`
	TraceID   string    `json:"trace_id"`
	Label     string    `json:"label"`
	Step      *int      `json:"step"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}

func feedbackOut(fb store.Feedback) feedbackJSON {
	return feedbackJSON{ID: fb.ID, TraceID: fb.TraceID, Label: fb.Label, Step: fb.Step, Note: fb.Note, CreatedAt: fb.CreatedAt}
}

func (s *Server) postFeedback(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Label string `json:"label"`
		Step  *int   `json:"step"`
		Note  string `json:"note"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		pe := &probity.Error{Code: probity.EINVALID, Message: "feedback body: want {\"label\": \"correct\"|\"incorrect\", \"step\": N, \"note\": \"...\"}", Err: err}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			pe.Where = fmt.Sprintf("offset %d", se.Offset)
		}
		writeError(w, pe)
		return
	}
	fb, err := s.o.Store.AddFeedback(r.Context(), store.Feedback{TraceID: strings.ToLower(r.PathValue("id")), Label: in.Label, Step: in.Step, Note: in.Note})
	if err != nil {
		s.apiError(w, err)
		return
	}
	if s.mon != nil {
		s.mon.feedback(r.Context(), fb)
	}
	writeJSON(w, http.StatusCreated, feedbackOut(fb))
}

type evalRunJSON struct {
	ID         string    `json:"id"`
	Suite      string    `json:"suite"`
	Started    time.Time `json:"started"`
	ReceivedAt time.Time `json:"received_at"`
	Trials     int       `json:"trials"`
}

// postEvalRun stores an eval run file (the JSON Lines `eval run` writes):
// its first line is the run header, every other line a JSON object. The
// file is kept whole for the UI; its id is derived from its content, so
// pushing it twice stores it once.
func (s *Server) postEvalRun(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEvalRunBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, &probity.Error{Code: codeTooLarge, Message: fmt.Sprintf("eval run over %d bytes", maxEvalRunBytes)})
			return
		}
		writeError(w, &probity.Error{Code: probity.EINVALID, Message: "read eval run", Err: err})
		return
	}
	run, outcomes, err := parseEvalRun(data)
	if err != nil {
		writeError(w, err)
		return
	}
	created, err := s.o.Store.AddEvalRun(r.Context(), run)
	if err != nil {
		s.apiError(w, err)
		return
	}
	if created && s.mon != nil {
		// A file pushed again is stored once and counted once.
		s.mon.evalRun(r.Context(), run, outcomes)
	}
	writeJSON(w, http.StatusCreated, evalRunJSON{ID: run.ID, Suite: run.Suite, Started: run.Started, ReceivedAt: s.o.Now().UTC(), Trials: run.Trials})
}

// ParseEvalRun checks the shape of an eval run file without the eval
// package (a torn last line, which a crash mid-write leaves, is dropped as
// eval does) and returns it as the store keeps it. EINVALID: not a run file,
// with the line.
func ParseEvalRun(data []byte) (store.EvalRun, error) {
	run, _, err := parseEvalRun(data)
	return run, err
}

// parseEvalRun checks the shape of a run file without the eval package (a
// torn last line, which a crash mid-write leaves, is dropped as eval does),
// and returns the outcome of each trial that passed or failed (errors are
// the target's, not the agent's, and count for neither).
func parseEvalRun(data []byte) (store.EvalRun, []monitor.EvalOutcome, error) {
	var run store.EvalRun
	var outcomes []monitor.EvalOutcome
	bad := func(line int, msg string, err error) error {
		return &probity.Error{Code: probity.EINVALID, Where: fmt.Sprintf("line %d", line), Message: msg, Err: err}
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 && i < len(data)-1 {
		data = data[:i+1]
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxEvalRunBytes)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec struct {
			Type    string    `json:"type"`
			Suite   string    `json:"suite"`
			Started time.Time `json:"started"`
			Case    string    `json:"case"`
			Status  string    `json:"status"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return run, nil, bad(line, "not a JSON object", err)
		}
		if line == 1 {
			if rec.Type != "run" {
				return run, nil, bad(1, `not an eval run file: the first line must be the run header {"type": "run", ...}`, nil)
			}
			run.Suite, run.Started = rec.Suite, rec.Started
			continue
		}
		if rec.Type == "trial" {
			run.Trials++
			if rec.Status == "pass" || rec.Status == "fail" {
				outcomes = append(outcomes, monitor.EvalOutcome{Suite: run.Suite, Case: rec.Case, Pass: rec.Status == "pass"})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return run, nil, bad(line+1, "read eval run", err)
	}
	if line == 0 {
		return run, nil, bad(1, "empty eval run file", nil)
	}
	h := sha256.Sum256(data)
	run.ID, run.Data = hex.EncodeToString(h[:16]), data
	return run, outcomes, nil
}

func (s *Server) listEvalRuns(w http.ResponseWriter, r *http.Request) {
	runs, err := s.o.Store.EvalRuns(r.Context())
	if err != nil {
		s.apiError(w, err)
		return
	}
	out := struct {
		Runs []evalRunJSON `json:"eval_runs"`
	}{Runs: []evalRunJSON{}}
	for _, run := range runs {
		out.Runs = append(out.Runs, evalRunJSON{run.ID, run.Suite, run.Started, run.ReceivedAt, run.Trials})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getEvalRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.o.Store.EvalRun(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Write(run.Data)
}
