package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/probity/probity/monitor"
	"github.com/probity/probity/store"
)

// MonitorState keeps the monitor engine's state in the same database as
// the traces, so an alert and the notifications it causes are written in
// one transaction and survive a restart. It implements monitor.Store and
// monitor.Inbox.
type MonitorState struct{ db *DB }

var (
	_ monitor.Store = (*MonitorState)(nil)
	_ monitor.Inbox = (*MonitorState)(nil)
)

// MonitorState returns the monitor engine's view of the database.
func (db *DB) MonitorState() *MonitorState { return &MonitorState{db} }

// LoadSeries implements monitor.State.
func (m *MonitorState) LoadSeries(ctx context.Context) ([]monitor.SeriesRecord, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT monitor, group_key, data, updated_ns FROM monitor_series ORDER BY monitor, group_key`)
	if err != nil {
		return nil, fmt.Errorf("load monitor series: %w", err)
	}
	defer rows.Close()
	var out []monitor.SeriesRecord
	for rows.Next() {
		var r monitor.SeriesRecord
		var at int64
		if err := rows.Scan(&r.Monitor, &r.Group, &r.Data, &at); err != nil {
			return nil, fmt.Errorf("load monitor series: %w", err)
		}
		r.UpdatedAt = store.FromNanos(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Apply implements monitor.State: one transaction.
func (m *MonitorState) Apply(ctx context.Context, c monitor.Change) error {
	return m.db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, s := range c.Series {
			if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_series (monitor, group_key, data, updated_ns) VALUES (?, ?, ?, ?)
				ON CONFLICT (monitor, group_key) DO UPDATE SET data = excluded.data, updated_ns = excluded.updated_ns`,
				s.Monitor, s.Group, s.Data, store.Nanos(s.UpdatedAt)); err != nil {
				return fmt.Errorf("save monitor series: %w", err)
			}
		}
		for _, a := range c.Alerts {
			b, err := json.Marshal(a)
			if err != nil {
				return fmt.Errorf("encode alert: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_alerts (id, monitor, state, fired_ns, data) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data`,
				a.ID, a.Monitor, a.State, a.FiredAt.UnixNano(), b); err != nil {
				return fmt.Errorf("save alert: %w", err)
			}
		}
		for _, p := range c.Points {
			var base []byte
			if p.Baseline != nil {
				var err error
				if base, err = json.Marshal(p.Baseline); err != nil {
					return fmt.Errorf("encode monitor point: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_points (monitor, group_key, start_ns, end_ns, n, events, rate, lo, hi, baseline)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (monitor, group_key, start_ns) DO UPDATE SET end_ns = excluded.end_ns, n = excluded.n, events = excluded.events,
				rate = excluded.rate, lo = excluded.lo, hi = excluded.hi, baseline = excluded.baseline`,
				p.Monitor, p.Group, store.Nanos(p.Start), store.Nanos(p.End), p.Rate.N, p.Rate.Events, p.Rate.Rate, p.Rate.Lo, p.Rate.Hi, base); err != nil {
				return fmt.Errorf("save monitor point: %w", err)
			}
		}
		for _, d := range c.Deliveries {
			if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_outbox (key, notifier, alert_id, event, content_type, body, state, next_ns, created_ns)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				d.Key, d.Notifier, d.AlertID, d.Event, d.ContentType, d.Body, monitor.DeliveryPending, store.Nanos(d.NextAt), store.Nanos(d.CreatedAt)); err != nil {
				return fmt.Errorf("queue notification: %w", err)
			}
		}
		return nil
	})
}

// Alerts implements monitor.State.
func (m *MonitorState) Alerts(ctx context.Context, q monitor.AlertQuery) ([]monitor.Alert, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := m.db.r.QueryContext(ctx, `SELECT data FROM monitor_alerts
		WHERE (? = '' OR state = ?) AND (? = '' OR monitor = ?)
		ORDER BY fired_ns DESC, id LIMIT ?`, q.State, q.State, q.Monitor, q.Monitor, limit)
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

const deliveryColumns = `id, key, notifier, alert_id, event, content_type, body, state, attempts, next_ns, created_ns, settled_ns, last_error`

func scanDelivery(rows *sql.Rows) (monitor.Delivery, error) {
	var d monitor.Delivery
	var next, created, settled int64
	err := rows.Scan(&d.ID, &d.Key, &d.Notifier, &d.AlertID, &d.Event, &d.ContentType, &d.Body,
		&d.State, &d.Attempts, &next, &created, &settled, &d.LastError)
	d.NextAt, d.CreatedAt, d.SettledAt = store.FromNanos(next), store.FromNanos(created), store.FromNanos(settled)
	return d, err
}

// Claim implements monitor.Outbox. SQLite has one writer, so the write
// transaction is the claim: no other claimer sees these rows before their
// next_ns moves past the lease.
func (m *MonitorState) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) (out []monitor.Delivery, err error) {
	err = m.db.writeTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM monitor_outbox o
			WHERE state = 'pending' AND next_ns <= ?
			  AND id = (SELECT MIN(id) FROM monitor_outbox p WHERE p.key = o.key AND p.state = 'pending')
			ORDER BY next_ns, id LIMIT ?`, store.Nanos(now), limit)
		if err != nil {
			return fmt.Errorf("claim notifications: %w", err)
		}
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("claim notifications: %w", err)
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim notifications: %w", err)
		}
		for _, d := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE monitor_outbox SET next_ns = ? WHERE id = ?`, store.Nanos(now.Add(lease)), d.ID); err != nil {
				return fmt.Errorf("claim notifications: %w", err)
			}
		}
		return nil
	})
	return out, err
}

// Settle implements monitor.Outbox.
func (m *MonitorState) Settle(ctx context.Context, id int64, s monitor.Settlement) error {
	var settled int64
	if s.State != monitor.DeliveryPending {
		settled = store.Nanos(s.At)
	}
	return m.db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE monitor_outbox SET state = ?, attempts = ?,
			next_ns = CASE WHEN ? = 'pending' THEN ? ELSE next_ns END, settled_ns = ?, last_error = ? WHERE id = ?`,
			s.State, s.Attempts, s.State, store.Nanos(s.NextAt), settled, s.Error, id)
		if err != nil {
			return fmt.Errorf("settle notification: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("settle notification: no delivery %d", id)
		}
		return nil
	})
}

