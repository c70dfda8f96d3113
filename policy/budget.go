package policy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Bucket names one budget's usage counter: one per budget, per run for
// per-run budgets, per value of the budget's key expression, and per hour
// or day window.
type Bucket struct {
	Budget string
	Run    string // per-run budgets only
	Key    string // value of the budget's key expression
	Window int64  // start of the hour or day (Unix seconds); 0 per run
}

// Charge is what one call adds to one bucket if it may go ahead.
type Charge struct {
	Bucket Bucket
	// Amount is added to the bucket's sum; every charge also counts one
	// call.
	Amount float64
	// Until is the end of the bucket's window (Unix seconds), after which
	// the bucket may be dropped; 0 for per-run buckets.
	Until int64
}

// Tally is the usage of one bucket.
type Tally struct {
	Calls int
	Sum   float64
}

// LedgerBackend keeps budget usage. NewLedger keeps it in memory, for one
// guard; the store packages keep it in a database, so that several guard
// processes enforce one budget.
//
// Reserve is the one operation that must be atomic: it reads the tallies
// of cs's buckets (zero for a bucket never charged), calls admit with them
// in the order of cs, and, only if admit returns true, adds one call and
// the amount to every bucket, with no other Reserve, Refund or ForgetRun
// on those buckets (in this process or any other) in between. Without
// that, two guards could each see room for one more call and both charge
// it. admit is pure and may be called more than once (a backend may retry
// a transaction).
type LedgerBackend interface {
	// Reserve charges cs atomically if admit agrees; see above. now is
	// the decision's clock, for backends that drop expired windows.
	Reserve(ctx context.Context, cs []Charge, now time.Time, admit func([]Tally) bool) (charged bool, err error)
	// Refund takes back what a Reserve that returned true charged.
	Refund(ctx context.Context, cs []Charge) error
	// ForgetRun drops the per-run buckets of run that no Reserve charged
	// at or after idleSince (by the clock Reserve was given): a guard that evicts an idle run
	// must not reset a budget another guard is still charging.
	ForgetRun(ctx context.Context, run string, idleSince time.Time) error
	// Usage returns every bucket's tally.
	Usage(ctx context.Context) ([]Usage, error)
}

// Ledger holds budget usage for the sessions of a guard (per-hour and
// per-day budgets span runs). Checking and charging happen together in one
// atomic step of its backend, so concurrent calls can never overspend a
// budget. A Ledger is safe for concurrent use.
type Ledger struct {
	b LedgerBackend
}

// NewLedger returns an empty ledger kept in memory.
func NewLedger() *Ledger { return &Ledger{b: NewMemoryLedger()} }

// NewSharedLedger returns a ledger kept by b (a database that several
// guards share).
func NewSharedLedger(b LedgerBackend) *Ledger { return &Ledger{b: b} }

// Backend returns where the ledger keeps its usage.
func (l *Ledger) Backend() LedgerBackend { return l.b }

type charge struct {
	b *Budget
	Charge
}

func window(per Period, at time.Time) (start, until int64) {
	switch per {
	case PerHour:
		t := at.UTC().Truncate(time.Hour)
		return t.Unix(), t.Add(time.Hour).Unix()
	case PerDay:
		t := at.UTC().Truncate(24 * time.Hour)
		return t.Unix(), t.Add(24 * time.Hour).Unix()
	}
	return 0, 0
}

// overrun describes a charge that would exceed its budget.
type overrun struct {
	c            charge
	calls        int
	sum          float64
	enforced     bool
	limitReached string
}

// exceeds says why one more call of amount would exceed b given its
// tally, or "".
func exceeds(b *Budget, t Tally, amount float64) string {
	switch {
	case b.MaxCalls > 0 && t.Calls+1 > b.MaxCalls:
		return fmt.Sprintf("call %d would exceed max_calls %d per %s", t.Calls+1, b.MaxCalls, b.Per)
	case b.sum != nil && t.Sum+amount > b.Max:
		return fmt.Sprintf("%s + %s = %s would exceed max %s per %s", num(t.Sum), num(amount), num(t.Sum+amount), num(b.Max), b.Per)
	}
	return ""
}

// reserve charges every charge if no enforced budget would be exceeded, and
// charges nothing otherwise. Shadow budgets are charged even when exceeded,
// because the call goes ahead. It returns the charges that exceed.
func (l *Ledger) reserve(ctx context.Context, cs []charge, shadow func(*Budget) bool, now time.Time) (over []overrun, charged bool, err error) {
	plain := make([]Charge, len(cs))
	for i, c := range cs {
		plain[i] = c.Charge
	}
	charged, err = l.b.Reserve(ctx, plain, now, func(ts []Tally) bool {
		// A backend may call admit again after a retry: only the last
		// call's overruns stand.
		over = over[:0]
		blocked := false
		for i, c := range cs {
			if why := exceeds(c.b, ts[i], c.Amount); why != "" {
				enforced := !shadow(c.b)
				over = append(over, overrun{c: c, calls: ts[i].Calls, sum: ts[i].Sum, enforced: enforced, limitReached: why})
				blocked = blocked || enforced
			}
		}
		return !blocked
	})
	if err != nil {
		return nil, false, err
	}
	return over, charged, nil
}

