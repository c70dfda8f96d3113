// Package postgres implements store.Store on PostgreSQL through pgx, for
// teams that run several `probity serve` replicas on one database.
//
// Replicas share nothing but the database: any replica may receive any
// span, spans are upserted under their (trace, span) key, ready traces are
// claimed with FOR UPDATE SKIP LOCKED so two replicas never analyse the
// same trace at once, and singleton jobs run under a session advisory lock
// that PostgreSQL releases when the holder's connection dies. Rows are
// written in id order so concurrent batches cannot deadlock.
package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/probity/probity"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/internal/sqlq"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options configure a DB.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxConns caps the connection pool; 0 means pgx's default.
	MaxConns int32
}

// DB is a store.Store on one PostgreSQL database (and the schema its
// connection's search_path names).
type DB struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string) and brings its schema up to date.
func Open(ctx context.Context, dsn string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, probity.Errorf(probity.EINVALID, "postgres: bad connection string: %v", err)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	db := &DB{pool: pool, now: o.Now}
	if db.now == nil {
		db.now = time.Now
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// migrate applies the migrations not yet applied, all in one transaction
// under a transaction advisory lock, so replicas starting together
// migrate once.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := sqlq.Migrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('probity.migrate:' || current_schema(), 0))`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ns BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, m := range ms {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, err)
			}
			if n > 0 {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_ns) VALUES ($1, $2, $3)`, m.Version, m.Name, db.now().UnixNano()); err != nil {
				return fmt.Errorf("migrate %s: %w", m.Name, err)
			}
		}
		return nil
	})
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// AddSpans stores spans; see store.Store.
func (db *DB) AddSpans(ctx context.Context, spans []store.Span) (store.AddResult, error) {
	var res store.AddResult
	if len(spans) == 0 {
		return res, nil
	}
	type row struct {
		i        int
		tid, sid []byte
		pid, rid []byte
	}
	rows := make([]row, len(spans))
	tids := make([][]byte, len(spans))
	resIDs := map[string][]byte{}
	var resKeys, resData [][]byte
	for i := range spans {
		s := &spans[i]
		r := row{i: i}
		var err error
		if r.tid, err = store.ParseTraceID(s.TraceID); err != nil {
			return res, err
		}
		if r.sid, err = store.ParseSpanID(s.SpanID); err != nil {
			return res, err
		}
		if s.ParentID != "" {
			if r.pid, err = store.ParseSpanID(s.ParentID); err != nil {
				return res, err
			}
		}
		rid, ok := resIDs[string(s.Resource)]
		if !ok {
			h := sha256.Sum256(s.Resource)
			rid = h[:16]
			resIDs[string(s.Resource)] = rid
			resKeys, resData = append(resKeys, rid), append(resData, s.Resource)
		}
		r.rid = rid
		rows[i], tids[i] = r, r.tid
	}
	// One order for every writer: concurrent batches wait on each
	// other's unique keys in the same sequence and cannot deadlock.
	slices.SortStableFunc(rows, func(a, b row) int {
		if c := bytes.Compare(a.tid, b.tid); c != 0 {
			return c
		}
		return bytes.Compare(a.sid, b.sid)
	})
	n := len(rows)
	cols := struct {
		tid, sid, pid, rid, data [][]byte
		start, end               []int64
	}{make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n), make([]int64, n), make([]int64, n)}
	for k, r := range rows {
		s := &spans[r.i]
		cols.tid[k], cols.sid[k], cols.pid[k], cols.rid[k], cols.data[k] = r.tid, r.sid, r.pid, r.rid, s.Data
		cols.start[k], cols.end[k] = store.Nanos(s.Start), store.Nanos(s.End)
	}
	now := db.now().UnixNano()
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO resources (id, data) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT DO NOTHING`, resKeys, resData); err != nil {
			return fmt.Errorf("add spans: resources: %w", err)
		}
		ins, err := tx.Query(ctx, `INSERT INTO spans (trace_id, span_id, parent_id, start_ns, end_ns, resource, data)
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::int8[], $5::int8[], $6::bytea[], $7::bytea[])
			ON CONFLICT (trace_id, span_id) DO NOTHING RETURNING trace_id, span_id`,
			cols.tid, cols.sid, cols.pid, cols.start, cols.end, cols.rid, cols.data)
		if err != nil {
			return fmt.Errorf("add spans: %w", err)
		}
		inserted := map[string]bool{}
		for ins.Next() {
			var t, s []byte
			if err := ins.Scan(&t, &s); err != nil {
				ins.Close()
				return fmt.Errorf("add spans: %w", err)
			}
			inserted[string(t)+string(s)] = true
		}
		ins.Close()
		if err := ins.Err(); err != nil {
			return fmt.Errorf("add spans: %w", err)
		}
		added := make([]int, 0, len(inserted))
		for _, r := range rows {
			if k := string(r.tid) + string(r.sid); inserted[k] {
				delete(inserted, k) // a duplicate within the batch counts once
				added = append(added, r.i)
			}
		}
		slices.Sort(added)
		res.Added, res.Duplicates = len(added), len(spans)-len(added)
		ds := store.Deltas(spans, tids, added)
		if len(ds) == 0 {
			return nil
		}
		var (
			dt                    [][]byte
			svc, agent            []string
			start, end, recv, cnt []int64
			root                  []bool
		)
		for _, d := range ds {
			dt, svc, agent = append(dt, d.TraceID), append(svc, d.Service), append(agent, d.Agent)
			start, end, recv, cnt = append(start, d.StartNS), append(end, d.EndNS), append(recv, now), append(cnt, int64(d.Added))
			root = append(root, d.RootEnded)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO traces AS t (trace_id, service, agent, started_ns, ended_ns, received_ns, root_ended, spans, gen)
			SELECT u.*, 1 FROM unnest($1::bytea[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::bool[], $8::int8[]) AS u
			ON CONFLICT (trace_id) DO UPDATE SET
			  service = CASE WHEN excluded.root_ended AND excluded.service <> '' THEN excluded.service
			                 WHEN t.service = '' THEN excluded.service ELSE t.service END,
			  agent = CASE WHEN t.agent = '' THEN excluded.agent ELSE t.agent END,
			  started_ns = CASE WHEN t.started_ns = 0 OR (excluded.started_ns <> 0 AND excluded.started_ns < t.started_ns)
			                    THEN excluded.started_ns ELSE t.started_ns END,
			  ended_ns = GREATEST(t.ended_ns, excluded.ended_ns),
			  received_ns = excluded.received_ns,
			  root_ended = t.root_ended OR excluded.root_ended,
			  spans = t.spans + excluded.spans,
			  gen = t.gen + 1`, dt, svc, agent, start, end, recv, root, cnt); err != nil {
			return fmt.Errorf("add spans: traces: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.AddResult{}, err
	}
	return res, nil
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ClaimReady claims ready traces with FOR UPDATE SKIP LOCKED; see
// store.Store.
func (db *DB) ClaimReady(ctx context.Context, o store.ClaimOptions) ([]store.Claim, error) {
	if o.Limit <= 0 {
		return nil, nil
	}
	now := db.now()
	token := newToken()
	rows, err := db.pool.Query(ctx, `UPDATE traces t SET lease_token = $1, lease_until_ns = $2
		FROM (SELECT trace_id FROM traces
		      WHERE gen > analysed_gen AND received_ns <= $3 AND lease_until_ns <= $4
		        AND (root_ended OR received_ns <= $5)
		      ORDER BY received_ns LIMIT $6
		      FOR UPDATE SKIP LOCKED) c
		WHERE t.trace_id = c.trace_id
		RETURNING t.trace_id, t.gen`,
		token, now.Add(o.Lease).UnixNano(), now.Add(-o.Idle).UnixNano(), now.UnixNano(), now.Add(-max(o.OrphanIdle, o.Idle)).UnixNano(), o.Limit)
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
	return out, nil
}

// Spans returns a trace's spans; see store.Store.
func (db *DB) Spans(ctx context.Context, traceID string) ([]store.Span, error) {
	tid, err := store.ParseTraceID(traceID)
	if err != nil {
		return nil, err
	}
	var out []store.Span
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT span_id, parent_id, start_ns, end_ns, resource, data FROM spans
			WHERE trace_id = $1 ORDER BY start_ns, span_id`, tid)
		if err != nil {
			return err
		}
		var rids [][]byte
		for rows.Next() {
			var sid, pid, rid []byte
			var start, end int64
			s := store.Span{TraceID: traceID}
			if err := rows.Scan(&sid, &pid, &start, &end, &rid, &s.Data); err != nil {
				rows.Close()
				return err
			}
			s.SpanID = hex.EncodeToString(sid)
			if len(pid) > 0 {
				s.ParentID = hex.EncodeToString(pid)
			}
			s.Start, s.End = store.FromNanos(start), store.FromNanos(end)
			out = append(out, s)
			rids = append(rids, rid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		resources := map[string][]byte{}
		for i, rid := range rids {
			data, ok := resources[string(rid)]
			if !ok {
				if err := tx.QueryRow(ctx, `SELECT data FROM resources WHERE id = $1`, rid).Scan(&data); err != nil {
					return fmt.Errorf("resource: %w", err)
				}
				resources[string(rid)] = data
			}
			out[i].Resource = data
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read spans: %w", err)
	}
	if len(out) == 0 {
		return nil, probity.Errorf(probity.ENOTFOUND, "trace %s not found", traceID)
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
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for i, ca := range as {
			c, a := ca.Claim, ca.Analysis
			verdict := string(a.Verdict)
			if a.Error != "" {
				verdict = store.VerdictError
			}
			var rev, started int64
			err := tx.QueryRow(ctx, `UPDATE traces SET analysed_gen = $1, lease_token = NULL, lease_until_ns = 0,
				  verdict = $2, root_cause_step = $3, steps = $4, detectors = $5, analysed_ns = $6, revision = revision + 1
				WHERE trace_id = $7 AND lease_token = $8 RETURNING revision, started_ns`,
				c.Gen, verdict, a.RootCauseStep, a.Steps, strings.Join(a.Detectors, ","), now, tids[i], c.Token).Scan(&rev, &started)
			if errors.Is(err, pgx.ErrNoRows) {
				errs[i] = probity.Errorf(probity.ECONFLICT, "claim on trace %s no longer holds", c.TraceID)
				continue
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO analyses (trace_id, revision, analysed_ns, report, error) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (trace_id) DO UPDATE SET revision = excluded.revision, analysed_ns = excluded.analysed_ns,
				  report = excluded.report, error = excluded.error`, tids[i], rev, now, []byte(a.Report), a.Error); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM trace_detectors WHERE trace_id = $1`, tids[i]); err != nil {
				return err
			}
			if len(a.Detectors) > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO trace_detectors (detector, started_ns, trace_id)
					SELECT d, $2, $3 FROM unnest($1::text[]) AS d ON CONFLICT DO NOTHING`, a.Detectors, started, tids[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("save analyses: %w", err)
	}
	return errs, nil
}

// Release gives a claim back; see store.Store.
func (db *DB) Release(ctx context.Context, c store.Claim) error {
	tid, err := store.ParseTraceID(c.TraceID)
	if err != nil {
		return err
	}
	if _, err := db.pool.Exec(ctx, `UPDATE traces SET lease_token = NULL, lease_until_ns = 0 WHERE trace_id = $1 AND lease_token = $2`, tid, c.Token); err != nil {
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
	s, _, err := sqlq.ScanSummary(db.pool.QueryRow(ctx, `SELECT `+sqlq.SummaryColumns+` FROM traces t WHERE t.trace_id = $1`, tid))
	if errors.Is(err, pgx.ErrNoRows) {
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
	var verdict *string
	var detectors string
	var rootCause *int64
	var steps, rev, at int64
	var report []byte
	err = db.pool.QueryRow(ctx, `SELECT t.verdict, t.root_cause_step, t.detectors, t.steps, a.revision, a.analysed_ns, a.report, a.error
		FROM analyses a JOIN traces t ON t.trace_id = a.trace_id WHERE a.trace_id = $1`, tid).
		Scan(&verdict, &rootCause, &detectors, &steps, &rev, &at, &report, &a.Error)
	if errors.Is(err, pgx.ErrNoRows) {
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
	if detectors != "" {
		a.Detectors = strings.Split(detectors, ",")
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
	q, args := sqlq.List(f, cur, func(i int) string { return fmt.Sprintf("$%d", i) })
	rows, err := db.pool.Query(ctx, q, args...)
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
	now := db.now().UnixNano()
	err = db.pool.QueryRow(ctx, `INSERT INTO feedback (trace_id, label, step, note, created_ns)
		SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM traces WHERE trace_id = $1) RETURNING id`,
		tid, fb.Label, fb.Step, fb.Note, now).Scan(&fb.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fb, probity.Errorf(probity.ENOTFOUND, "trace %s not found", fb.TraceID)
	}
	if err != nil {
		return fb, fmt.Errorf("add feedback: %w", err)
	}
	fb.CreatedAt = store.FromNanos(now)
	return fb, nil
}

// Feedback returns a trace's feedback; see store.Store.
func (db *DB) Feedback(ctx context.Context, traceID string) ([]store.Feedback, error) {
	tid, err := store.ParseTraceID(traceID)
	if err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT id, label, step, note, created_ns FROM feedback WHERE trace_id = $1 ORDER BY id`, tid)
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
	tag, err := db.pool.Exec(ctx, `INSERT INTO eval_runs (id, suite, started_ns, received_ns, trials, data) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO NOTHING`, r.ID, r.Suite, store.Nanos(r.Started), db.now().UnixNano(), r.Trials, r.Data)
	if err != nil {
		return false, fmt.Errorf("add eval run: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// EvalRuns lists eval runs; see store.Store.
func (db *DB) EvalRuns(ctx context.Context) ([]store.EvalRun, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, suite, started_ns, received_ns, trials FROM eval_runs ORDER BY received_ns DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("read eval runs: %w", err)
	}
	defer rows.Close()
	var out []store.EvalRun
	for rows.Next() {
		var r store.EvalRun
		var started, received, trials int64
		if err := rows.Scan(&r.ID, &r.Suite, &started, &received, &trials); err != nil {
			return nil, fmt.Errorf("read eval runs: %w", err)
		}
		r.Started, r.ReceivedAt, r.Trials = store.FromNanos(started), store.FromNanos(received), int(trials)
		out = append(out, r)
	}
	return out, rows.Err()
}

// EvalRun returns one eval run; see store.Store.
func (db *DB) EvalRun(ctx context.Context, id string) (store.EvalRun, error) {
	r := store.EvalRun{ID: id}
	var started, received, trials int64
	err := db.pool.QueryRow(ctx, `SELECT suite, started_ns, received_ns, trials, data FROM eval_runs WHERE id = $1`, id).
		Scan(&r.Suite, &started, &received, &trials, &r.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, probity.Errorf(probity.ENOTFOUND, "eval run %s not found", id)
	}
	if err != nil {
		return r, fmt.Errorf("read eval run: %w", err)
	}
	r.Started, r.ReceivedAt, r.Trials = store.FromNanos(started), store.FromNanos(received), int(trials)
	return r, nil
}

// DeleteBefore deletes traces idle since cutoff; see store.Store.
func (db *DB) DeleteBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT trace_id FROM traces WHERE received_ns < $1 ORDER BY received_ns LIMIT $2 FOR UPDATE SKIP LOCKED`, cutoff.UnixNano(), limit)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return err
		}
		n = len(ids)
		if n == 0 {
			return nil
		}
		for _, q := range []string{
			`DELETE FROM spans WHERE trace_id = ANY($1)`,
			`DELETE FROM analyses WHERE trace_id = ANY($1)`,
			`DELETE FROM trace_detectors WHERE trace_id = ANY($1)`,
			`DELETE FROM feedback WHERE trace_id = ANY($1)`,
			`DELETE FROM traces WHERE trace_id = ANY($1)`,
		} {
			if _, err := tx.Exec(ctx, q, ids); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete old traces: %w", err)
	}
	return n, nil
}

// TryLock takes a session advisory lock on a connection of its own; see
// store.Store. PostgreSQL releases it when that connection ends, so a
// crashed holder never keeps it; a failed health check closes Lost.
func (db *DB) TryLock(ctx context.Context, name string) (store.Lock, bool, error) {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	conn := pc.Hijack()
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('probity.lock:' || current_schema() || ':' || $1, 0))`, name).Scan(&ok); err != nil {
		conn.Close(context.Background())
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	if !ok {
		conn.Close(context.Background())
		return nil, false, nil
	}
	l := &advisory{conn: conn, name: name, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch()
	return l, true, nil
}

type advisory struct {
	mu         sync.Mutex // the connection is not safe for concurrent use
	conn       *pgx.Conn
	name       string
	lost       chan struct{}
	stop, done chan struct{}
	once       sync.Once
}

func (l *advisory) Lost() <-chan struct{} { return l.lost }

func (l *advisory) watch() {
	defer close(l.done)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		l.mu.Lock()
		err := l.conn.Ping(ctx)
		l.mu.Unlock()
		cancel()
		if err != nil {
			close(l.lost)
			return
		}
	}
}

func (l *advisory) Unlock(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		l.mu.Lock()
		defer l.mu.Unlock()
		_, err = l.conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended('probity.lock:' || current_schema() || ':' || $1, 0))`, l.name)
		err = errors.Join(err, l.conn.Close(ctx))
	})
	if err != nil {
		return fmt.Errorf("unlock %s: %w", l.name, err)
	}
	return nil
}
