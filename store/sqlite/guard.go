package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/policy"
	"github.com/probity/probity/store/internal/sqlq"
)

// GuardState keeps a guard's budget usage and approvals in the database,
// so that several `probity guard serve` processes on one file enforce one
// budget and share their approvals. It implements policy.LedgerBackend and
// guard.ApprovalStore. Every write is a BEGIN IMMEDIATE transaction: it
// holds the database's write lock from its first read, which is what makes
// a reserve's check and charge one atomic step across processes.
type GuardState struct {
	db       *DB
	reserves atomic.Int64
}

var (
	_ policy.LedgerBackend = (*GuardState)(nil)
	_ guard.ApprovalStore  = (*GuardState)(nil)
)

// GuardState returns the guard's view of the database.
func (db *DB) GuardState() *GuardState { return &GuardState{db: db} }

// sweepEvery is how many reserves pass between deletions of expired hour
// and day buckets.
const sweepEvery = 1024

// Reserve implements policy.LedgerBackend.
func (g *GuardState) Reserve(ctx context.Context, cs []policy.Charge, now time.Time, admit func([]policy.Tally) bool) (bool, error) {
	charged := false
	err := g.db.writeTx(ctx, func(tx *sql.Tx) error {
		if g.reserves.Add(1)%sweepEvery == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM guard_budget WHERE until_s != 0 AND until_s <= ?`, now.Unix()); err != nil {
				return fmt.Errorf("sweep budgets: %w", err)
			}
		}
		ts := make([]policy.Tally, len(cs))
		for i, c := range cs {
			b := c.Bucket
			err := tx.QueryRowContext(ctx, `SELECT calls, amount FROM guard_budget WHERE budget = ? AND run = ? AND bkey = ? AND window_s = ?`,
				b.Budget, b.Run, b.Key, b.Window).Scan(&ts[i].Calls, &ts[i].Sum)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read budget %s: %w", b.Budget, err)
			}
		}
		if !admit(ts) {
			return nil
		}
		for _, c := range cs {
			b := c.Bucket
			if _, err := tx.ExecContext(ctx, `INSERT INTO guard_budget (budget, run, bkey, window_s, calls, amount, until_s, touched_ns)
				VALUES (?, ?, ?, ?, 1, ?, ?, ?)
				ON CONFLICT (budget, run, bkey, window_s) DO UPDATE SET calls = calls + 1, amount = amount + excluded.amount, touched_ns = excluded.touched_ns`,
				b.Budget, b.Run, b.Key, b.Window, c.Amount, c.Until, now.UnixNano()); err != nil {
				return fmt.Errorf("charge budget %s: %w", b.Budget, err)
			}
		}
		charged = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("reserve budget: %w", err)
	}
	return charged, nil
}

// Refund implements policy.LedgerBackend.
func (g *GuardState) Refund(ctx context.Context, cs []policy.Charge) error {
	return g.db.writeTx(ctx, func(tx *sql.Tx) error {
		for _, c := range cs {
			b := c.Bucket
			if _, err := tx.ExecContext(ctx, `UPDATE guard_budget SET calls = calls - 1, amount = amount - ?
				WHERE budget = ? AND run = ? AND bkey = ? AND window_s = ?`, c.Amount, b.Budget, b.Run, b.Key, b.Window); err != nil {
				return fmt.Errorf("refund budget %s: %w", b.Budget, err)
			}
		}
		return nil
	})
}

// ForgetRun implements policy.LedgerBackend.
func (g *GuardState) ForgetRun(ctx context.Context, run string, idleSince time.Time) error {
	if run == "" {
		return nil // '' marks the buckets that span runs
	}
	if _, err := g.db.exec(ctx, `DELETE FROM guard_budget WHERE run = ? AND touched_ns < ?`, run, idleSince.UnixNano()); err != nil {
		return fmt.Errorf("forget run %s: %w", run, err)
	}
	return nil
}

// Usage implements policy.LedgerBackend.
func (g *GuardState) Usage(ctx context.Context) ([]policy.Usage, error) {
	rows, err := g.db.r.QueryContext(ctx, `SELECT budget, run, bkey, window_s, calls, amount FROM guard_budget`)
	if err != nil {
		return nil, fmt.Errorf("budget usage: %w", err)
	}
	defer rows.Close()
	out := []policy.Usage{}
	for rows.Next() {
		var u policy.Usage
		if err := rows.Scan(&u.Budget, &u.Run, &u.Key, &u.Window, &u.Calls, &u.Sum); err != nil {
			return nil, fmt.Errorf("budget usage: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// AddApproval implements guard.ApprovalStore.
func (g *GuardState) AddApproval(ctx context.Context, a guard.Approval) error {
	data, err := sqlq.ApprovalData(a)
	if err != nil {
		return err
	}
	if _, err := g.db.exec(ctx, `INSERT INTO guard_approvals (id, status, created_ns, deadline_ns, resolved_ns, resolved_by, note, data)
		VALUES (?, ?, ?, ?, 0, '', '', ?)`, a.ID, guard.StatusPending, a.Created.UnixNano(), a.Deadline.UnixNano(), data); err != nil {
		return fmt.Errorf("add approval: %w", err)
	}
	return nil
}

const approvalColumns = `data, status, resolved_by, note, resolved_ns`

type scanner interface{ Scan(...any) error }

func scanApproval(r scanner) (guard.Approval, error) {
	var data []byte
	var status, by, note string
	var resolved int64
	if err := r.Scan(&data, &status, &by, &note, &resolved); err != nil {
		return guard.Approval{}, err
	}
	return sqlq.DecodeApproval(data, status, by, note, resolved)
}

// ResolveApproval implements guard.ApprovalStore.
func (g *GuardState) ResolveApproval(ctx context.Context, id, status, by, note string, at time.Time) (guard.Approval, error) {
	if err := sqlq.CheckResolve(status); err != nil {
		return guard.Approval{}, err
	}
	var a guard.Approval
	var conflict bool
	err := g.db.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanApproval(tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM guard_approvals WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return probity.Errorf(probity.ENOTFOUND, "no approval %q", id)
		}
		if err != nil {
			return fmt.Errorf("read approval: %w", err)
		}
		if a.Status != guard.StatusPending {
			conflict = true
			return nil
		}
		if at.After(a.Deadline) && status != guard.StatusExpired {
			// Too late for a person's answer: the call's guard has
			// given up on it, or is about to.
			status, by, note, conflict = guard.StatusExpired, "guard", sqlq.Expired, true
		}
		if _, err := tx.ExecContext(ctx, `UPDATE guard_approvals SET status = ?, resolved_by = ?, note = ?, resolved_ns = ? WHERE id = ?`,
			status, by, note, at.UnixNano(), id); err != nil {
			return fmt.Errorf("resolve approval: %w", err)
		}
		a.Status, a.By, a.Note, a.Resolved = status, by, note, at.UTC()
		return nil
	})
	if err != nil {
		return guard.Approval{}, err
	}
	if conflict {
		return a, sqlq.Already(a)
	}
	return a, nil
}

// Approval implements guard.ApprovalStore.
func (g *GuardState) Approval(ctx context.Context, id string) (guard.Approval, error) {
	a, err := scanApproval(g.db.r.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM guard_approvals WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, probity.Errorf(probity.ENOTFOUND, "no approval %q", id)
	}
	if err != nil {
		return a, fmt.Errorf("read approval: %w", err)
	}
	return a, nil
}

// Approvals implements guard.ApprovalStore.
func (g *GuardState) Approvals(ctx context.Context, status string, limit int) ([]guard.Approval, error) {
	rows, err := g.db.r.QueryContext(ctx, `SELECT `+approvalColumns+` FROM guard_approvals
		WHERE (? = '' OR status = ?) ORDER BY created_ns DESC, id DESC LIMIT ?`, status, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	defer rows.Close()
	var out []guard.Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// PruneApprovals implements guard.ApprovalStore.
func (g *GuardState) PruneApprovals(ctx context.Context, now, resolvedBefore time.Time) error {
	return g.db.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE guard_approvals SET status = ?, resolved_by = 'guard', note = ?, resolved_ns = ?
			WHERE status = ? AND deadline_ns < ?`, guard.StatusExpired, sqlq.Expired, now.UnixNano(), guard.StatusPending, now.UnixNano()); err != nil {
			return fmt.Errorf("expire approvals: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM guard_approvals WHERE status != ? AND resolved_ns < ?`,
			guard.StatusPending, resolvedBefore.UnixNano()); err != nil {
			return fmt.Errorf("prune approvals: %w", err)
		}
		return nil
	})
}