// Refund gives back what d charged: for an approval that was denied or
// timed out, the call never ran. Refunding twice refunds once.
func (l *Ledger) Refund(ctx context.Context, d *Decision) error {
	if len(d.charges) == 0 {
		return nil
	}
	cs := make([]Charge, len(d.charges))
	for i, c := range d.charges {
		cs[i] = c.Charge
	}
	if err := l.b.Refund(ctx, cs); err != nil {
		return fmt.Errorf("refund budget: %w", err)
	}
	d.charges = nil
	return nil
}

// ForgetRun drops the per-run budget usage of run, for a guard that evicts
// a run it last saw before idleSince. Usage another guard added since then
// stays.
func (l *Ledger) ForgetRun(ctx context.Context, run string, idleSince time.Time) error {
	return l.b.ForgetRun(ctx, run, idleSince)
}

// Usage is the use of one budget bucket.
type Usage struct {
	Budget string  `json:"budget"`
	Run    string  `json:"run,omitempty"`
	Key    string  `json:"key,omitempty"`
	Window int64   `json:"window,omitempty"`
	Calls  int     `json:"calls"`
	Sum    float64 `json:"sum"`
}

// Usage returns the current usage of every bucket, for status pages and
// tests, ordered by budget, run, key and window.
func (l *Ledger) Usage(ctx context.Context) ([]Usage, error) {
	us, err := l.b.Usage(ctx)
	if err != nil {
		return nil, err
	}
	SortUsage(us)
	return us, nil
}

// SortUsage orders us by budget, run, key and window.
func SortUsage(us []Usage) {
	slices.SortFunc(us, func(a, b Usage) int {
		return cmp.Or(cmp.Compare(a.Budget, b.Budget), cmp.Compare(a.Run, b.Run), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Window, b.Window))
	})
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// MemoryLedger is a LedgerBackend in memory: one mutex makes Reserve
// atomic within the process.
type MemoryLedger struct {
	mu      sync.Mutex
	buckets map[Bucket]*bucket
	inserts int
}

type bucket struct {
	Tally
	until   int64     // end of the window (Unix seconds); 0 per run
	touched time.Time // clock of the latest Reserve that charged it
}

var _ LedgerBackend = (*MemoryLedger)(nil)

// NewMemoryLedger returns an empty in-memory ledger backend.
func NewMemoryLedger() *MemoryLedger { return &MemoryLedger{buckets: map[Bucket]*bucket{}} }

// Reserve implements LedgerBackend.
func (m *MemoryLedger) Reserve(ctx context.Context, cs []Charge, now time.Time, admit func([]Tally) bool) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts := make([]Tally, len(cs))
	for i, c := range cs {
		if bk := m.buckets[c.Bucket]; bk != nil {
			ts[i] = bk.Tally
		}
	}
	if !admit(ts) {
		return false, nil
	}
	for _, c := range cs {
		bk := m.buckets[c.Bucket]
		if bk == nil {
			bk = &bucket{until: c.Until}
			m.buckets[c.Bucket] = bk
			m.inserts++
			if m.inserts%1024 == 0 {
				m.sweep(now.Unix())
			}
		}
		bk.Calls++
		bk.Sum += c.Amount
		bk.touched = now
	}
	return true, nil
}

// sweep drops hour and day buckets whose window has passed.
func (m *MemoryLedger) sweep(now int64) {
	for k, b := range m.buckets {
		if b.until != 0 && b.until <= now {
			delete(m.buckets, k)
		}
	}
}

// Refund implements LedgerBackend.
func (m *MemoryLedger) Refund(ctx context.Context, cs []Charge) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range cs {
		if bk := m.buckets[c.Bucket]; bk != nil {
			bk.Calls--
			bk.Sum -= c.Amount
		}
	}
	return nil
}

// ForgetRun implements LedgerBackend.
func (m *MemoryLedger) ForgetRun(ctx context.Context, run string, idleSince time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, b := range m.buckets {
		if run != "" && k.Run == run && b.touched.Before(idleSince) {
			delete(m.buckets, k)
		}
	}
	return nil
}

// Usage implements LedgerBackend.
func (m *MemoryLedger) Usage(ctx context.Context) ([]Usage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Usage, 0, len(m.buckets))
	for k, b := range m.buckets {
		out = append(out, Usage{Budget: k.Budget, Run: k.Run, Key: k.Key, Window: k.Window, Calls: b.Calls, Sum: b.Sum})
	}
	return out, nil
}
