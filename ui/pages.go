package ui

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/eval"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/monitor"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/stats"
	"github.com/probity/probity/store"
)

// overviewSample bounds the traces the overview reads: the newest ones. A
// store of a million traces must not be read whole to draw one chart.
const overviewSample = 5000

type countView struct {
	Name  string
	Count int
}

type overviewData struct {
	Sampled, Analysed, Failing int
	Capped                     bool
	Rate, Lo, Hi               float64
	Bars                       template.HTML
	Detectors                  []countView
	Firing                     []alertView
	Verdicts                   []countView
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var d overviewData
	var traces []store.TraceSummary
	f := store.Filter{Limit: store.MaxLimit}
	for len(traces) < overviewSample {
		p, err := u.o.Store.ListTraces(ctx, f)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		traces = append(traces, p.Traces...)
		if p.NextCursor == "" {
			break
		}
		f.Cursor = p.NextCursor
		d.Capped = len(traces) >= overviewSample
	}
	d.Sampled = len(traces)
	dets, verdicts := map[string]int{}, map[string]int{}
	var newest time.Time
	for _, t := range traces {
		v := string(t.Verdict)
		if v == "" {
			v = store.VerdictPending
		}
		verdicts[v]++
		switch t.Verdict {
		case probity.VerdictOK, probity.VerdictSuspect, probity.VerdictFail:
			d.Analysed++
			if t.Verdict == probity.VerdictFail {
				d.Failing++
			}
		}
		for _, det := range t.Detectors {
			dets[det]++
		}
		if t.StartedAt.After(newest) {
			newest = t.StartedAt
		}
	}
	if d.Analysed > 0 {
		iv := stats.Wilson(d.Failing, d.Analysed, 0.95)
		d.Rate, d.Lo, d.Hi = float64(d.Failing)/float64(d.Analysed), iv.Lo, iv.Hi
	}
	d.Detectors = sortedCounts(dets)
	if len(d.Detectors) > 10 {
		d.Detectors = d.Detectors[:10]
	}
	d.Verdicts = sortedCounts(verdicts)
	if !newest.IsZero() {
		// The 24 hours up to the newest trace: a store of old traces (probity
		// view over files) still shows its own day.
		end := newest.Truncate(time.Hour).Add(time.Hour)
		counts, fails := make([]int, 24), make([]int, 24)
		for _, t := range traces {
			i := 23 - int(end.Sub(t.StartedAt)/time.Hour)
			if i >= 0 && i < 24 && !t.StartedAt.IsZero() {
				counts[i]++
				if t.Verdict == probity.VerdictFail {
					fails[i]++
				}
			}
		}
		d.Bars = hourBars(counts, fails, fmtTime(end.Add(-24*time.Hour)), fmtTime(end))
	}
	if u.o.Monitors != nil {
		alerts, err := u.o.Monitors.Alerts(ctx, monitor.AlertQuery{State: monitor.AlertFiring})
		if err != nil {
			u.fail(w, r, err)
			return
		}
		for _, a := range alerts {
			d.Firing = append(d.Firing, alertOf(a))
		}
	}
	u.render(w, r, "overview", "Overview", d)
}

func sortedCounts(m map[string]int) []countView {
	out := make([]countView, 0, len(m))
	for k, v := range m {
		out = append(out, countView{k, v})
	}
	slices.SortFunc(out, func(a, b countView) int { return cmp.Or(b.Count-a.Count, strings.Compare(a.Name, b.Name)) })
	return out
}

// Trace text search reads stored traces, which the store does not index:
// it stops after this many, newest first, and says so.
const searchScan = 500

type tracesData struct {
	Filter    url.Values
	Verdicts  []string
	Traces    []store.TraceSummary
	Next      string
	Query     string
	Scanned   int
	ScanLimit int
	Searched  bool
}

// parseTime reads an instant as RFC 3339 or as a duration before now, as
// the API's since and until do.
func (u *UI) parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return u.o.Now().Add(-d), nil
	}
	return time.Time{}, probity.Errorf(probity.EINVALID, "%s %q: want an RFC 3339 time (2026-03-01T12:00:00Z) or a duration before now (1h)", name, v)
}

