package guard_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/policy"
)

const historyPolicy = `
rules:
  - name: no-env-files
    tools: [write_file]
    deny: 'args.path.endsWith(".env")'
  - name: one-refund-per-order
    tools: [refund]
    deny: 'run.calls.exists(c, c.tool == "refund" && c.args.order_id == args.order_id)'
  - name: approve-deploys
    tools: [deploy]
    action: approve
`

// TestRunHistoryAndAuditAreBounded: forty calls with 1 MiB arguments in one
// run used to keep 40 MiB of history and write 40 MiB of audit log (issue
// 10: 40 × 10 MB gave 786 MB RSS and a 420 MB log). The history now keeps
// at most its run limit, the audit log a hash for arguments over 64 KiB,
// and a rule that needs arguments that were cut denies.
func TestRunHistoryAndAuditAreBounded(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := guard.OpenAudit(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	g := newGuard(t, historyPolicy, guard.Options{Audit: audit})
	big, _ := json.Marshal(map[string]string{"path": "notes.txt", "content": strings.Repeat("x", 1<<20)})
	ctx := context.Background()
	for i := range 40 {
		if v, err := g.Decide(ctx, guard.Call{Run: "r", Tool: "write_file", Args: big}); err != nil || v.Decision != "allow" {
			t.Fatalf("write %d: %+v %v", i, v, err)
		}
	}
	kept := 0
	for _, st := range g.History("r") {
		kept += len(st.Content)
		if st.Tool != nil {
			kept += len(st.Tool.Args)
		}
	}
	l := policy.DefaultHistoryLimits
	if kept > l.RunBytes+l.StepBytes {
		t.Errorf("the run's history keeps %d bytes of text, want at most %d", kept, l.RunBytes+l.StepBytes)
	}
	st, _ := os.Stat(auditPath)
	if st.Size() > 40*(guard.MaxAuditArgs+8<<10) {
		t.Errorf("audit log is %d bytes for 40 decisions, want at most %d", st.Size(), 40*(guard.MaxAuditArgs+8<<10))
	}
	sum := sha256.Sum256(big)
	for _, r := range readAudit(t, auditPath) {
		if r.Args != nil || r.ArgsBytes != len(big) || r.ArgsSHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("audit record args %d bytes, args_bytes %d, sha %s; want none, %d and the arguments' SHA-256", len(r.Args), r.ArgsBytes, r.ArgsSHA256, len(big))
		}
	}

	// A refund whose arguments were too big to keep: a later refund cannot
	// be checked against it, so it is denied and says why.
	pad := strings.Repeat("y", 300<<10)
	if v, _ := g.Decide(ctx, guard.Call{Run: "r2", Tool: "refund", Args: json.RawMessage(`{"order_id":"A","note":"` + pad + `"}`)}); v.Decision != "allow" {
		t.Fatalf("first refund: %+v", v)
	}
	v, _ := g.Decide(ctx, guard.Call{Run: "r2", Tool: "refund", Args: json.RawMessage(`{"order_id":"B"}`)})
	if v.Decision != "deny" || v.Rule != "one-refund-per-order" || !strings.Contains(v.Reason, "over the guard's limit") {
		t.Errorf("refund after a cut one: %s by %q (%s), want deny by one-refund-per-order naming the limit", v.Decision, v.Rule, v.Reason)
	}
}

// TestDecisionTimeCoversMessages: the evaluation time limit bounds the
// whole decision, reading the client's conversation included; it used to
// bound only the rules, so 10 MB of messages took 10 s. A side-effecting
// call whose history could not be read in time is denied, and the next
// request reads on.
func TestDecisionTimeCoversMessages(t *testing.T) {
	g := newGuard(t, historyPolicy, guard.Options{EvalTimeout: time.Millisecond})
	var msgs []json.RawMessage
	for i := range 3000 {
		m, _ := json.Marshal(map[string]string{"role": "user", "content": fmt.Sprintf("message %d: order #W%07d ", i, i) + strings.Repeat("lorem ipsum ", 800)})
		msgs = append(msgs, m)
	}
	ctx := context.Background()
	v, err := g.Decide(ctx, guard.Call{Run: "r", Tool: "refund", Args: json.RawMessage(`{"order_id":"A"}`), Messages: msgs})
	if err != nil || v.Decision != "deny" || v.Rule != "history-limit" || !strings.Contains(v.Reason, "could not be read within the evaluation time limit") {
		t.Fatalf("refund with 3000 messages and a 1ms limit: %+v %v, want deny by history-limit", v, err)
	}
	first := len(g.History("r"))
	g.Decide(ctx, guard.Call{Run: "r", Tool: "read_file", Args: json.RawMessage(`{}`), Messages: msgs})
	if second := len(g.History("r")); second <= first || second > len(msgs)+2 {
		t.Errorf("history after two requests: %d then %d steps, want it to grow toward %d", first, second, len(msgs))
	}
}

// TestFullRunDeniesEveryCall: a run at its step limit can no longer be
// counted, so every call in it is denied, read-only ones too.
func TestFullRunDeniesEveryCall(t *testing.T) {
	g := newGuard(t, historyPolicy, guard.Options{History: policy.HistoryLimits{StepBytes: 1 << 10, RunBytes: 1 << 20, Steps: 10}})
	ctx := context.Background()
	for i := range 10 {
		if v, _ := g.Decide(ctx, guard.Call{Run: "r", Tool: "read_file", Args: json.RawMessage(`{}`)}); v.Decision != "allow" {
			t.Fatalf("call %d: %+v", i, v)
		}
	}
	v, _ := g.Decide(ctx, guard.Call{Run: "r", Tool: "read_file", Args: json.RawMessage(`{}`)})
	if v.Decision != "deny" || v.Rule != "history-limit" || !strings.Contains(v.Message, "limit of 10 steps") {
		t.Errorf("call 11: %+v, want deny by history-limit", v)
	}
	if v, _ := g.Decide(ctx, guard.Call{Run: "other", Tool: "read_file", Args: json.RawMessage(`{}`)}); v.Decision != "allow" {
		t.Errorf("another run: %+v, want allow", v)
	}
}

// TestPendingApprovalsAreBounded: calls waiting for a person hold their
// arguments; past 64 MiB of them a call that needs approval is denied.
func TestPendingApprovalsAreBounded(t *testing.T) {
	g := newGuard(t, historyPolicy, guard.Options{ApprovalTimeout: time.Minute})
	big, _ := json.Marshal(map[string]string{"bundle": strings.Repeat("b", 13<<20)})
	ctx := context.Background()
	var got []string
	for range 6 {
		v, _ := g.Decide(ctx, guard.Call{Run: "r", Tool: "deploy", Args: big})
		got = append(got, v.Decision)
	}
	if want := "approve approve approve approve deny deny"; strings.Join(got, " ") != want {
		t.Errorf("decisions = %v, want %s", got, want)
	}
	// Resolving one frees its room, and drops its big arguments.
	a, err := g.Deny(g.Approvals(guard.StatusPending)[0].ID, "ops", "")
	if err != nil || a.Args != nil || a.ArgsBytes != len(big) {
		t.Fatalf("deny: args %d bytes, args_bytes %d, %v; want none and %d", len(a.Args), a.ArgsBytes, err, len(big))
	}
	if v, _ := g.Decide(ctx, guard.Call{Run: "r", Tool: "deploy", Args: big}); v.Decision != "approve" {
		t.Errorf("after one resolution: %s, want approve", v.Decision)
	}
}
