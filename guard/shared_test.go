package guard_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/store/sqlite"
)

const sharedBudget = `
budgets:
  - name: daily
    tools: [refund]
    sum: args.amount
    max: 100
    per: day
rules:
  - name: confirm
    tools: [wire]
    action: approve
    when: 'true'
`

// TestSharedStoreDownFailsClosed: when the store that keeps a guard's
// budgets and approvals stops answering, a call a budget applies to is
// denied (the budget cannot be counted), and a call that needs approval is
// denied (nobody could find it to approve it); a call neither applies to
// still goes ahead.
func TestSharedStoreDownFailsClosed(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := newGuard(t, sharedBudget, guard.Options{Ledger: db.GuardState(), Approvals: db.GuardState(), EvalTimeout: time.Second})
	ctx := context.Background()
	if v, _ := g.Decide(ctx, guard.Call{Run: "r", Tool: "refund", Args: []byte(`{"amount": 10}`)}); v.Decision != "allow" {
		t.Fatalf("refund with the store up: %s (%s), want allow", v.Decision, v.Reason)
	}
	db.Close()
	v, err := g.Decide(ctx, guard.Call{Run: "r", Tool: "refund", Args: []byte(`{"amount": 10}`)})
	if err != nil || v.Decision != "deny" || !strings.Contains(v.Reason, "failing closed") || len(v.Matches) == 0 || !strings.Contains(v.Matches[0].Error, "ledger") {
		t.Errorf("refund with the store down: %s (%q) %v, want deny failing closed on the ledger", v.Decision, v.Reason, err)
	}
	v, err = g.Decide(ctx, guard.Call{Run: "r", Tool: "wire", Args: []byte(`{}`)})
	if err != nil || v.Decision != "deny" || !strings.Contains(v.Reason, "could not be stored") {
		t.Errorf("wire with the store down: %s (%q) %v, want deny: the approval could not be stored", v.Decision, v.Reason, err)
	}
	if v, _ := g.Decide(ctx, guard.Call{Run: "r", Tool: "read_file", Args: []byte(`{}`)}); v.Decision != "allow" {
		t.Errorf("read_file with the store down: %s (%s), want allow (no budget or rule applies)", v.Decision, v.Reason)
	}
}

// TestSharedApprovalTimeout: an approval nobody answers expires in the
// store too, and its budget is given back.
func TestSharedApprovalTimeout(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := newGuard(t, sharedBudget+`
  - name: confirm-refund
    tools: [refund]
    action: approve
    when: 'args.amount > 50'
`, guard.Options{Ledger: db.GuardState(), Approvals: db.GuardState(), ApprovalTimeout: 100 * time.Millisecond, PollInterval: 10 * time.Millisecond})
	ctx := context.Background()
	v, err := g.Check(ctx, guard.Call{Run: "r", Tool: "refund", Args: []byte(`{"amount": 60}`)})
	if err != nil || v.Decision != "deny" || !strings.Contains(v.Reason, "no approval within") {
		t.Fatalf("unanswered refund: %s (%q) %v, want deny, no approval within the timeout", v.Decision, v.Reason, err)
	}
	a, err := db.GuardState().Approval(ctx, v.ApprovalID)
	if err != nil || a.Status != guard.StatusExpired {
		t.Errorf("stored approval = %+v, %v; want expired", a, err)
	}
	us, err := db.GuardState().Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 || us[0].Calls != 0 || us[0].Sum != 0 {
		t.Errorf("budget after the expired approval = %+v, want refunded to 0", us)
	}
}