func (u *UI) traces(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := store.Filter{Verdict: q.Get("verdict"), Detector: strings.TrimSpace(q.Get("detector")), Service: strings.TrimSpace(q.Get("service")),
		Agent: strings.TrimSpace(q.Get("agent")), Cursor: q.Get("cursor"), Limit: store.DefaultLimit}
	var err error
	if f.Since, err = u.parseTime("since", strings.TrimSpace(q.Get("since"))); err != nil {
		u.fail(w, r, err)
		return
	}
	if f.Until, err = u.parseTime("until", strings.TrimSpace(q.Get("until"))); err != nil {
		u.fail(w, r, err)
		return
	}
	d := tracesData{Filter: q, Verdicts: []string{"fail", "suspect", "ok", "pending", "error"}, Query: strings.TrimSpace(q.Get("q"))}
	if d.Query != "" {
		id := strings.ToLower(d.Query)
		if _, err := store.ParseTraceID(id); err == nil {
			if _, err := u.o.Store.Trace(ctx, id); err == nil {
				http.Redirect(w, r, "/traces/"+id, http.StatusSeeOther)
				return
			}
		}
		if err := u.search(ctx, f, d.Query, &d); err != nil {
			u.fail(w, r, err)
			return
		}
		u.render(w, r, "traces", "Traces", d)
		return
	}
	p, err := u.o.Store.ListTraces(ctx, f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d.Traces = p.Traces
	if p.NextCursor != "" {
		next := url.Values{}
		for k, vs := range q {
			if k != "cursor" && len(vs) > 0 && vs[0] != "" {
				next.Set(k, vs[0])
			}
		}
		next.Set("cursor", p.NextCursor)
		d.Next = "/traces?" + next.Encode()
	}
	u.render(w, r, "traces", "Traces", d)
}

// search finds traces among the newest searchScan matching f whose id,
// service, agent, detectors or step text contain text (case-insensitive).
func (u *UI) search(ctx context.Context, f store.Filter, text string, d *tracesData) error {
	d.Searched, d.ScanLimit = true, searchScan
	needle := strings.ToLower(text)
	f.Limit, f.Cursor = 100, ""
	for d.Scanned < searchScan {
		p, err := u.o.Store.ListTraces(ctx, f)
		if err != nil {
			return err
		}
		for _, t := range p.Traces {
			d.Scanned++
			if u.matches(ctx, t, needle) {
				d.Traces = append(d.Traces, t)
			}
		}
		if p.NextCursor == "" {
			break
		}
		f.Cursor = p.NextCursor
	}
	return nil
}

func (u *UI) matches(ctx context.Context, t store.TraceSummary, needle string) bool {
	for _, s := range append([]string{t.TraceID, t.Service, t.Agent}, t.Detectors...) {
		if strings.Contains(strings.ToLower(s), needle) {
			return true
		}
	}
	tr, _, err := u.load(ctx, t.TraceID)
	if err != nil || tr == nil {
		return false
	}
	if strings.Contains(strings.ToLower(tr.ID), needle) || strings.Contains(strings.ToLower(tr.Task), needle) {
		return true
	}
	for _, s := range tr.Steps {
		if strings.Contains(strings.ToLower(s.Content), needle) {
			return true
		}
		if s.Tool != nil && (strings.Contains(strings.ToLower(s.Tool.Name), needle) ||
			strings.Contains(strings.ToLower(string(s.Tool.Args)), needle) || strings.Contains(strings.ToLower(s.Tool.RawArgs), needle)) {
			return true
		}
	}
	return false
}

// load assembles a stored trace from its spans, as the server does for its
// analysis. A trace whose spans do not form one returns the error with a
// nil trace.
func (u *UI) load(ctx context.Context, id string) (*probity.Trace, []otlp.Span, error) {
	spans, err := u.o.Store.Spans(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	os := make([]otlp.Span, len(spans))
	for i, sp := range spans {
		os[i] = otlp.Span{TraceID: sp.TraceID, SpanID: sp.SpanID, ParentID: sp.ParentID, Start: sp.Start, End: sp.End, Resource: sp.Resource, Data: sp.Data}
	}
	t, err := otlp.Assemble("otlp:"+id, os)
	return t, os, err
}

// stepView is one step of the timeline.
type stepView struct {
	Pos, Anchor string
	Index       int
	Kind        string
	Actor       string
	Depth       int
	Tool        string
	Text        string
	Full        string
	FullBytes   int
	Error       string
	At          string
	SpanID      string
	Root        bool
	Reached     bool
	SideEffect  bool
	Findings    []findingView
}

type evidenceView struct {
	Value, Kind, Class, Source, Note string
	SourceStep                       int
}

type findingView struct {
	// Win turns a step into a link to the window that shows it.
	Win        *stepWindow
	Detector   string
	Sev        severityView
	Confidence float64
	Step       int
	Message    string
	Evidence   []evidenceView
	Blast      []int
	Policy     bool
}

// stepWindow is the window of steps a trace page shows. Links to a step
// go to its anchor on this page, or to the window that holds it.
type stepWindow struct {
	id       string
	from, to int
	size     int
	index    map[int]int // source position → first step index
}

// Href links to the step at source position pos.
func (w *stepWindow) Href(pos int) string {
	anchor := fmt.Sprintf("#step-%d", pos)
	if w == nil {
		return anchor
	}
	i, ok := w.index[pos]
	if !ok || i >= w.from && i < w.to {
		return anchor
	}
	return fmt.Sprintf("/traces/%s?from=%d%s", w.id, i-i%w.size, anchor)
}

type graphView struct {
	Origin int
	SVG    template.HTML
	Sides  int
}

type spanView struct {
	ID   string
	JSON string
}

type traceData struct {
	ID  string
	Win *stepWindow
	// CSRF is the feedback form's anti-forgery token (CSRFToken).
	CSRF         string
	Summary      store.TraceSummary
	Trace        *probity.Trace
	Error        string
	Verdict      string
	Root         *int
	RootText     string
	Steps        []stepView
	From, To     int
	Total        int
	Prev, Next   string
	Findings     []findingView
	Policy       []findingView
	Graphs       []graphView
	Localization string
	Spans        []spanView
	SpansCut     int
	Feedback     []store.Feedback
	Labels       string
	ReadOnly     bool
}

// report is the stored analysis as analyze --format json wrote it.
type report struct {
	detect.Report
	Localization json.RawMessage `json:"localization"`
}

// maxRawSpans bounds the raw spans a trace page carries, and
// maxUnlinkedSpans those it shows when no step links to one.
const (
	maxRawSpans      = 200
	maxUnlinkedSpans = 20
)

// RootHref links to the root-cause step.
func (d traceData) RootHref() string {
	if d.Root == nil {
		return ""
	}
	return d.Win.Href(*d.Root)
}

func (u *UI) trace(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := strings.ToLower(r.PathValue("id"))
	sum, err := u.o.Store.Trace(ctx, id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := traceData{ID: id, Summary: sum, Verdict: string(sum.Verdict), ReadOnly: u.o.ReadOnly}
	t, spans, err := u.load(ctx, id)
	if err != nil && probity.ErrorCode(err) != probity.EINVALID {
		u.fail(w, r, err)
		return
	}
	if err != nil {
		d.Error = err.Error()
	}
	d.Trace = t
	var rep report
	a, err := u.o.Store.Analysis(ctx, id)
	switch {
	case err == nil && len(a.Report) > 0:
		if err := json.Unmarshal(a.Report, &rep); err != nil {
			d.Error = "stored analysis does not decode: " + err.Error()
		}
	case err == nil:
		d.Error = a.Error
	case probity.ErrorCode(err) != probity.ENOTFOUND:
		u.fail(w, r, err)
		return
	}
	if len(rep.Localization) > 0 && string(rep.Localization) != "null" {
		var b bytes.Buffer
		json.Indent(&b, rep.Localization, "", "  ")
		d.Localization = cut(b.String(), maxFull)
	}
	d.Root = rep.RootCauseStep
	if d.Feedback, err = u.o.Store.Feedback(ctx, id); err != nil {
		u.fail(w, r, err)
		return
	}
	if t != nil {
		u.timeline(&d, t, &rep, r.URL.Query().Get("from"))
		if !t.Labels.Empty() {
			b, _ := json.Marshal(t.Labels)
			d.Labels = string(b)
		}
	}
	// The raw spans of the steps shown, which their "span" links point
	// at; the API has every span.
	inWindow := map[string]bool{}
	for _, st := range d.Steps {
		if st.SpanID != "" {
			inWindow[st.SpanID] = true
		}
	}
	limit := maxRawSpans
	if len(inWindow) == 0 {
		// Steps that name no span (a trace stored from a file): the
		// first few spans show the shape; the rest are in the API.
		limit = maxUnlinkedSpans
	}
	for _, sp := range spans {
		if len(inWindow) > 0 && !inWindow[sp.SpanID] || len(d.Spans) == limit {
			d.SpansCut++
			continue
		}
		b, err := otlp.ResourceSpansJSON(sp)
		js := ""
		if err != nil {
			js = "does not decode: " + err.Error()
		} else {
			var ind bytes.Buffer
			json.Indent(&ind, b, "", "  ")
			js = ind.String()
		}
		d.Spans = append(d.Spans, spanView{ID: sp.SpanID, JSON: cut(js, maxFull)})
	}
	d.CSRF = CSRFToken(r)
	u.render(w, r, "trace", "Trace "+shortID(id), d)
}

// timeline fills the steps of the window starting at from, the findings
// at their steps, and the blast-radius graphs.
func (u *UI) timeline(d *traceData, t *probity.Trace, rep *report, from string) {
	side, reached := map[int]bool{}, map[int]bool{}
	byPos := map[int]int{} // source position → first step index
	for i, s := range t.Steps {
		if _, ok := byPos[s.Pos.Index]; !ok {
			byPos[s.Pos.Index] = i
		}
	}
	d.Total = len(t.Steps)
	start, err := strconv.Atoi(from)
	if err != nil && rep.RootCauseStep != nil {
		// With no window asked for, open the one with the root cause:
		// it is what the page is for.
		start = byPos[*rep.RootCauseStep]
	}
	start = max(0, min(start, len(t.Steps)-1))
	start -= start % u.o.StepWindow
	end := min(len(t.Steps), start+u.o.StepWindow)
	d.From, d.To = start, end
	win := &stepWindow{id: d.ID, from: start, to: end, size: u.o.StepWindow, index: byPos}
	d.Win = win
	if start > 0 {
		d.Prev = fmt.Sprintf("/traces/%s?from=%d", d.ID, max(0, start-u.o.StepWindow))
	}
	if end < len(t.Steps) {
		d.Next = fmt.Sprintf("/traces/%s?from=%d", d.ID, end)
	}
	atStep := map[int][]findingView{}
	for _, f := range rep.Findings {
		fv := findingView{Win: win, Detector: f.Detector, Sev: severityOf(f.Severity), Confidence: f.Confidence, Step: f.Step,
			Message: f.Message, Blast: f.BlastRadius, Policy: strings.HasPrefix(f.Detector, "policy:")}
		for _, e := range f.Evidence {
			fv.Evidence = append(fv.Evidence, evidenceView{Value: e.Value, Kind: e.Kind, Class: e.Class, Source: e.Source, Note: e.Note, SourceStep: e.SourceStep})
			if e.Kind == "side-effect" && e.SourceStep >= 0 {
				side[e.SourceStep] = true
			}
		}
		for _, p := range f.BlastRadius {
			reached[p] = true
		}
		atStep[f.Step] = append(atStep[f.Step], fv)
		d.Findings = append(d.Findings, fv)
		if fv.Policy {
			d.Policy = append(d.Policy, fv)
		}
	}
	label := func(pos int) string {
		i, ok := byPos[pos]
		if !ok {
			return "not in trace"
		}
		s := t.Steps[i]
		if s.Tool != nil && s.Tool.Name != "" {
			return string(s.Kind) + " " + s.Tool.Name
		}
		return string(s.Kind) + " " + s.Content
	}
	for _, f := range rep.Findings {
		if len(f.BlastRadius) == 0 {
			continue
		}
		g := graphView{Origin: f.Step}
		var nodes []graphNode
		for _, p := range f.BlastRadius {
			nodes = append(nodes, graphNode{Pos: p, Label: label(p), SideEffect: side[p]})
			if side[p] {
				g.Sides++
			}
		}
		g.SVG = blastGraph(graphNode{Pos: f.Step, Label: label(f.Step), Origin: true}, nodes, win.Href)
		d.Graphs = append(d.Graphs, g)
	}
	if rep.RootCauseStep != nil {
		d.RootText = label(*rep.RootCauseStep)
	}
	depth := stepDepths(t)
	t0 := firstStart(t)
	seen := map[int]bool{}
	for i := start; i < end; i++ {
		s := t.Steps[i]
		v := stepView{Index: i, Kind: string(s.Kind), Actor: oneLine(s.Actor, 24), Depth: min(depth[i], 8), SpanID: s.Pos.SpanID,
			Root: rep.RootCauseStep != nil && *rep.RootCauseStep == s.Pos.Index, Reached: reached[s.Pos.Index], SideEffect: side[s.Pos.Index]}
		v.Pos = strconv.Itoa(s.Pos.Index)
		if s.Pos.Part > 0 {
			v.Pos = fmt.Sprintf("%d.%d", s.Pos.Index, s.Pos.Part)
		}
		if !seen[s.Pos.Index] {
			seen[s.Pos.Index] = true
			v.Anchor = fmt.Sprintf("step-%d", s.Pos.Index)
			v.Findings = atStep[s.Pos.Index]
		}
		text := s.Content
		if s.Tool != nil {
			v.Tool = oneLine(s.Tool.Name, 80)
			if s.Kind == probity.KindToolCall {
				text = string(s.Tool.Args)
				if text == "" {
					text = s.Tool.RawArgs
				}
			}
		}
		if s.Error != nil {
			v.Error = oneLine(cmp.Or(s.Error.Message, s.Error.Code, "error"), 200)
		}
		v.Text = oneLine(text, maxText)
		if len(text) > maxText {
			v.Full, v.FullBytes = cut(text, maxFull), len(text)
		}
		if !s.Start.IsZero() && !t0.IsZero() {
			v.At = fmt.Sprintf("+%.1fs", s.Start.Sub(t0).Seconds())
		}
		d.Steps = append(d.Steps, v)
	}
}

// stepDepths is each step's nesting under the steps that handed off to
// it, as show prints it; cyclic links stop at the number of steps.
func stepDepths(t *probity.Trace) []int {
	byID := map[string]int{}
	for i, s := range t.Steps {
		if s.ID != "" {
			if _, dup := byID[s.ID]; !dup {
				byID[s.ID] = i
			}
		}
	}
	out := make([]int, len(t.Steps))
	for i, s := range t.Steps {
		d, p := 0, s.ParentID
		for p != "" && d < len(t.Steps) && d < 8 {
			j, ok := byID[p]
			if !ok || j == i {
				break
			}
			d++
			p = t.Steps[j].ParentID
		}
		out[i] = d
	}
	return out
}

func firstStart(t *probity.Trace) (t0 time.Time) {
	for _, s := range t.Steps {
		if !s.Start.IsZero() && (t0.IsZero() || s.Start.Before(t0)) {
			t0 = s.Start
		}
	}
	return t0
}

func (u *UI) feedback(w http.ResponseWriter, r *http.Request) {
	if u.o.ReadOnly {
		u.fail(w, r, probity.Errorf(probity.EINVALID, "probity view is read-only: feedback is kept by probity serve"))
		return
	}
	id := strings.ToLower(r.PathValue("id"))
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, probity.Errorf(probity.EINVALID, "feedback form: %v", err))
		return
	}
	if !ValidCSRF(r) {
		u.fail(w, r, errForbidden("feedback form: the anti-forgery token is missing or stale; reload the page and send it again"))
		return
	}
	fb := store.Feedback{TraceID: id, Label: r.PostForm.Get("label"), Note: strings.TrimSpace(r.PostForm.Get("note"))}
	if s := strings.TrimSpace(r.PostForm.Get("step")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			u.fail(w, r, probity.Errorf(probity.EINVALID, "step %q: want a step number", s))
			return
		}
		fb.Step = &n
	}
	if _, err := u.o.Store.AddFeedback(r.Context(), fb); err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/traces/"+id+"?saved=1#feedback", http.StatusSeeOther)
}

