package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/policy"
)

// GuardState is what `probity guard serve --db` keeps in a store: budget
// usage and approvals.
type GuardState interface {
	policy.LedgerBackend
	guard.ApprovalStore
}

// GuardOpener opens a handle to one test database; handles opened from one
// GuardOpener share it, as guard processes would.
type GuardOpener func(t *testing.T) GuardState

// NewGuardDB makes a fresh, empty database and returns its GuardOpener.
type NewGuardDB func(t *testing.T) GuardOpener

// LedgerOpener opens a handle to one test ledger; handles opened from one
// LedgerOpener share it.
type LedgerOpener func(t *testing.T) policy.LedgerBackend

// RunLedger runs the contract suite of a policy.LedgerBackend: the store
// backends' and the in-memory one.
func RunLedger(t *testing.T, newDB func(t *testing.T) LedgerOpener) {
	tests := []struct {
		name string
		fn   func(*testing.T, LedgerOpener)
	}{
		{"ReserveAdmitRefund", testReserve},
		{"ReserveAllOrNothing", testReserveAllOrNothing},
		{"ConcurrentReserveAcrossHandles", testConcurrentReserve},
		{"ForgetRun", testForgetRun},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB(t)) })
	}
}

// RunGuard runs the contract suite of the guard's shared state: the
// ledger's, then the approvals'.
func RunGuard(t *testing.T, newDB NewGuardDB) {
	RunLedger(t, func(t *testing.T) LedgerOpener {
		open := newDB(t)
		return func(t *testing.T) policy.LedgerBackend { return open(t) }
	})
	tests := []struct {
		name string
		fn   func(*testing.T, GuardOpener)
	}{
		{"Approvals", testApprovals},
		{"ApprovalDeadline", testApprovalDeadline},
		{"ConcurrentResolveAcrossHandles", testConcurrentResolve},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB(t)) })
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sumAdmit admits a charge of amount while the bucket's sum stays within
// max, recording the tallies it saw.
func sumAdmit(max float64, seen *[]policy.Tally) func([]policy.Tally) bool {
	return func(ts []policy.Tally) bool {
		*seen = append((*seen)[:0], ts...)
		for _, tl := range ts {
			if tl.Sum+10 > max {
				return false
			}
		}
		return true
	}
}

func usageOf(t *testing.T, g policy.LedgerBackend, b policy.Bucket) policy.Usage {
	t.Helper()
	us, err := g.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.Budget == b.Budget && u.Run == b.Run && u.Key == b.Key && u.Window == b.Window {
			return u
		}
	}
	return policy.Usage{}
}

