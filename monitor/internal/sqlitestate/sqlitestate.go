// Package sqlitestate is a monitor.Store over one SQLite file, for the
// monitor package's own tests: it keeps series checkpoints, alerts and the
// notification outbox in a real database, so the tests exercise restarts
// and retries against durable state. The server's store (packages store,
// store/sqlite, store/postgres) replaces it in production with tables in
// its own migrations; both must pass monitortest.Run.
package sqlitestate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/probity/probity/monitor"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const schema = `
CREATE TABLE IF NOT EXISTS monitor_series (
	monitor    TEXT NOT NULL,
	group_key  TEXT NOT NULL,
	data       BLOB NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (monitor, group_key)
);
CREATE TABLE IF NOT EXISTS monitor_alerts (
	id        TEXT PRIMARY KEY,
	monitor   TEXT NOT NULL,
	state     TEXT NOT NULL,
	fired_at  INTEGER NOT NULL,
	data      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_alerts_state ON monitor_alerts (state, fired_at);
CREATE TABLE IF NOT EXISTS monitor_outbox (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	key          TEXT NOT NULL,
	notifier     TEXT NOT NULL,
	alert_id     TEXT NOT NULL,
	event        TEXT NOT NULL,
	content_type TEXT NOT NULL,
	body         BLOB NOT NULL,
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	settled_at   INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS monitor_outbox_due ON monitor_outbox (state, next_at);
CREATE INDEX IF NOT EXISTS monitor_outbox_key ON monitor_outbox (key, state, id);
`

// DB is a monitor.Store in one SQLite file.
type DB struct{ db *sql.DB }

var _ monitor.Store = (*DB)(nil)

// Open opens (creating if needed) the database at path.
func Open(path string) (*DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: SQLite has one writer, and transactions must not
	// interleave on separate connections.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return &DB{db: db}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// LoadSeries implements monitor.State.
func (d *DB) LoadSeries(ctx context.Context) ([]monitor.SeriesRecord, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT monitor, group_key, data, updated_at FROM monitor_series ORDER BY monitor, group_key`)
	if err != nil {
		return nil, fmt.Errorf("load series: %w", err)
	}
	defer rows.Close()
	var out []monitor.SeriesRecord
	for rows.Next() {
		var r monitor.SeriesRecord
		var at int64
		if err := rows.Scan(&r.Monitor, &r.Group, &r.Data, &at); err != nil {
			return nil, fmt.Errorf("load series: %w", err)
		}
		r.UpdatedAt = fromMS(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Apply implements monitor.State.
func (d *DB) Apply(ctx context.Context, c monitor.Change) (err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	for _, s := range c.Series {
		if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_series (monitor, group_key, data, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (monitor, group_key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
			s.Monitor, s.Group, s.Data, ms(s.UpdatedAt)); err != nil {
			return fmt.Errorf("apply: save series: %w", err)
		}
	}
	for _, a := range c.Alerts {
		b, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("apply: encode alert: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_alerts (id, monitor, state, fired_at, data) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data`,
			a.ID, a.Monitor, a.State, a.FiredAt.UnixNano(), b); err != nil {
			return fmt.Errorf("apply: save alert: %w", err)
		}
	}
	for _, del := range c.Deliveries {
		if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_outbox (key, notifier, alert_id, event, content_type, body, state, attempts, next_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
			del.Key, del.Notifier, del.AlertID, del.Event, del.ContentType, del.Body, monitor.DeliveryPending, ms(del.NextAt), ms(del.CreatedAt)); err != nil {
			return fmt.Errorf("apply: enqueue delivery: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// Alerts implements monitor.State.
func (d *DB) Alerts(ctx context.Context, q monitor.AlertQuery) ([]monitor.Alert, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := d.db.QueryContext(ctx, `SELECT data FROM monitor_alerts
		WHERE (? = '' OR state = ?) AND (? = '' OR monitor = ?)
		ORDER BY fired_at DESC, id LIMIT ?`, q.State, q.State, q.Monitor, q.Monitor, limit)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out := []monitor.Alert{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		var a monitor.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("list alerts: decode: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

const deliveryColumns = `id, key, notifier, alert_id, event, content_type, body, state, attempts, next_at, created_at, settled_at, last_error`

func scanDelivery(rows *sql.Rows) (monitor.Delivery, error) {
	var del monitor.Delivery
	var next, created, settled int64
	err := rows.Scan(&del.ID, &del.Key, &del.Notifier, &del.AlertID, &del.Event, &del.ContentType, &del.Body,
		&del.State, &del.Attempts, &next, &created, &settled, &del.LastError)
	del.NextAt, del.CreatedAt, del.SettledAt = fromMS(next), fromMS(created), fromMS(settled)
	return del, err
}

// Claim implements monitor.Outbox. The transaction is the claim: SQLite
// has one writer, so no other claimer sees these rows before their
// next_at moves past the lease.
func (d *DB) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) (out []monitor.Delivery, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM monitor_outbox o
		WHERE state = ? AND next_at <= ?
		  AND id = (SELECT MIN(id) FROM monitor_outbox p WHERE p.key = o.key AND p.state = ?)
		ORDER BY next_at, id LIMIT ?`, monitor.DeliveryPending, ms(now), monitor.DeliveryPending, limit)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	for rows.Next() {
		del, err := scanDelivery(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim: %w", err)
		}
		out = append(out, del)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	for _, del := range out {
		if _, err := tx.ExecContext(ctx, `UPDATE monitor_outbox SET next_at = ? WHERE id = ?`, ms(now.Add(lease)), del.ID); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return out, nil
}

// Settle implements monitor.Outbox.
func (d *DB) Settle(ctx context.Context, id int64, s monitor.Settlement) error {
	var settled int64
	if s.State != monitor.DeliveryPending {
		settled = ms(s.At)
	}
	res, err := d.db.ExecContext(ctx, `UPDATE monitor_outbox SET state = ?, attempts = ?, next_at = CASE WHEN ? = 'pending' THEN ? ELSE next_at END,
		settled_at = ?, last_error = ? WHERE id = ?`, s.State, s.Attempts, s.State, ms(s.NextAt), settled, s.Error, id)
	if err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("settle: no delivery %d", id)
	}
	return nil
}

// NextDue implements monitor.Outbox.
func (d *DB) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := d.db.QueryRowContext(ctx, `SELECT MIN(next_at) FROM monitor_outbox WHERE state = ?`, monitor.DeliveryPending).Scan(&next)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(next.Int64), true, nil
}

// Deliveries implements monitor.Outbox.
func (d *DB) Deliveries(ctx context.Context, state string, limit int) ([]monitor.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := d.db.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM monitor_outbox WHERE (? = '' OR state = ?) ORDER BY id DESC LIMIT ?`, state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []monitor.Delivery
	for rows.Next() {
		del, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, del)
	}
	return out, rows.Err()
}