// rowView is one aligned row of a comparison.
type rowView struct {
	I          int
	A, B       *stepView
	Same       bool
	Divergence bool
}

type compareData struct {
	A, B       string
	Rows       []rowView
	Divergence int
	Shown      bool
	Cut        int
}

// compareRows bounds a side-by-side comparison.
const compareRows = 2000

func (u *UI) compare(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := compareData{A: strings.ToLower(strings.TrimSpace(q.Get("a"))), B: strings.ToLower(strings.TrimSpace(q.Get("b"))), Divergence: -1}
	if d.A == "" || d.B == "" {
		u.render(w, r, "compare", "Compare traces", d)
		return
	}
	ta, _, err := u.load(r.Context(), d.A)
	if err != nil {
		u.fail(w, r, fmt.Errorf("trace a: %w", err))
		return
	}
	tb, _, err := u.load(r.Context(), d.B)
	if err != nil {
		u.fail(w, r, fmt.Errorf("trace b: %w", err))
		return
	}
	d.Shown = true
	n := max(len(ta.Steps), len(tb.Steps))
	for i := range min(n, compareRows) {
		row := rowView{I: i}
		if i < len(ta.Steps) {
			row.A = brief(ta.Steps[i])
		}
		if i < len(tb.Steps) {
			row.B = brief(tb.Steps[i])
		}
		row.Same = i < len(ta.Steps) && i < len(tb.Steps) && sameStep(ta.Steps[i], tb.Steps[i])
		if !row.Same && d.Divergence < 0 {
			d.Divergence, row.Divergence = i, true
		}
		d.Rows = append(d.Rows, row)
	}
	d.Cut = n - len(d.Rows)
	u.render(w, r, "compare", "Compare traces", d)
}

