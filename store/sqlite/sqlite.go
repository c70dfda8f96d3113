// Package sqlite implements store.Store on SQLite through modernc.org/sqlite
// (pure Go, no cgo): the embedded store `probity serve` uses by default.
//
// The database runs in WAL mode with synchronous=FULL, so a committed
// transaction survives a crash of the process or the machine. Writes go
// through one connection (SQLite has one writer at a time) and take the
// write lock when they begin (BEGIN IMMEDIATE), which is what makes
// claiming ready traces safe across processes that share the file, the
// equivalent of PostgreSQL's FOR UPDATE SKIP LOCKED. Reads use a separate
// pool and see the latest committed state. Singleton locks are leases in
// a table, renewed while held.
package sqlite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/internal/sqlq"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options configure a DB.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LockTTL is how long a singleton lock holds without renewal (it is
	// renewed every third of it); 0 means 15 seconds.
	LockTTL time.Duration
	// Readers caps the read connections; 0 means 4.
	Readers int
}

// DB is a store.Store on one SQLite file.
type DB struct {
	w, r     *sql.DB
	now      func() time.Time
	lockTTL  time.Duration
	path     string
	stopCkpt chan struct{}
	ckptDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*DB)(nil)

// Open opens (creating it and its directory when needed) the database at
// path and brings its schema up to date.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	if path == "" {
		return nil, probity.Errorf(probity.EINVALID, "sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "create database directory", Err: err}
		}
	}
	db := &DB{now: o.Now, lockTTL: o.LockTTL, path: path}
	if db.now == nil {
		db.now = time.Now
	}
	if db.lockTTL <= 0 {
		db.lockTTL = 15 * time.Second
	}
	dsn := func(extra string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(30000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		// Checkpoints copy the WAL into the database and sync both; by
		// default one runs inside a commit every 1000 pages, which under
		// ingest load is every other transaction. A background passive
		// checkpoint (see checkpoints) does that work off the commit
		// path; this is the backstop.
		q.Add("_pragma", "wal_autocheckpoint(16384)")
		// Statement journals (a multi-row INSERT may abort halfway) stay
		// in memory instead of temporary files written by syscalls.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", "foreign_keys(0)")
		if extra != "" {
			q.Add("_txlock", extra)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	var err error
	if db.w, err = sql.Open("sqlite", dsn("immediate")); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxIdleTime(0)
	if err := db.w.PingContext(ctx); err != nil {
		db.w.Close()
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "open database", Err: err}
	}
	if err := db.migrate(ctx); err != nil {
		db.w.Close()
		return nil, err
	}
	if db.r, err = sql.Open("sqlite", dsn("")); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	n := o.Readers
	if n <= 0 {
		n = 4
	}
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	db.stopCkpt, db.ckptDone = make(chan struct{}), make(chan struct{})
	go db.checkpoints()
	return db, nil
}

// checkpoints runs a passive WAL checkpoint every second on a read
// connection: it copies committed pages into the database file without
// blocking writers, so commits do not pay for it.
func (db *DB) checkpoints() {
	defer close(db.ckptDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-db.stopCkpt:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		db.r.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		cancel()
	}
}

func (db *DB) migrate(ctx context.Context) error {
	ms, err := sqlq.Migrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	if _, err := db.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ns INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		// Each migration runs in its own write transaction; a second
		// process opening the file at the same time waits for it and
		// then sees it applied.
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if n > 0 {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_ns) VALUES (?, ?, ?)`, m.Version, m.Name, db.now().UnixNano()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close closes both connection pools. Closing twice returns the first
// call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.stopCkpt)
		<-db.ckptDone
		db.closeErr = errors.Join(db.r.Close(), db.w.Close())
	})
	return db.closeErr
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT 1`).Scan(&n); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// AddSpans stores spans; see store.Store.
func (db *DB) AddSpans(ctx context.Context, spans []store.Span) (store.AddResult, error) {
	var res store.AddResult
	if len(spans) == 0 {
		return res, nil
	}
	tids := make([][]byte, len(spans))
	sids := make([][]byte, len(spans))
	pids := make([][]byte, len(spans))
	for i := range spans {
		s := &spans[i]
		var err error
		if tids[i], err = store.ParseTraceID(s.TraceID); err != nil {
			return res, err
		}
		if sids[i], err = store.ParseSpanID(s.SpanID); err != nil {
			return res, err
		}
		if s.ParentID != "" {
			if pids[i], err = store.ParseSpanID(s.ParentID); err != nil {
				return res, err
			}
		}
	}
	now := db.now().UnixNano()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("add spans: %w", err)
	}
	defer tx.Rollback()
	insRes, err := tx.PrepareContext(ctx, `INSERT INTO resources (id, data) VALUES (?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return res, fmt.Errorf("add spans: %w", err)
	}
	defer insRes.Close()
	resIDs := map[string][]byte{}
	rids := make([][]byte, len(spans))
	for i := range spans {
		s := &spans[i]
		rid, ok := resIDs[string(s.Resource)]
		if !ok {
			h := sha256.Sum256(s.Resource)
			rid = h[:16]
			resIDs[string(s.Resource)] = rid
			if _, err := insRes.ExecContext(ctx, rid, s.Resource); err != nil {
				return res, fmt.Errorf("add spans: resource: %w", err)
			}
		}
		rids[i] = rid
	}
	// Many rows per statement: per-statement overhead (database/sql, the
	// VM's setup) dominated one row at a time. RETURNING names the rows
	// actually inserted, so duplicates are told apart.
	inserted := make(map[[24]byte]bool, len(spans))
	var chunkStmt *sql.Stmt
	for lo := 0; lo < len(spans); lo += spanChunk {
		hi := min(lo+spanChunk, len(spans))
		st := chunkStmt
		if hi-lo != spanChunk || st == nil {
			st, err = tx.PrepareContext(ctx, insertSpansSQL(hi-lo))
			if err != nil {
				return res, fmt.Errorf("add spans: %w", err)
			}
			if hi-lo == spanChunk {
				chunkStmt = st
				defer st.Close()
			} else {
				defer st.Close()
			}
		}
		args := make([]any, 0, 7*(hi-lo))
		for i := lo; i < hi; i++ {
			s := &spans[i]
			args = append(args, tids[i], sids[i], pids[i], store.Nanos(s.Start), store.Nanos(s.End), rids[i], s.Data)
		}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return res, fmt.Errorf("add spans: span: %w", err)
		}
		for rows.Next() {
			var t, sp []byte
			if err := rows.Scan(&t, &sp); err != nil {
				rows.Close()
				return res, fmt.Errorf("add spans: span: %w", err)
			}
			var k [24]byte
			copy(k[:16], t)
			copy(k[16:], sp)
			inserted[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return res, fmt.Errorf("add spans: span: %w", err)
		}
	}
	added := make([]int, 0, len(spans))
	for i := range spans {
		var k [24]byte
		copy(k[:16], tids[i])
		copy(k[16:], sids[i])
		if inserted[k] {
			delete(inserted, k) // a duplicate within the batch counts once
			added = append(added, i)
		}
	}
	res.Added, res.Duplicates = len(added), len(spans)-len(added)
	if len(added) > 0 {
		up, err := tx.PrepareContext(ctx, `INSERT INTO traces (trace_id, service, agent, started_ns, ended_ns, received_ns, root_ended, spans, gen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
			ON CONFLICT (trace_id) DO UPDATE SET
			  service = CASE WHEN excluded.root_ended = 1 AND excluded.service <> '' THEN excluded.service
			                 WHEN traces.service = '' THEN excluded.service ELSE traces.service END,
			  agent = CASE WHEN traces.agent = '' THEN excluded.agent ELSE traces.agent END,
			  started_ns = CASE WHEN traces.started_ns = 0 OR (excluded.started_ns <> 0 AND excluded.started_ns < traces.started_ns)
			                    THEN excluded.started_ns ELSE traces.started_ns END,
			  ended_ns = max(traces.ended_ns, excluded.ended_ns),
			  received_ns = excluded.received_ns,
			  root_ended = max(traces.root_ended, excluded.root_ended),
			  spans = traces.spans + excluded.spans,
			  gen = traces.gen + 1`)
		if err != nil {
			return res, fmt.Errorf("add spans: %w", err)
		}
		defer up.Close()
		for _, d := range store.Deltas(spans, tids, added) {
			if _, err := up.ExecContext(ctx, d.TraceID, d.Service, d.Agent, d.StartNS, d.EndNS, now, boolInt(d.RootEnded), d.Added); err != nil {
				return res, fmt.Errorf("add spans: trace: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return store.AddResult{}, fmt.Errorf("add spans: commit: %w", err)
	}
	return res, nil
}

// exec runs one write statement in its own BEGIN IMMEDIATE transaction:
// in WAL mode a write that starts as a read can fail with a busy snapshot
// when another process wrote in between, while one that takes the write
// lock first just waits its turn.
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return r, tx.Commit()
}

// spanChunk is the rows per span INSERT statement (7 parameters each,
// well under SQLite's limit of 32766).
const spanChunk = 128

func insertSpansSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO spans (trace_id, span_id, parent_id, start_ns, end_ns, resource, data) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?)")
	}
	b.WriteString(` ON CONFLICT (trace_id, span_id) DO NOTHING RETURNING trace_id, span_id`)
	return b.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ClaimReady claims ready traces; see store.Store. The write transaction
// (BEGIN IMMEDIATE) makes the select and the update one atomic step for
// every process sharing the file.
func (db *DB) ClaimReady(ctx context.Context, o store.ClaimOptions) ([]store.Claim, error) {
	if o.Limit <= 0 {
		return nil, nil
	}
	now := db.now()
	idleCut := now.Add(-o.Idle).UnixNano()
	orphanCut := now.Add(-max(o.OrphanIdle, o.Idle)).UnixNano()
	token := newToken()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim ready traces: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `UPDATE traces SET lease_token = ?, lease_until_ns = ?
		WHERE trace_id IN (
		  SELECT trace_id FROM traces
		  WHERE gen > analysed_gen AND received_ns <= ? AND lease_until_ns <= ?
		    AND (root_ended = 1 OR received_ns <= ?)
		  ORDER BY received_ns LIMIT ?)
		RETURNING trace_id, gen`,
		token, now.Add(o.Lease).UnixNano(), idleCut, now.UnixNano(), orphanCut, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("claim ready traces: %w", err)
	}
	defer rows.Close()
	var out []store.Claim
	for rows.Next() {
		var id []byte
		var gen int64
		if err := rows.Scan(&id, &gen); err != nil {
			return nil, fmt.Errorf("claim ready traces: %w", err)
		}
		out = append(out, store.Claim{TraceID: hex.EncodeToString(id), Gen: gen, Token: token})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim ready traces: %w", err)
	}
	rows.Close()
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim ready traces: commit: %w", err)
	}
	return out, nil
}

// Spans returns a trace's spans; see store.Store.
func (db *DB) Spans(ctx context.Context, traceID string) ([]store.Span, error) {
	tid, err := store.ParseTraceID(traceID)
	if err != nil {
		return nil, err
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read spans: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT span_id, parent_id, start_ns, end_ns, resource, data FROM spans
		WHERE trace_id = ? ORDER BY start_ns, span_id`, tid)
	if err != nil {
		return nil, fmt.Errorf("read spans: %w", err)
	}
	defer rows.Close()
	var out []store.Span
	var rids [][]byte
	for rows.Next() {
		var sid, pid, rid []byte
		var start, end int64
		s := store.Span{TraceID: traceID}
		if err := rows.Scan(&sid, &pid, &start, &end, &rid, &s.Data); err != nil {
			return nil, fmt.Errorf("read spans: %w", err)
		}
		s.SpanID = hex.EncodeToString(sid)
		if len(pid) > 0 {
			s.ParentID = hex.EncodeToString(pid)
		}
		s.Start, s.End = store.FromNanos(start), store.FromNanos(end)
		out = append(out, s)
		rids = append(rids, rid)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read spans: %w", err)
	}
	if len(out) == 0 {
		return nil, probity.Errorf(probity.ENOTFOUND, "trace %s not found", traceID)
	}
	resources := map[string][]byte{}
	for i, rid := range rids {
		data, ok := resources[string(rid)]
		if !ok {
			if err := tx.QueryRowContext(ctx, `SELECT data FROM resources WHERE id = ?`, rid).Scan(&data); err != nil {
				return nil, fmt.Errorf("read spans: resource: %w", err)
			}
			resources[string(rid)] = data
		}
		out[i].Resource = data
	}
	return out, nil
}

// SaveAnalyses stores analyses under their claims; see store.Store.
func (db *DB) SaveAnalyses(ctx context.Context, as []store.ClaimedAnalysis) ([]error, error) {
	errs := make([]error, len(as))
	tids := make([][]byte, len(as))
	for i, ca := range as {
		var err error
		if tids[i], err = store.ParseTraceID(ca.Claim.TraceID); err != nil {
			return nil, err
		}
	}
	now := db.now().UnixNano()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("save analyses: %w", err)
	}
	defer tx.Rollback()
	var stmts [4]*sql.Stmt
	for k, q := range []string{
		`UPDATE traces SET analysed_gen = ?, lease_token = NULL, lease_until_ns = 0,
		   verdict = ?, root_cause_step = ?, steps = ?, detectors = ?, analysed_ns = ?, revision = revision + 1
		 WHERE trace_id = ? AND lease_token = ? RETURNING revision, started_ns`,
		`INSERT INTO analyses (trace_id, revision, analysed_ns, report, error) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (trace_id) DO UPDATE SET revision = excluded.revision, analysed_ns = excluded.analysed_ns,
		   report = excluded.report, error = excluded.error`,
		`DELETE FROM trace_detectors WHERE trace_id = ?`,
		`INSERT INTO trace_detectors (detector, started_ns, trace_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
	} {
		if stmts[k], err = tx.PrepareContext(ctx, q); err != nil {
			return nil, fmt.Errorf("save analyses: %w", err)
		}
		defer stmts[k].Close()
	}
	for i, ca := range as {
		c, a := ca.Claim, ca.Analysis
		verdict := string(a.Verdict)
		if a.Error != "" {
			verdict = store.VerdictError
		}
		var rev, started int64
		err := stmts[0].QueryRowContext(ctx, c.Gen, verdict, intPtr(a.RootCauseStep), a.Steps, strings.Join(a.Detectors, ","), now, tids[i], c.Token).Scan(&rev, &started)
		if errors.Is(err, sql.ErrNoRows) {
			errs[i] = probity.Errorf(probity.ECONFLICT, "claim on trace %s no longer holds", c.TraceID)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("save analyses: %w", err)
		}
		if _, err := stmts[1].ExecContext(ctx, tids[i], rev, now, []byte(a.Report), a.Error); err != nil {
			return nil, fmt.Errorf("save analyses: %w", err)
		}
		if _, err := stmts[2].ExecContext(ctx, tids[i]); err != nil {
			return nil, fmt.Errorf("save analyses: %w", err)
		}
		for _, d := range a.Detectors {
			if _, err := stmts[3].ExecContext(ctx, d, started, tids[i]); err != nil {
				return nil, fmt.Errorf("save analyses: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("save analyses: commit: %w", err)
	}
	return errs, nil
}

func intPtr(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// Release gives a claim back; see store.Store.
func (db *DB) Release(ctx context.Context, c store.Claim) error {
	tid, err := store.ParseTraceID(c.TraceID)
	if err != nil {
		return err
	}
	if _, err := db.exec(ctx, `UPDATE traces SET lease_token = NULL, lease_until_ns = 0 WHERE trace_id = ? AND lease_token = ?`, tid, c.Token); err != nil {
		return fmt.Errorf("release claim: %w", err)
	}
	return nil
}

// Trace returns one trace's summary; see store.Store.
func (db *DB) Trace(ctx context.Context, traceID string) (store.TraceSummary, error) {
	tid, err := store.ParseTraceID(traceID)
	if err != nil {
		return store.TraceSummary{}, err
	}
	s, _, err := sqlq.ScanSummary(db.r.QueryRowContext(ctx, `SELECT `+sqlq.SummaryColumns+` FROM traces t WHERE t.trace_id = ?`, tid))
	if errors.Is(err, sql.ErrNoRows) {
		return s, probity.Errorf(probity.ENOTFOUND, "trace %s not found", traceID)
	}
	if err != nil {
		return s, fmt.Errorf("read trace: %w", err)
	}
	return s, nil
}

// Analysis returns a trace's latest analysis; see store.Store.
func (db *DB) Analysis(ctx context.Context, traceID string) (store.Analysis, error) {
	tid, err := store.ParseTraceID(traceID)
	if err != nil {
		return store.Analysis{}, err
	}
	a := store.Analysis{TraceID: traceID}
	var verdict, detectors *string
	var rootCause *int64
	var steps, rev, at int64
	var report []byte
	err = db.r.QueryRowContext(ctx, `SELECT t.verdict, t.root_cause_step, t.detectors, t.steps, a.revision, a.analysed_ns, a.report, a.error
		FROM analyses a JOIN traces t ON t.trace_id = a.trace_id WHERE a.trace_id = ?`, tid).
		Scan(&verdict, &rootCause, &detectors, &steps, &rev, &at, &report, &a.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return a, probity.Errorf(probity.ENOTFOUND, "trace %s has no analysis", traceID)
	}
	if err != nil {
		return a, fmt.Errorf("read analysis: %w", err)
	}
	if verdict != nil && *verdict != store.VerdictError {
		a.Verdict = probity.Verdict(*verdict)
	}
	if rootCause != nil {
		n := int(*rootCause)
		a.RootCauseStep = &n
	}
	if detectors != nil && *detectors != "" {
		a.Detectors = strings.Split(*detectors, ",")
	}
	a.Steps, a.Revision, a.AnalysedAt, a.Report = int(steps), int(rev), store.FromNanos(at), report
	return a, nil
}

// ListTraces returns one page of traces; see store.Store.
func (db *DB) ListTraces(ctx context.Context, f store.Filter) (store.Page, error) {
	if err := store.CheckFilter(&f); err != nil {
		return store.Page{}, err
	}
	var cur *store.Cursor
	if f.Cursor != "" {
		c, err := store.DecodeCursor(f.Cursor)
		if err != nil {
			return store.Page{}, err
		}
		cur = &c
	}
	q, args := sqlq.List(f, cur, func(int) string { return "?" })
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return store.Page{}, fmt.Errorf("list traces: %w", err)
	}
	defer rows.Close()
	p, err := sqlq.CollectPage(rows, f.Limit)
	if err != nil {
		return store.Page{}, fmt.Errorf("list traces: %w", err)
	}
	return p, nil
}

// AddFeedback stores feedback; see store.Store.
func (db *DB) AddFeedback(ctx context.Context, fb store.Feedback) (store.Feedback, error) {
	if err := store.CheckFeedback(fb); err != nil {
		return fb, err
	}
	tid, err := store.ParseTraceID(fb.TraceID)
	if err != nil {
		return fb, err
	}
	now := db.now()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fb, fmt.Errorf("add feedback: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM traces WHERE trace_id = ?`, tid).Scan(&n); err != nil {
		return fb, fmt.Errorf("add feedback: %w", err)
	}
	if n == 0 {
		return fb, probity.Errorf(probity.ENOTFOUND, "trace %s not found", fb.TraceID)
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO feedback (trace_id, label, step, note, created_ns) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		tid, fb.Label, intPtr(fb.Step), fb.Note, now.UnixNano()).Scan(&fb.ID); err != nil {
		return fb, fmt.Errorf("add feedback: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fb, fmt.Errorf("add feedback: commit: %w", err)
	}
	fb.CreatedAt = store.FromNanos(now.UnixNano())
	return fb, nil
}

// Feedback returns a trace's feedback; see store.Store.
func (db *DB) Feedback(ctx context.Context, traceID string) ([]store.Feedback, error) {
	tid, err := store.ParseTraceID(traceID)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, label, step, note, created_ns FROM feedback WHERE trace_id = ? ORDER BY id`, tid)
	if err != nil {
		return nil, fmt.Errorf("read feedback: %w", err)
	}
	defer rows.Close()
	var out []store.Feedback
	for rows.Next() {
		fb := store.Feedback{TraceID: traceID}
		var step *int64
		var at int64
		if err := rows.Scan(&fb.ID, &fb.Label, &step, &fb.Note, &at); err != nil {
			return nil, fmt.Errorf("read feedback: %w", err)
		}
		if step != nil {
			n := int(*step)
			fb.Step = &n
		}
		fb.CreatedAt = store.FromNanos(at)
		out = append(out, fb)
	}
	return out, rows.Err()
}

// AddEvalRun stores an eval run once per ID; see store.Store.
func (db *DB) AddEvalRun(ctx context.Context, r store.EvalRun) (bool, error) {
	if r.ID == "" {
		return false, probity.Errorf(probity.EINVALID, "eval run without an id")
	}
	res, err := db.exec(ctx, `INSERT INTO eval_runs (id, suite, started_ns, received_ns, trials, data) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, r.ID, r.Suite, store.Nanos(r.Started), db.now().UnixNano(), r.Trials, r.Data)
	if err != nil {
		return false, fmt.Errorf("add eval run: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// EvalRuns lists eval runs; see store.Store.
func (db *DB) EvalRuns(ctx context.Context) ([]store.EvalRun, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, suite, started_ns, received_ns, trials FROM eval_runs ORDER BY received_ns DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("read eval runs: %w", err)
	}
	defer rows.Close()
	var out []store.EvalRun
	for rows.Next() {
		var r store.EvalRun
		var started, received int64
		if err := rows.Scan(&r.ID, &r.Suite, &started, &received, &r.Trials); err != nil {
			return nil, fmt.Errorf("read eval runs: %w", err)
		}
		r.Started, r.ReceivedAt = store.FromNanos(started), store.FromNanos(received)
		out = append(out, r)
	}
	return out, rows.Err()
}

// EvalRun returns one eval run; see store.Store.
func (db *DB) EvalRun(ctx context.Context, id string) (store.EvalRun, error) {
	r := store.EvalRun{ID: id}
	var started, received int64
	err := db.r.QueryRowContext(ctx, `SELECT suite, started_ns, received_ns, trials, data FROM eval_runs WHERE id = ?`, id).
		Scan(&r.Suite, &started, &received, &r.Trials, &r.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return r, probity.Errorf(probity.ENOTFOUND, "eval run %s not found", id)
	}
	if err != nil {
		return r, fmt.Errorf("read eval run: %w", err)
	}
	r.Started, r.ReceivedAt = store.FromNanos(started), store.FromNanos(received)
	return r, nil
}

// DeleteBefore deletes traces idle since cutoff; see store.Store.
func (db *DB) DeleteBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("delete old traces: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT trace_id FROM traces WHERE received_ns < ? ORDER BY received_ns LIMIT ?`, cutoff.UnixNano(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete old traces: %w", err)
	}
	var ids [][]byte
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("delete old traces: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("delete old traces: %w", err)
	}
	for _, q := range []string{
		`DELETE FROM spans WHERE trace_id = ?`,
		`DELETE FROM analyses WHERE trace_id = ?`,
		`DELETE FROM trace_detectors WHERE trace_id = ?`,
		`DELETE FROM feedback WHERE trace_id = ?`,
		`DELETE FROM traces WHERE trace_id = ?`,
	} {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("delete old traces: %w", err)
		}
		for _, id := range ids {
			if _, err := st.ExecContext(ctx, id); err != nil {
				st.Close()
				return 0, fmt.Errorf("delete old traces: %w", err)
			}
		}
		st.Close()
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete old traces: commit: %w", err)
	}
	return len(ids), nil
}

