package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/policy"
	"github.com/probity/probity/store/internal/sqlq"
)

// GuardState keeps a guard's budget usage and approvals in the database,
// so that several `probity guard serve` processes on one database enforce
// one budget and share their approvals. It implements policy.LedgerBackend
// and guard.ApprovalStore.
//
// A reserve is one transaction that first makes sure every bucket it
// charges has a row (INSERT ... ON CONFLICT DO NOTHING), then locks those
// rows (SELECT ... FOR UPDATE), reads them, and charges only if the policy
// admits the call: a concurrent reserve on the same bucket waits for the
// lock and then reads the charged tally, never a stale one. Rows are
// locked in bucket order, so reserves over several budgets cannot
// deadlock.
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

func bucketOrder(a, b policy.Charge) int {
	x, y := a.Bucket, b.Bucket
	return cmp.Or(cmp.Compare(x.Budget, y.Budget), cmp.Compare(x.Run, y.Run), cmp.Compare(x.Key, y.Key), cmp.Compare(x.Window, y.Window))
}

// Reserve implements policy.LedgerBackend.
func (g *GuardState) Reserve(ctx context.Context, cs []policy.Charge, now time.Time, admit func([]policy.Tally) bool) (bool, error) {
	if g.reserves.Add(1)%sweepEvery == 0 {
		// Outside the reserve's transaction: a delete over many rows
		// there would lock them out of order.
		if _, err := g.db.pool.Exec(ctx, `DELETE FROM guard_budget WHERE until_s != 0 AND until_s <= $1`, now.Unix()); err != nil {
			return false, fmt.Errorf("sweep budgets: %w", err)
		}
	}
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return bucketOrder(cs[i], cs[j]) })
	charged := false
	err := pgx.BeginFunc(ctx, g.db.pool, func(tx pgx.Tx) error {
		ts := make([]policy.Tally, len(cs))
		for _, i := range order {
			b := cs[i].Bucket
			if _, err := tx.Exec(ctx, `INSERT INTO guard_budget (budget, run, bkey, window_s, calls, amount, until_s, touched_ns)
				VALUES ($1, $2, $3, $4, 0, 0, $5, $6) ON CONFLICT DO NOTHING`,
				b.Budget, b.Run, b.Key, b.Window, cs[i].Until, now.UnixNano()); err != nil {
				return fmt.Errorf("budget %s: %w", b.Budget, err)
			}
			if err := tx.QueryRow(ctx, `SELECT calls, amount FROM guard_budget
				WHERE budget = $1 AND run = $2 AND bkey = $3 AND window_s = $4 FOR UPDATE`,
				b.Budget, b.Run, b.Key, b.Window).Scan(&ts[i].Calls, &ts[i].Sum); err != nil {
				return fmt.Errorf("read budget %s: %w", b.Budget, err)
			}
		}
		if !admit(ts) {
			return nil
		}
		for _, i := range order {
			b := cs[i].Bucket
			if _, err := tx.Exec(ctx, `UPDATE guard_budget SET calls = calls + 1, amount = amount + $5, touched_ns = $6
				WHERE budget = $1 AND run = $2 AND bkey = $3 AND window_s = $4`,
				b.Budget, b.Run, b.Key, b.Window, cs[i].Amount, now.UnixNano()); err != nil {
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
	cs = slices.Clone(cs)
	slices.SortFunc(cs, bucketOrder)
	return pgx.BeginFunc(ctx, g.db.pool, func(tx pgx.Tx) error {
		for _, c := range cs {
			b := c.Bucket
			if _, err := tx.Exec(ctx, `UPDATE guard_budget SET calls = calls - 1, amount = amount - $5
				WHERE budget = $1 AND run = $2 AND bkey = $3 AND window_s = $4`, b.Budget, b.Run, b.Key, b.Window, c.Amount); err != nil {
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
	if _, err := g.db.pool.Exec(ctx, `DELETE FROM guard_budget WHERE run = $1 AND touched_ns < $2`, run, idleSince.UnixNano()); err != nil {
		return fmt.Errorf("forget run %s: %w", run, err)
	}
	return nil
}

// Usage implements policy.LedgerBackend.
func (g *GuardState) Usage(ctx context.Context) ([]policy.Usage, error) {
	rows, err := g.db.pool.Query(ctx, `SELECT budget, run, bkey, window_s, calls, amount FROM guard_budget`)
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
	if _, err := g.db.pool.Exec(ctx, `INSERT INTO guard_approvals (id, status, created_ns, deadline_ns, resolved_ns, resolved_by, note, data)
		VALUES ($1, $2, $3, $4, 0, '', '', $5)`, a.ID, guard.StatusPending, a.Created.UnixNano(), a.Deadline.UnixNano(), data); err != nil {
		return fmt.Errorf("add approval: %w", err)
	}
	return nil
}

const approvalColumns = `data, status, resolved_by, note, resolved_ns`

func scanApproval(r pgx.Row) (guard.Approval, error) {
	var data []byte
	var status, by, note string
	var resolved int64
	if err := r.Scan(&data, &status, &by, &note, &resolved); err != nil {
		return guard.Approval{}, err
	}
	return sqlq.DecodeApproval(data, status, by, note, resolved)
}

// ResolveApproval implements guard.ApprovalStore: the row is locked (FOR
// UPDATE) from its read to its update, so of two guards resolving it at
// once the second sees the first's outcome.
func (g *GuardState) ResolveApproval(ctx context.Context, id, status, by, note string, at time.Time) (guard.Approval, error) {
	if err := sqlq.CheckResolve(status); err != nil {
		return guard.Approval{}, err
	}
	var a guard.Approval
	var conflict bool
	err := pgx.BeginFunc(ctx, g.db.pool, func(tx pgx.Tx) error {
		var err error
		a, err = scanApproval(tx.QueryRow(ctx, `SELECT `+approvalColumns+` FROM guard_approvals WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
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
		if _, err := tx.Exec(ctx, `UPDATE guard_approvals SET status = $1, resolved_by = $2, note = $3, resolved_ns = $4 WHERE id = $5`,
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
	a, err := scanApproval(g.db.pool.QueryRow(ctx, `SELECT `+approvalColumns+` FROM guard_approvals WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, probity.Errorf(probity.ENOTFOUND, "no approval %q", id)
	}
	if err != nil {
		return a, fmt.Errorf("read approval: %w", err)
	}
	return a, nil
}

// Approvals implements guard.ApprovalStore.
func (g *GuardState) Approvals(ctx context.Context, status string, limit int) ([]guard.Approval, error) {
	rows, err := g.db.pool.Query(ctx, `SELECT `+approvalColumns+` FROM guard_approvals
		WHERE ($1 = '' OR status = $1) ORDER BY created_ns DESC, id DESC LIMIT $2`, status, limit)
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
	if _, err := g.db.pool.Exec(ctx, `UPDATE guard_approvals SET status = $1, resolved_by = 'guard', note = $2, resolved_ns = $3
		WHERE status = $4 AND deadline_ns < $3`, guard.StatusExpired, sqlq.Expired, now.UnixNano(), guard.StatusPending); err != nil {
		return fmt.Errorf("expire approvals: %w", err)
	}
	if _, err := g.db.pool.Exec(ctx, `DELETE FROM guard_approvals WHERE status != $1 AND resolved_ns < $2`,
		guard.StatusPending, resolvedBefore.UnixNano()); err != nil {
		return fmt.Errorf("prune approvals: %w", err)
	}
	return nil
}