func brief(s probity.Step) *stepView {
	v := &stepView{Kind: string(s.Kind), Actor: oneLine(s.Actor, 24), Pos: strconv.Itoa(s.Pos.Index)}
	text := s.Content
	if s.Tool != nil {
		v.Tool = oneLine(s.Tool.Name, 80)
		if s.Kind == probity.KindToolCall {
			text = string(s.Tool.Args)
		}
	}
	v.Text = oneLine(text, 300)
	return v
}

// sameStep compares what a step did, not when: kind, tool, arguments and
// text. Sibling runs and a replay differ in ids and times everywhere.
func sameStep(a, b probity.Step) bool {
	if a.Kind != b.Kind || strings.TrimSpace(a.Content) != strings.TrimSpace(b.Content) {
		return false
	}
	if (a.Tool == nil) != (b.Tool == nil) {
		return false
	}
	if a.Tool != nil {
		return a.Tool.Name == b.Tool.Name && canonical(a.Tool.Args) == canonical(b.Tool.Args) && a.Tool.RawArgs == b.Tool.RawArgs
	}
	return true
}

func canonical(b json.RawMessage) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

type evalsData struct {
	Runs []store.EvalRun
}

func (u *UI) evals(w http.ResponseWriter, r *http.Request) {
	runs, err := u.o.Store.EvalRuns(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, "evals", "Eval runs", evalsData{runs})
}

