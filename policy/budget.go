package policy

import (
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Ledger holds budget usage. Checking and charging happen together under one
// lock, so concurrent calls from many runs can never overspend a budget. A
// Ledger is safe for concurrent use and may be shared by every session of a
// guard (per-hour and per-day budgets span runs).
type Ledger struct {
	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	inserts int
}

type bucketKey struct {
	budget string
	run    string // per-run budgets only
	key    string // value of the budget's key expression
	window int64  // start of the hour or day (Unix seconds); 0 per run
}

type bucket struct {
	calls int
	sum   float64
	until int64 // end of the window (Unix seconds); 0 per run
}

type charge struct {
	b      *Budget
	k      bucketKey
	amount float64
	until  int64
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{buckets: map[bucketKey]*bucket{}} }

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

// reserve charges every charge if no enforced budget would be exceeded, and
// charges nothing otherwise. Shadow budgets are charged even when exceeded,
// because the call goes ahead. It returns the charges that exceed.
func (l *Ledger) reserve(cs []charge, shadow func(*Budget) bool, now int64) (over []overrun, charged bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	blocked := false
	for _, c := range cs {
		bk := l.buckets[c.k]
		calls, sum := 0, 0.0
		if bk != nil {
			calls, sum = bk.calls, bk.sum
		}
		var why string
		switch {
		case c.b.MaxCalls > 0 && calls+1 > c.b.MaxCalls:
			why = fmt.Sprintf("call %d would exceed max_calls %d per %s", calls+1, c.b.MaxCalls, c.b.Per)
		case c.b.sum != nil && sum+c.amount > c.b.Max:
			why = fmt.Sprintf("%s + %s = %s would exceed max %s per %s", num(sum), num(c.amount), num(sum+c.amount), num(c.b.Max), c.b.Per)
		}
		if why != "" {
			enforced := !shadow(c.b)
			over = append(over, overrun{c: c, calls: calls, sum: sum, enforced: enforced, limitReached: why})
			blocked = blocked || enforced
		}
	}
	if blocked {
		return over, false
	}
	for _, c := range cs {
		bk := l.buckets[c.k]
		if bk == nil {
			bk = &bucket{until: c.until}
			l.buckets[c.k] = bk
			l.inserts++
			if l.inserts%1024 == 0 {
				l.sweep(now)
			}
		}
		bk.calls++
		bk.sum += c.amount
	}
	return over, true
}

// sweep drops hour and day buckets whose window has passed.
func (l *Ledger) sweep(now int64) {
	for k, b := range l.buckets {
		if b.until != 0 && b.until <= now {
			delete(l.buckets, k)
		}
	}
}

// Refund gives back what d charged: for an approval that was denied or
// timed out, the call never ran.
func (l *Ledger) Refund(d *Decision) {
	if len(d.charges) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range d.charges {
		if bk := l.buckets[c.k]; bk != nil {
			bk.calls--
			bk.sum -= c.amount
		}
	}
	d.charges = nil
}

// ForgetRun drops the per-run budget usage of run, for a guard that evicts
// finished runs.
func (l *Ledger) ForgetRun(run string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.buckets {
		if k.run == run {
			delete(l.buckets, k)
		}
	}
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

// Usage returns the current usage of every bucket, for status pages and tests.
func (l *Ledger) Usage() []Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Usage, 0, len(l.buckets))
	for k, b := range l.buckets {
		out = append(out, Usage{Budget: k.budget, Run: k.run, Key: k.key, Window: k.window, Calls: b.calls, Sum: b.sum})
	}
	return out
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