// TryLock takes a singleton lock as a lease row; see store.Store. The
// lease is renewed every third of Options.LockTTL until Unlock; a renewal
// that finds the row taken (the process stalled past the TTL) closes
// Lost.
func (db *DB) TryLock(ctx context.Context, name string) (store.Lock, bool, error) {
	owner := newToken()
	now := db.now()
	r, err := db.exec(ctx, `INSERT INTO locks (name, owner, until_ns) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ns = excluded.until_ns
		WHERE locks.until_ns < ? OR locks.owner = excluded.owner`,
		name, owner, now.Add(db.lockTTL).UnixNano(), now.UnixNano())
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return nil, false, nil
	}
	l := &lease{db: db, name: name, owner: owner, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew()
	return l, true, nil
}

type lease struct {
	db          *DB
	name, owner string
	lost        chan struct{}
	stop, done  chan struct{}
	once        sync.Once
}

func (l *lease) Lost() <-chan struct{} { return l.lost }

func (l *lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.db.lockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.db.lockTTL/3)
		r, err := l.db.exec(ctx, `UPDATE locks SET until_ns = ? WHERE name = ? AND owner = ?`,
			l.db.now().Add(l.db.lockTTL).UnixNano(), l.name, l.owner)
		cancel()
		n := int64(0)
		if err == nil {
			n, _ = r.RowsAffected()
		}
		if n == 0 {
			// Either the lease was taken or the database failed: in both
			// cases this process can no longer be sure it leads.
			close(l.lost)
			return
		}
	}
}

func (l *lease) Unlock(ctx context.Context) error {
	l.once.Do(func() { close(l.stop) })
	<-l.done
	if _, err := l.db.exec(ctx, `DELETE FROM locks WHERE name = ? AND owner = ?`, l.name, l.owner); err != nil {
		return fmt.Errorf("unlock %s: %w", l.name, err)
	}
	return nil
}