type evalData struct {
	Run     store.EvalRun
	Sum     *eval.Summary
	Forest  template.HTML
	Curve   template.HTML
	Classes []countView
	Others  []store.EvalRun
}

func (u *UI) loadRun(ctx context.Context, id string) (store.EvalRun, *eval.Run, error) {
	sr, err := u.o.Store.EvalRun(ctx, id)
	if err != nil {
		return sr, nil, err
	}
	run, err := eval.DecodeRun("eval run "+id, bytes.NewReader(sr.Data))
	return sr, run, err
}

func (u *UI) evalRun(w http.ResponseWriter, r *http.Request) {
	sr, run, err := u.loadRun(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	s := eval.Summarize(run, nil)
	d := evalData{Run: sr, Sum: s}
	rows := make([]forestRow, 0, len(s.Cases))
	for _, c := range s.Cases {
		rows = append(rows, forestRow{Label: c.ID, P: c.PassRate, Lo: c.Interval[0], Hi: c.Interval[1], Class: c.Class})
	}
	d.Forest = forest(rows, s.Suite.PassRate)
	var pts []curvePoint
	for k := 1; ; k++ {
		v, ok := s.Suite.PassHatK[strconv.Itoa(k)]
		if !ok {
			break
		}
		iv := s.Suite.PassHatKInterval[strconv.Itoa(k)]
		pts = append(pts, curvePoint{K: k, V: v, Lo: iv[0], Hi: iv[1]})
	}
	d.Curve = curve(pts, "pass^k: the chance that all k trials of a case pass, with its 95% interval")
	d.Classes = sortedCounts(s.Suite.Classes)
	others, err := u.o.Store.EvalRuns(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for _, o := range others {
		if o.ID != sr.ID {
			d.Others = append(d.Others, o)
		}
	}
	u.render(w, r, "eval", "Eval run "+shortID(sr.ID), d)
}

type evalCompareData struct {
	A, B store.EvalRun
	C    *eval.Comparison
}

func (u *UI) evalCompare(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ra, a, err := u.loadRun(r.Context(), q.Get("a"))
	if err != nil {
		u.fail(w, r, fmt.Errorf("run a: %w", err))
		return
	}
	rb, b, err := u.loadRun(r.Context(), q.Get("b"))
	if err != nil {
		u.fail(w, r, fmt.Errorf("run b: %w", err))
		return
	}
	c := eval.Compare(a, b, eval.CompareOptions{})
	u.render(w, r, "evalcompare", "Compare eval runs", evalCompareData{ra, rb, c})
}

// alertView is an alert with its rate chart.
type alertView struct {
	monitor.Alert
	Chart template.HTML
}

type rateView = monitor.Rate

func alertOf(a monitor.Alert) alertView {
	return alertView{Alert: a, Chart: rateBand(a.Baseline, a.Before, a.After, fmtTime(a.Change.At))}
}

type monitorsData struct {
	On       bool
	Monitors []monitor.MonitorStatus
	Alerts   []alertView
	Series   []seriesView
	// Since is the period's query value; More counts series not drawn.
	Since string
	More  int
}

// seriesView is one group's rate over time.
type seriesView struct {
	ID           string
	Monitor      string
	Group        map[string]string
	Chart        template.HTML
	Points       int
	Changepoints []monitor.Changepoint
}

// maxCharts bounds the series drawn on the monitors page; the API has
// them all.
const maxCharts = 60

// periods are the choices of the monitors page's period.
var periods = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

func (u *UI) monitors(w http.ResponseWriter, r *http.Request) {
	d := monitorsData{Since: r.URL.Query().Get("since")}
	var since time.Time
	if d.Since != "" && d.Since != "all" {
		p, ok := periods[d.Since]
		if !ok {
			u.fail(w, r, probity.Errorf(probity.EINVALID, "since %q: want 24h, 7d, 30d or all", d.Since))
			return
		}
		since = u.o.Now().Add(-p)
	}
	if u.o.Monitors != nil {
		d.On = true
		ms, err := monitor.Snapshot(r.Context(), u.o.MonitorConfig, u.o.Monitors)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		as, err := u.o.Monitors.Alerts(r.Context(), monitor.AlertQuery{})
		if err != nil {
			u.fail(w, r, err)
			return
		}
		d.Monitors = ms
		for _, a := range as {
			d.Alerts = append(d.Alerts, alertOf(a))
		}
		// Series with a changepoint first: they are what a person came
		// to see; the quiet ones follow in monitor order.
		var all []monitor.SeriesHistory
		for _, m := range ms {
			hs, err := monitor.History(r.Context(), u.o.MonitorConfig, u.o.Monitors, monitor.PointQuery{Monitor: m.Name, Since: since})
			if err != nil {
				u.fail(w, r, err)
				return
			}
			all = append(all, hs...)
		}
		slices.SortStableFunc(all, func(a, b monitor.SeriesHistory) int {
			return cmp.Compare(min(len(b.Changepoints), 1), min(len(a.Changepoints), 1))
		})
		for _, h := range all {
			if len(h.Points) == 0 {
				continue // an alert whose buckets have been swept
			}
			if len(d.Series) == maxCharts {
				d.More++
				continue
			}
			title := fmt.Sprintf("%s (%s): rate over time with 95%% intervals, %d changepoints", h.Monitor, groupText(h.Group), len(h.Changepoints))
			d.Series = append(d.Series, seriesView{ID: fmt.Sprintf("series-%d", len(d.Series)), Monitor: h.Monitor, Group: h.Group,
				Chart: rateSeries(h.Points, h.Changepoints, short(title, 300)), Points: len(h.Points), Changepoints: h.Changepoints})
		}
	}
	u.render(w, r, "monitors", "Monitors and alerts", d)
}

// groupText is a group as "k=v, k=v" in key order.
func groupText(g map[string]string) string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+g[k])
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}