// NextDue implements monitor.Outbox.
func (m *MonitorState) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := m.db.r.QueryRowContext(ctx, `SELECT MIN(next_ns) FROM monitor_outbox WHERE state = 'pending'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next notification: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return store.FromNanos(next.Int64), true, nil
}

// Deliveries implements monitor.Outbox.
func (m *MonitorState) Deliveries(ctx context.Context, state string, limit int) ([]monitor.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := m.db.r.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM monitor_outbox WHERE (? = '' OR state = ?) ORDER BY id DESC LIMIT ?`, state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []monitor.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Enqueue implements monitor.Inbox.
func (m *MonitorState) Enqueue(ctx context.Context, obs []monitor.Observation) error {
	if len(obs) == 0 {
		return nil
	}
	now := m.db.now().UnixNano()
	return m.db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, o := range obs {
			b, err := json.Marshal(o)
			if err != nil {
				return fmt.Errorf("encode observation: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_inbox (enqueued_ns, data) VALUES (?, ?)`, now, b); err != nil {
				return fmt.Errorf("queue observation: %w", err)
			}
		}
		return nil
	})
}

// Pending implements monitor.Inbox.
func (m *MonitorState) Pending(ctx context.Context, limit int) ([]monitor.Queued, error) {
	rows, err := m.db.r.QueryContext(ctx, `SELECT id, enqueued_ns, data FROM monitor_inbox ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read observations: %w", err)
	}
	defer rows.Close()
	var out []monitor.Queued
	for rows.Next() {
		var q monitor.Queued
		var at int64
		var b []byte
		if err := rows.Scan(&q.ID, &at, &b); err != nil {
			return nil, fmt.Errorf("read observations: %w", err)
		}
		if err := json.Unmarshal(b, &q.Observation); err != nil {
			return nil, fmt.Errorf("read observation %d: %w", q.ID, err)
		}
		q.EnqueuedAt = store.FromNanos(at)
		out = append(out, q)
	}
	return out, rows.Err()
}

// Ack implements monitor.Inbox.
func (m *MonitorState) Ack(ctx context.Context, ids []int64) error {
	return m.db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM monitor_inbox WHERE id = ?`, id); err != nil {
				return fmt.Errorf("ack observations: %w", err)
			}
		}
		return nil
	})
}

// writeTx runs f in a transaction on the writer connection and commits it.
func (db *DB) writeTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Points implements monitor.State.
func (m *MonitorState) Points(ctx context.Context, q monitor.PointQuery) ([]monitor.Point, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 10000
	}
	var since int64
	if !q.Since.IsZero() {
		since = store.Nanos(q.Since)
	}
	// The newest limit points, read newest first and turned around.
	rows, err := m.db.r.QueryContext(ctx, `SELECT group_key, start_ns, end_ns, n, events, rate, lo, hi, baseline FROM monitor_points
		WHERE monitor = ? AND (? = '' OR group_key = ?) AND start_ns >= ?
		ORDER BY start_ns DESC, group_key DESC LIMIT ?`, q.Monitor, q.Group, q.Group, since, limit)
	if err != nil {
		return nil, fmt.Errorf("read monitor points: %w", err)
	}
	defer rows.Close()
	out := []monitor.Point{}
	for rows.Next() {
		p := monitor.Point{Monitor: q.Monitor}
		var start, end int64
		var base []byte
		if err := rows.Scan(&p.Group, &start, &end, &p.Rate.N, &p.Rate.Events, &p.Rate.Rate, &p.Rate.Lo, &p.Rate.Hi, &base); err != nil {
			return nil, fmt.Errorf("read monitor points: %w", err)
		}
		p.Start, p.End = store.FromNanos(start), store.FromNanos(end)
		if base != nil {
			p.Baseline = new(monitor.Rate)
			if err := json.Unmarshal(base, p.Baseline); err != nil {
				return nil, fmt.Errorf("read monitor points: baseline: %w", err)
			}
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read monitor points: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// DeletePointsBefore implements monitor.State.
func (m *MonitorState) DeletePointsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := m.db.exec(ctx, `DELETE FROM monitor_points WHERE start_ns < ?`, store.Nanos(cutoff))
	if err != nil {
		return 0, fmt.Errorf("delete old monitor points: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
