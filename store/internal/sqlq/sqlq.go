// Package sqlq holds what the SQL backends of the store share: the
// migration runner's view of embedded migration files and the trace list
// query, written once with the backend's placeholder style.
package sqlq

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/store"
)

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations reads the files NNNN_name.sql in dir of fsys, in version order.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version and _", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// SummaryColumns are the traces columns a TraceSummary is scanned from, in
// ScanSummary's order, qualified by the alias t.
const SummaryColumns = `t.trace_id, t.service, t.agent, t.started_ns, t.ended_ns, t.spans, t.received_ns,
 t.verdict, t.root_cause_step, t.steps, t.detectors, t.analysed_ns, t.revision, t.gen > t.analysed_gen`

// Row is what Scan needs from a row.
type Row interface{ Scan(dest ...any) error }

// ScanSummary scans a row of SummaryColumns, and then into extra.
func ScanSummary(r Row, extra ...any) (store.TraceSummary, []byte, error) {
	var (
		s                    store.TraceSummary
		id                   []byte
		verdict, detectors   *string
		rootCause            *int64
		started, ended, recv int64
		analysed             int64
		spans, steps, rev    int64
	)
	dest := append([]any{&id, &s.Service, &s.Agent, &started, &ended, &spans, &recv, &verdict, &rootCause, &steps, &detectors, &analysed, &rev, &s.Stale}, extra...)
	if err := r.Scan(dest...); err != nil {
		return s, nil, err
	}
	s.TraceID = fmt.Sprintf("%x", id)
	s.StartedAt, s.EndedAt, s.ReceivedAt, s.AnalysedAt = store.FromNanos(started), store.FromNanos(ended), store.FromNanos(recv), store.FromNanos(analysed)
	s.Spans, s.Steps, s.Revision = int(spans), int(steps), int(rev)
	if verdict != nil {
		s.Verdict = probity.Verdict(*verdict)
	}
	if rootCause != nil {
		n := int(*rootCause)
		s.RootCauseStep = &n
	}
	if detectors != nil && *detectors != "" {
		s.Detectors = strings.Split(*detectors, ",")
	}
	return s, id, nil
}

// List builds the query of one trace page: its text and arguments, with
// placeholders made by ph (1-based). Each row is SummaryColumns and then
// the started_ns the list is ordered by (the cursor's). It asks for
// Limit+1 rows so the caller knows whether a next page exists.
func List(f store.Filter, cur *store.Cursor, ph func(int) string) (string, []any) {
	var (
		conds []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return ph(len(args))
	}
	// With a detector the list walks trace_detectors' index, ordered by
	// its own copy of started_ns.
	order, from := "t", "traces t"
	if f.Detector != "" {
		order, from = "d", "trace_detectors d JOIN traces t ON t.trace_id = d.trace_id"
		conds = append(conds, "d.detector = "+arg(f.Detector))
	}
	switch f.Verdict {
	case "":
	case store.VerdictPending:
		conds = append(conds, "t.verdict IS NULL")
	default:
		conds = append(conds, "t.verdict = "+arg(f.Verdict))
	}
	if f.Service != "" {
		conds = append(conds, "t.service = "+arg(f.Service))
	}
	if f.Agent != "" {
		conds = append(conds, "t.agent = "+arg(f.Agent))
	}
	if !f.Since.IsZero() {
		conds = append(conds, order+".started_ns >= "+arg(store.Nanos(f.Since)))
	}
	if !f.Until.IsZero() {
		conds = append(conds, order+".started_ns < "+arg(store.Nanos(f.Until)))
	}
	if cur != nil {
		conds = append(conds, fmt.Sprintf("(%s.started_ns, %s.trace_id) < (%s, %s)", order, order, arg(cur.StartedNS), arg(cur.TraceID)))
	}
	q := "SELECT " + SummaryColumns + ", " + order + ".started_ns FROM " + from
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s.started_ns DESC, %s.trace_id DESC LIMIT %d", order, order, f.Limit+1)
	return q, args
}

// Rows is what CollectPage needs from a result set (database/sql's and
// pgx's both fit).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// CollectPage reads the rows of a List query into a page of at most limit
// traces, with the cursor of the next page when there is one.
func CollectPage(rows Rows, limit int) (store.Page, error) {
	var p store.Page
	var last store.Cursor
	for rows.Next() {
		var orderNS int64
		s, id, err := ScanSummary(rows, &orderNS)
		if err != nil {
			return p, err
		}
		if len(p.Traces) == limit {
			p.NextCursor = store.EncodeCursor(last)
			break
		}
		p.Traces = append(p.Traces, s)
		last = store.Cursor{StartedNS: orderNS, TraceID: id}
	}
	return p, rows.Err()
}