// approvalsView is the approvals page.
type approvalsView struct {
	// Shared says a guard may keep approvals in this store.
	Shared     bool
	CanResolve bool
	NoToken    string
	Pending    []guard.Approval
	Recent     []guard.Approval // answered, newest first
	Done       string
}

// recentApprovals is how many answered approvals the page lists.
const recentApprovals = 20

func (u *UI) approvals(w http.ResponseWriter, r *http.Request) {
	v := approvalsView{Shared: u.o.Approvals != nil && !u.o.ReadOnly}
	if !v.Shared {
		u.render(w, r, "approvals", "Approvals", v)
		return
	}
	if _, err := u.approverToken(); err != nil {
		v.NoToken = err.Error()
	} else {
		v.CanResolve = true
	}
	var err error
	if v.Pending, err = u.o.Approvals.Approvals(r.Context(), guard.StatusPending, 1000); err != nil {
		u.fail(w, r, err)
		return
	}
	all, err := u.o.Approvals.Approvals(r.Context(), "", 200)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for i := len(all) - 1; i >= 0 && len(v.Recent) < recentApprovals; i-- {
		if all[i].Status != guard.StatusPending {
			v.Recent = append(v.Recent, all[i])
		}
	}
	switch d, id := r.URL.Query().Get("done"), r.URL.Query().Get("id"); d {
	case guard.StatusApproved, guard.StatusDenied:
		v.Done = fmt.Sprintf("%s %s: the guard that holds the call will act on it.", d, cut(id, 40))
	}
	u.render(w, r, "approvals", "Approvals", v)
}