func testReserve(t *testing.T, open LedgerOpener) {
	ctx := context.Background()
	g := open(t)
	b := policy.Bucket{Budget: "refunds", Key: "cust-1", Window: t0.Unix()}
	cs := []policy.Charge{{Bucket: b, Amount: 10, Until: t0.Add(time.Hour).Unix()}}
	var seen []policy.Tally
	for i := range 3 {
		ok, err := g.Reserve(ctx, cs, t0, sumAdmit(25, &seen))
		if err != nil {
			t.Fatal(err)
		}
		wantOK := i < 2
		if ok != wantOK {
			t.Errorf("reserve %d = %v, want %v", i, ok, wantOK)
		}
		if want := (policy.Tally{Calls: min(i, 2), Sum: float64(10 * min(i, 2))}); seen[0] != want {
			t.Errorf("reserve %d: admit saw %+v, want %+v", i, seen[0], want)
		}
	}
	if u := usageOf(t, g, b); u.Calls != 2 || u.Sum != 20 {
		t.Errorf("usage after two charges = %+v, want 2 calls, sum 20", u)
	}
	if err := g.Refund(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if u := usageOf(t, g, b); u.Calls != 1 || u.Sum != 10 {
		t.Errorf("usage after a refund = %+v, want 1 call, sum 10", u)
	}
	// Another handle on the same database sees the same tally.
	if u := usageOf(t, open(t), b); u.Calls != 1 || u.Sum != 10 {
		t.Errorf("usage through a second handle = %+v, want 1 call, sum 10", u)
	}
}

func testReserveAllOrNothing(t *testing.T, open LedgerOpener) {
	ctx := context.Background()
	g := open(t)
	a := policy.Bucket{Budget: "a", Run: "run-1"}
	b := policy.Bucket{Budget: "b", Window: t0.Unix()}
	cs := []policy.Charge{{Bucket: a, Amount: 1}, {Bucket: b, Amount: 5, Until: t0.Add(time.Hour).Unix()}}
	ok, err := g.Reserve(ctx, cs, t0, func(ts []policy.Tally) bool { return true })
	if err != nil || !ok {
		t.Fatalf("first reserve = %v, %v; want true, nil", ok, err)
	}
	// b refuses: a must not be charged either.
	ok, err = g.Reserve(ctx, cs, t0, func(ts []policy.Tally) bool {
		if len(ts) != 2 || ts[0].Calls != 1 || ts[1].Sum != 5 {
			t.Errorf("admit saw %+v, want the tallies of a then b", ts)
		}
		return false
	})
	if err != nil || ok {
		t.Fatalf("refused reserve = %v, %v; want false, nil", ok, err)
	}
	if ua, ub := usageOf(t, g, a), usageOf(t, g, b); ua.Calls != 1 || ub.Calls != 1 || ub.Sum != 5 {
		t.Errorf("after a refused reserve: a %+v, b %+v; want one call each", ua, ub)
	}
}

// testConcurrentReserve is the guarantee several guards rest on: many
// reserves at once through two handles never overspend, and exactly
// max/amount of them are admitted.
func testConcurrentReserve(t *testing.T, open LedgerOpener) {
	ctx := context.Background()
	handles := []policy.LedgerBackend{open(t), open(t)}
	b := policy.Bucket{Budget: "global", Window: t0.Unix()}
	cs := []policy.Charge{{Bucket: b, Amount: 10, Until: t0.Add(24 * time.Hour).Unix()}}
	const workers, each, max = 8, 10, 300.0
	var admitted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := handles[w%2]
			for range each {
				ok, err := g.Reserve(ctx, cs, t0, func(ts []policy.Tally) bool { return ts[0].Sum+10 <= max })
				if err != nil {
					errs <- err
					return
				}
				if ok {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, want := admitted.Load(), int64(max/10); got != want {
		t.Errorf("admitted %d of %d reserves, want exactly %d", got, workers*each, want)
	}
	if u := usageOf(t, handles[0], b); u.Sum != max || u.Calls != int(max/10) {
		t.Errorf("usage = %+v, want sum %v in %d calls", u, max, int(max/10))
	}
}

func testForgetRun(t *testing.T, open LedgerOpener) {
	ctx := context.Background()
	g := open(t)
	yes := func([]policy.Tally) bool { return true }
	old := policy.Bucket{Budget: "per-run", Run: "run-1"}
	global := policy.Bucket{Budget: "global", Window: t0.Unix()}
	other := policy.Bucket{Budget: "per-run", Run: "run-2"}
	for _, b := range []policy.Bucket{old, global, other} {
		if _, err := g.Reserve(ctx, []policy.Charge{{Bucket: b, Amount: 1}}, t0, yes); err != nil {
			t.Fatal(err)
		}
	}
	// Charged at t0, so a guard idle since before t0 must not forget it:
	// another guard used the run since.
	if err := g.ForgetRun(ctx, "run-1", t0); err != nil {
		t.Fatal(err)
	}
	if u := usageOf(t, g, old); u.Calls != 1 {
		t.Errorf("ForgetRun dropped a bucket charged at its idleSince: %+v", u)
	}
	if err := g.ForgetRun(ctx, "run-1", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if u := usageOf(t, g, old); u.Calls != 0 {
		t.Errorf("ForgetRun kept an idle run's bucket: %+v", u)
	}
	if ug, uo := usageOf(t, g, global), usageOf(t, g, other); ug.Calls != 1 || uo.Calls != 1 {
		t.Errorf("ForgetRun(run-1) touched other buckets: global %+v, run-2 %+v", ug, uo)
	}
}

func newApproval(id string, created time.Time) guard.Approval {
	return guard.Approval{ID: id, Status: guard.StatusPending, Run: "run-1", CallID: "call-1", Tool: "refund",
		Args: []byte(`{"amount":300,"note":"<b>&</b>"}`), Rule: "big-refunds", Message: "needs a person", Reason: "amount over 200",
		Created: created, Deadline: created.Add(5 * time.Minute)}
}

func testApprovals(t *testing.T, open GuardOpener) {
	ctx := context.Background()
	g1, g2 := open(t), open(t)
	a := newApproval("ap_1", t0)
	if err := g1.AddApproval(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := g1.AddApproval(ctx, newApproval("ap_2", t0.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	got, err := g2.Approval(ctx, "ap_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Tool != "refund" || string(got.Args) != `{"amount":300,"note":"<b>&</b>"}` || got.Status != guard.StatusPending || !got.Deadline.Equal(a.Deadline) {
		t.Errorf("Approval(ap_1) through another handle = %+v, want %+v", got, a)
	}
	list, err := g2.Approvals(ctx, guard.StatusPending, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "ap_1" || list[1].ID != "ap_2" {
		t.Errorf("pending approvals = %v, want ap_1 then ap_2", ids(list))
	}
	if list, _ := g2.Approvals(ctx, "", 1); len(list) != 1 || list[0].ID != "ap_2" {
		t.Errorf("Approvals(limit 1) = %v, want the newest, ap_2", ids(list))
	}
	at := t0.Add(time.Minute)
	res, err := g2.ResolveApproval(ctx, "ap_1", guard.StatusApproved, "ops", "verified", at)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != guard.StatusApproved || res.By != "ops" || res.Note != "verified" || !res.Resolved.Equal(at) {
		t.Errorf("ResolveApproval = %+v, want approved by ops at %v", res, at)
	}
	// The holding guard sees the answer; a second answer conflicts and
	// reports the first.
	if got, _ := g1.Approval(ctx, "ap_1"); got.Status != guard.StatusApproved || got.By != "ops" {
		t.Errorf("holder sees %+v, want approved by ops", got)
	}
	res, err = g1.ResolveApproval(ctx, "ap_1", guard.StatusDenied, "someone", "", at)
	if probity.ErrorCode(err) != probity.ECONFLICT || res.Status != guard.StatusApproved {
		t.Errorf("second resolve = %+v, %v; want ECONFLICT with the approved approval", res, err)
	}
	if _, err := g1.ResolveApproval(ctx, "ap_none", guard.StatusDenied, "", "", at); probity.ErrorCode(err) != probity.ENOTFOUND {
		t.Errorf("resolve unknown = %v, want ENOTFOUND", err)
	}
	if _, err := g1.Approval(ctx, "ap_none"); probity.ErrorCode(err) != probity.ENOTFOUND {
		t.Errorf("Approval(unknown) = %v, want ENOTFOUND", err)
	}
	if _, err := g1.ResolveApproval(ctx, "ap_2", "maybe", "", "", at); probity.ErrorCode(err) != probity.EINVALID {
		t.Errorf("resolve to a bad status = %v, want EINVALID", err)
	}
	// Pruning deletes resolved approvals older than its cutoff only.
	if err := g1.PruneApprovals(ctx, at, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := g1.Approval(ctx, "ap_1"); probity.ErrorCode(err) != probity.ENOTFOUND {
		t.Errorf("after prune, ap_1 = %v, want ENOTFOUND", err)
	}
	if got, err := g1.Approval(ctx, "ap_2"); err != nil || got.Status != guard.StatusPending {
		t.Errorf("after prune, ap_2 = %+v, %v; want still pending", got, err)
	}
}

func ids(as []guard.Approval) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func testApprovalDeadline(t *testing.T, open GuardOpener) {
	ctx := context.Background()
	g := open(t)
	a := newApproval("ap_late", t0)
	if err := g.AddApproval(ctx, a); err != nil {
		t.Fatal(err)
	}
	late := a.Deadline.Add(time.Second)
	res, err := g.ResolveApproval(ctx, a.ID, guard.StatusApproved, "ops", "", late)
	if probity.ErrorCode(err) != probity.ECONFLICT || res.Status != guard.StatusExpired {
		t.Errorf("approving past the deadline = %+v, %v; want ECONFLICT and expired", res, err)
	}
	// A pending approval whose guard died is expired by pruning.
	b := newApproval("ap_orphan", t0)
	if err := g.AddApproval(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := g.PruneApprovals(ctx, late, t0); err != nil {
		t.Fatal(err)
	}
	if got, err := g.Approval(ctx, b.ID); err != nil || got.Status != guard.StatusExpired {
		t.Errorf("orphan after prune = %+v, %v; want expired", got, err)
	}
}

// testConcurrentResolve: of many approvers answering one approval at once
// through two handles, exactly one wins and every other sees its answer.
func testConcurrentResolve(t *testing.T, open GuardOpener) {
	ctx := context.Background()
	handles := []GuardState{open(t), open(t)}
	if err := handles[0].AddApproval(ctx, newApproval("ap_race", t0)); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wins atomic.Int64
	results := make([]guard.Approval, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status := guard.StatusApproved
			if i%2 == 1 {
				status = guard.StatusDenied
			}
			results[i], errs[i] = handles[i%2].ResolveApproval(ctx, "ap_race", status, fmt.Sprint("approver-", i), "", t0.Add(time.Minute))
			if errs[i] == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d resolves won, want exactly 1 (errors: %v)", wins.Load(), errs)
	}
	final, err := handles[1].Approval(ctx, "ap_race")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil && probity.ErrorCode(errs[i]) != probity.ECONFLICT {
			t.Errorf("resolve %d: %v, want ECONFLICT", i, errs[i])
		}
		if results[i].Status != final.Status || results[i].By != final.By {
			t.Errorf("resolve %d saw %s by %s, the store holds %s by %s", i, results[i].Status, results[i].By, final.Status, final.By)
		}
	}
}

// BenchReserve measures Reserve on g from parallel goroutines, all
// charging one per-day budget that never runs out: the cost of a budget
// check that several guards share, to compare with policy.MemoryLedger.
func BenchReserve(b *testing.B, g policy.LedgerBackend) {
	ctx := context.Background()
	cs := []policy.Charge{
		{Bucket: policy.Bucket{Budget: "daily", Window: t0.Unix()}, Amount: 1, Until: t0.Add(24 * time.Hour).Unix()},
		{Bucket: policy.Bucket{Budget: "per-run", Run: "run-1"}, Amount: 1},
	}
	admit := func([]policy.Tally) bool { return true }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := g.Reserve(ctx, cs, t0, admit); err != nil || !ok {
				b.Errorf("Reserve = %v, %v", ok, err)
				return
			}
		}
	})
}
