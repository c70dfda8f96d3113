package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/internal/pgtest"
	"github.com/probity/probity/policy"
)

// sharedPolicy has one budget over every guard's refunds and one rule that
// holds big refunds for a person.
const sharedPolicy = `
budgets:
  - name: daily-refunds
    tools: [refund]
    sum: args.amount
    max: 1000
    per: day
rules:
  - name: confirm-big-refund
    tools: [refund]
    action: approve
    when: 'args.amount > 200'
`

// runningGuard is one `probity guard serve` started in-process, exactly as
// the command line starts it, on a loopback port.
type runningGuard struct {
	url    string
	stderr *syncBuffer
}

// startGuard runs `probity guard serve --db db` until the test ends.
func startGuard(t *testing.T, dir, name, db string, extra ...string) *runningGuard {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := filepath.Join(dir, name+".addr")
	g := &runningGuard{stderr: &syncBuffer{}}
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: g.stderr}
	root := newRootCmd(e)
	root.SetArgs(append([]string{"guard", "serve", "--policy", filepath.Join(dir, "policy.yaml"), "--db", db,
		"--listen", "127.0.0.1:0", "--addr-file", addr, "--audit", filepath.Join(dir, name+"-audit.jsonl"),
		"--approver-token-file", filepath.Join(dir, "approver-token")}, extra...))
	root.SetOut(e.stdout)
	root.SetErr(g.stderr)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("guard %s: %v\n%s", name, err, g.stderr)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(addr); err == nil && len(bytes.TrimSpace(b)) > 0 {
			g.url = string(bytes.TrimSpace(b))
			return g
		}
		select {
		case err := <-done:
			t.Fatalf("guard %s exited: %v\n%s", name, err, g.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("guard %s did not listen within 20s\n%s", name, g.stderr)
		}
	}
}

// guardDBs are the stores the shared-guard tests run on: a SQLite file
// always, PostgreSQL where one is reachable (always in CI).
func guardDBs(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "guard.db") },
		"postgres": func(t *testing.T) string { return pgtest.Schema(t) },
	}
}

func sharedGuardDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(sharedPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestGuardsShareBudget is issue 12's test of the guard sharing the store:
// two `guard serve` processes on one database take many concurrent calls;
// together they allow exactly budget/amount of them and the total charged
// never exceeds the budget.
func TestGuardsShareBudget(t *testing.T) {
	for name, newDB := range guardDBs(t) {
		t.Run(name, func(t *testing.T) {
			dir := sharedGuardDir(t)
			db := newDB(t)
			guards := []*runningGuard{startGuard(t, dir, "a", db), startGuard(t, dir, "b", db)}
			const workers, calls, amount, max = 16, 20, 10, 1000
			var allowed, denied atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := &guard.Client{BaseURL: guards[w%2].url}
					for i := range calls {
						v, err := c.Decide(context.Background(), guard.Call{Run: fmt.Sprintf("run-%d", w), Tool: "refund",
							Args: []byte(fmt.Sprintf(`{"amount": %d, "n": %d}`, amount, i))}, false)
						if err != nil {
							errs <- err
							return
						}
						switch {
						case v.Allowed():
							allowed.Add(1)
						case v.Rule == "daily-refunds" && strings.Contains(v.Reason, "budget exhausted"):
							denied.Add(1)
						default:
							errs <- fmt.Errorf("unexpected decision %+v", v)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if got, want := allowed.Load(), int64(max/amount); got != want {
				t.Errorf("two guards allowed %d refunds of %d, want exactly %d (budget %d)", got, amount, want, max)
			}
			if got, want := allowed.Load()+denied.Load(), int64(workers*calls); got != want {
				t.Errorf("%d decisions, want %d", got, want)
			}
			// The store's tally agrees: nothing was charged twice or lost.
			gs, closeStore, err := openGuardState(t.Context(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			us, err := policy.NewSharedLedger(gs).Usage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(us) != 1 || us[0].Sum != max || us[0].Calls != max/amount {
				t.Errorf("store's usage = %+v, want one bucket with %d in %d calls", us, max, max/amount)
			}
			// Both guards took part.
			for i, g := range guards {
				if !strings.Contains(g.stderr.String(), "shared with every guard") {
					t.Errorf("guard %d did not report its shared store:\n%s", i, g.stderr)
				}
			}
		})
	}
}

// TestGuardsShareApprovals: a call held by one guard is listed by the
// other, approved or denied through it, and the holding guard's waiting
// call gets the answer; a denied call's budget is given back.
func TestGuardsShareApprovals(t *testing.T) {
	for name, newDB := range guardDBs(t) {
		t.Run(name, func(t *testing.T) {
			dir := sharedGuardDir(t)
			db := newDB(t)
			a := startGuard(t, dir, "a", db)
			b := startGuard(t, dir, "b", db)
			token, err := approverToken(filepath.Join(dir, "approver-token"))
			if err != nil {
				t.Fatal(err)
			}
			agent := &guard.Client{BaseURL: a.url}
			approver := &guard.Client{BaseURL: b.url, Token: token}
			ctx := t.Context()

			hold := func(amount int) (chan guard.Decision, string) {
				t.Helper()
				out := make(chan guard.Decision, 1)
				go func() {
					v, err := agent.Decide(ctx, guard.Call{Run: "conv-1", Tool: "refund", Args: []byte(fmt.Sprintf(`{"amount": %d}`, amount))}, true)
					if err != nil {
						t.Error(err)
					}
					out <- v
				}()
				// The held call shows up through the other guard.
				for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
					list, err := approver.Approvals(ctx, guard.StatusPending)
					if err != nil {
						t.Fatal(err)
					}
					if len(list) == 1 {
						if list[0].Tool != "refund" || list[0].Run != "conv-1" || list[0].Rule != "confirm-big-refund" {
							t.Errorf("pending through guard b = %+v", list[0])
						}
						return out, list[0].ID
					}
				}
				t.Fatal("the held call never appeared in the other guard's list")
				return nil, ""
			}

			out, id := hold(300)
			if _, err := approver.Resolve(ctx, id, true, "alice", "verified"); err != nil {
				t.Fatal(err)
			}
			select {
			case v := <-out:
				if !v.Allowed() || !strings.Contains(v.Reason, "approved by alice") {
					t.Errorf("held call after approval through guard b = %+v, want allow, approved by alice", v)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("guard a never saw the approval given through guard b")
			}
			if _, err := approver.Resolve(ctx, id, false, "bob", ""); probity.ErrorCode(err) != probity.ECONFLICT {
				t.Errorf("denying an approved call = %v, want ECONFLICT", err)
			}

			out, id = hold(400)
			if _, err := approver.Resolve(ctx, id, false, "bob", "not today"); err != nil {
				t.Fatal(err)
			}
			select {
			case v := <-out:
				if v.Decision != "deny" || !strings.Contains(v.Reason, "denied by bob: not today") {
					t.Errorf("held call after denial through guard b = %+v, want deny by bob", v)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("guard a never saw the denial given through guard b")
			}
			// The denied 400 was refunded by the guard that held it: only
			// the approved 300 stays charged.
			gs, closeStore, err := openGuardState(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
				us, err := gs.Usage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(us) == 1 && us[0].Sum == 300 && us[0].Calls == 1 {
					break
				}
				if time.Since(start) > 5*time.Second {
					t.Fatalf("usage after an approval and a denial = %+v, want 300 in 1 call", us)
				}
			}
		})
	}
}

// TestServeAnswersGuardApprovals: `probity serve` on the store a guard
// shares shows the call the guard holds on its approvals page, and an
// answer given there with the approver token reaches the guard.
func TestServeAnswersGuardApprovals(t *testing.T) {
	dir := sharedGuardDir(t)
	db := "sqlite:" + filepath.Join(dir, "shared.db")
	a := startGuard(t, dir, "a", db)
	v, err := (&guard.Client{BaseURL: a.url}).Decide(t.Context(), guard.Call{Run: "conv-3", Tool: "refund", Args: []byte(`{"amount": 250}`)}, false)
	if err != nil || v.Decision != "approve" {
		t.Fatalf("refund of 250: %+v %v, want approve", v, err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // serve listens there itself
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs([]string{"serve", "--db", db, "--listen", addr, "--otlp-http", "", "--otlp-grpc", "", "--no-monitors",
		"--approver-token-file", filepath.Join(dir, "approver-token")})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, stderr)
		}
	})
	base := "http://" + addr
	var body string
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/approvals"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if body = string(b); resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("serve's approvals page never answered 200:\n%s\n%s", body, stderr)
		}
	}
	if !strings.Contains(body, v.ApprovalID) || !strings.Contains(body, `name="token"`) {
		t.Fatalf("serve's approvals page does not offer the held call %s:\n%s", v.ApprovalID, body)
	}
	token, err := approverToken(filepath.Join(dir, "approver-token"))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"token": {token}, "decision": {"deny"}, "by": {"carol"}, "note": {"duplicate"}}
	req, _ := http.NewRequest("POST", base+"/approvals/"+v.ApprovalID, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deny on serve's page = %d, want 303", resp.StatusCode)
	}
	// The guard that holds the call acts on it: the audit log it writes
	// records the denial.
	audit := filepath.Join(dir, "a-audit.jsonl")
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(audit)
		if strings.Contains(string(b), `"status":"denied","by":"carol","note":"duplicate"`) {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("guard a never recorded the denial given on serve's page; audit:\n%s", b)
		}
	}
}