// codeForbidden is the error code of an answer without the approver token.
const codeForbidden = "forbidden"

func (u *UI) approverToken() (string, error) {
	if u.o.ApproverToken == nil {
		return "", errors.New("no approver token is configured")
	}
	t, err := u.o.ApproverToken()
	if err != nil {
		return "", err
	}
	if len(t) < guard.MinTokenLength {
		return "", fmt.Errorf("the approver token is shorter than %d characters", guard.MinTokenLength)
	}
	return t, nil
}

// resolveApproval approves or denies a held call from the page's form. It
// works without JavaScript (a plain POST, then a redirect back) and needs
// what the guard's own API needs: the approver token, and a same-origin
// request (the UI's cross-origin protection covers every POST).
func (u *UI) resolveApproval(w http.ResponseWriter, r *http.Request) {
	if u.o.Approvals == nil || u.o.ReadOnly {
		u.fail(w, r, probity.Errorf(probity.EINVALID, "no guard shares this store: answer approvals with probity approvals"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, probity.Errorf(probity.EINVALID, "approval form: %v", err))
		return
	}
	want, err := u.approverToken()
	if err != nil {
		u.fail(w, r, &probity.Error{Code: codeForbidden, Message: "approvals cannot be answered here: " + err.Error()})
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(want)) != 1 {
		u.fail(w, r, &probity.Error{Code: codeForbidden, Message: "approvals are answered with the guard's approver token, which this form did not carry"})
		return
	}
	var status string
	switch r.PostForm.Get("decision") {
	case "approve":
		status = guard.StatusApproved
	case "deny":
		status = guard.StatusDenied
	default:
		u.fail(w, r, probity.Errorf(probity.EINVALID, "decision %q: want approve or deny", r.PostForm.Get("decision")))
		return
	}
	by := strings.TrimSpace(r.PostForm.Get("by"))
	if by == "" {
		by = "web UI"
	}
	note := strings.TrimSpace(r.PostForm.Get("note"))
	if len(by) > 200 || len(note) > store.MaxNote {
		u.fail(w, r, probity.Errorf(probity.EINVALID, "name or note too long (at most 200 and %d bytes)", store.MaxNote))
		return
	}
	id := r.PathValue("id")
	if _, err := u.o.Approvals.ResolveApproval(r.Context(), id, status, by, note, u.o.Now()); err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/approvals?done="+status+"&id="+url.QueryEscape(id), http.StatusSeeOther)
}
