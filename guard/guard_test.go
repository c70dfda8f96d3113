package guard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/guard"
	"github.com/probity/probity/policy"
)

const testPolicy = `
rules:
  - name: no-env-files
    tools: [write_file, edit_file]
    deny: 'args.path.endsWith(".env")'
    message: secrets files are off limits
  - name: confirm-before-refund
    tools: [refund*]
    action: approve
    when: 'args.amount > 200'
    message: refunds over 200 need a person
  - name: authenticate-first
    tools: [get_order_details]
    require_before: 'find_user_id_by_*'
budgets:
  - name: writes-per-run
    tools: [write_file]
    max_calls: 2
    per: run
  - name: refund-dollars
    tools: [refund*]
    sum: args.amount
    max: 500
    per: day
`

func newGuard(t testing.TB, src string, opts guard.Options) *guard.Guard {
	t.Helper()
	p, err := policy.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	opts.Policy = p
	g, err := guard.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

type writeArgs struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// TestWrapWritesRealFiles wraps a tool that writes real files: a denied
// call never runs, and the budget stops the third write.
func TestWrapWritesRealFiles(t *testing.T) {
	g := newGuard(t, testPolicy, guard.Options{})
	dir := t.TempDir()
	write := guard.Wrap(g, "write_file", func(ctx context.Context, a writeArgs) (string, error) {
		return "ok", os.WriteFile(filepath.Join(dir, a.Path), []byte(a.Content), 0o600)
	})
	ctx := guard.WithRun(context.Background(), "run-1")
	tests := []struct {
		path   string
		denied string // rule, or "" when the write must happen
	}{
		{".env", "no-env-files"},
		{"a.txt", ""},
		{"b.txt", ""},
		{"c.txt", "writes-per-run"},
	}
	for _, tt := range tests {
		_, err := write(ctx, writeArgs{Path: tt.path, Content: "x"})
		_, statErr := os.Stat(filepath.Join(dir, tt.path))
		var de *guard.DeniedError
		switch {
		case tt.denied == "" && (err != nil || statErr != nil):
			t.Errorf("write %s: err %v, stat %v; want the file written", tt.path, err, statErr)
		case tt.denied != "" && (!errors.As(err, &de) || de.Decision.Rule != tt.denied):
			t.Errorf("write %s: err %v, want denied by %s", tt.path, err, tt.denied)
		case tt.denied != "" && statErr == nil:
			t.Errorf("write %s: file exists after a denied call", tt.path)
		}
	}
	// Another run has its own per-run budget.
	if _, err := write(guard.WithRun(context.Background(), "run-2"), writeArgs{Path: "d.txt"}); err != nil {
		t.Errorf("write in run-2: %v", err)
	}
}

func TestRequireBeforeNeedsSuccess(t *testing.T) {
	g := newGuard(t, testPolicy, guard.Options{})
	ctx := context.Background()
	decide := func(tool string) string {
		v, err := g.Decide(ctx, guard.Call{Run: "r", Tool: tool, Args: json.RawMessage(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		return v.Decision
	}
	if got := decide("get_order_details"); got != "deny" {
		t.Errorf("before authentication: %s, want deny", got)
	}
	v, _ := g.Decide(ctx, guard.Call{Run: "r", Tool: "find_user_id_by_email", Args: json.RawMessage(`{"email":"x"}`)})
	g.Result("r", v.CallID, "find_user_id_by_email", "Error: user not found", true)
	if got := decide("get_order_details"); got != "deny" {
		t.Errorf("after a failed authentication: %s, want deny", got)
	}
	v, _ = g.Decide(ctx, guard.Call{Run: "r", Tool: "find_user_id_by_email", Args: json.RawMessage(`{"email":"y"}`)})
	g.Result("r", v.CallID, "find_user_id_by_email", "user_1", false)
	if got := decide("get_order_details"); got != "allow" {
		t.Errorf("after authentication: %s, want allow", got)
	}
}

// TestConcurrentBudgets runs many runs at once against a per-day dollar
// budget and per-run call budgets; run it with -race.
func TestConcurrentBudgets(t *testing.T) {
	g := newGuard(t, `
budgets:
  - name: refund-dollars
    tools: [refund]
    sum: args.amount
    max: 5000
    per: day
  - name: refunds-per-run
    tools: [refund]
    max_calls: 4
    per: run
`, guard.Options{})
	const runs, perRun = 64, 8
	var mu sync.Mutex
	allowed, perRunAllowed := 0, map[string]int{}
	var wg sync.WaitGroup
	for r := range runs {
		for range perRun {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run := fmt.Sprint("run-", r)
				v, err := g.Check(context.Background(), guard.Call{Run: run, Tool: "refund", Args: json.RawMessage(`{"amount":25}`)})
				if err != nil {
					t.Error(err)
					return
				}
				if v.Allowed() {
					mu.Lock()
					allowed++
					perRunAllowed[run]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	// 64 runs x 4 calls x $25 = $6400 > $5000: exactly 200 refunds fit.
	if allowed != 200 {
		t.Errorf("allowed %d refunds, want 200 ($5000 / $25)", allowed)
	}
	for run, n := range perRunAllowed {
		if n > 4 {
			t.Errorf("%s: %d refunds, per-run budget is 4", run, n)
		}
	}
}

// TestApprovals exercises the approval queue through the HTTP service: a
// webhook hears of the pending call, a person approves one and denies
// another, a third times out, and denied approvals give their budget back.
func TestApprovals(t *testing.T) {
	var hookMu sync.Mutex
	var events []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Event    string         `json:"event"`
			Approval guard.Approval `json:"approval"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		hookMu.Lock()
		events = append(events, ev.Event+":"+ev.Approval.Status+":"+ev.Approval.Tool)
		hookMu.Unlock()
	}))
	defer hook.Close()
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := guard.OpenAudit(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	g := newGuard(t, testPolicy, guard.Options{Webhook: hook.URL, ApprovalTimeout: 1500 * time.Millisecond, Audit: audit})
	c := startServer(t, g)
	ctx := context.Background()

	// Approved: a blocking decide returns allow once a person approves.
	done := make(chan guard.Decision)
	go func() {
		v, err := c.Decide(ctx, guard.Call{Run: "r1", Tool: "refund", Args: json.RawMessage(`{"amount":210}`)}, true)
		if err != nil {
			t.Error(err)
		}
		done <- v
	}()
	id := waitPending(t, c)
	if _, err := c.Resolve(ctx, id, true, "alice", "customer is right"); err != nil {
		t.Fatal(err)
	}
	if v := <-done; v.Decision != "allow" || !strings.Contains(v.Reason, "approved by alice") {
		t.Errorf("approved refund: %+v, want allow approved by alice", v)
	}
	// Resolving twice is a conflict.
	if _, err := c.Resolve(ctx, id, false, "bob", ""); probity.ErrorCode(err) != probity.ECONFLICT {
		t.Errorf("second resolve: %v, want conflict", err)
	}

	// Denied: the non-blocking decide returns approve with an id.
	v, err := c.Decide(ctx, guard.Call{Run: "r2", Tool: "refund", Args: json.RawMessage(`{"amount":250}`)}, false)
	if err != nil || v.Decision != "approve" || v.ApprovalID == "" {
		t.Fatalf("refund 250: %+v %v, want approve with an id", v, err)
	}
	if a, err := c.Resolve(ctx, v.ApprovalID, false, "bob", "no"); err != nil || a.Status != guard.StatusDenied {
		t.Fatalf("deny: %+v %v", a, err)
	}

	// Timed out: nobody answers.
	v, err = c.Decide(ctx, guard.Call{Run: "r3", Tool: "refund", Args: json.RawMessage(`{"amount":240}`)}, true)
	if err != nil || v.Decision != "deny" || !strings.Contains(v.Reason, "no approval within") {
		t.Errorf("unanswered refund: %+v %v, want deny after the timeout", v, err)
	}

	// Only the approved 210 was spent: 290 more fit in the $500 budget, 1 not.
	for _, amt := range []string{"200", "90"} {
		if v, _ := c.Decide(ctx, guard.Call{Run: "r4", Tool: "refund", Args: json.RawMessage(`{"amount":` + amt + `}`)}, false); v.Decision != "allow" {
			t.Errorf("refund %s after refunds of denied approvals: %s (%s), want allow", amt, v.Decision, v.Reason)
		}
	}
	if v, _ := c.Decide(ctx, guard.Call{Run: "r4", Tool: "refund", Args: json.RawMessage(`{"amount":1}`)}, false); v.Decision != "deny" || v.Rule != "refund-dollars" {
		t.Errorf("refund over the day's budget: %s by %q, want deny by refund-dollars", v.Decision, v.Rule)
	}
	g.Close() // waits for webhooks in flight
	hookMu.Lock()
	defer hookMu.Unlock()
	want := []string{
		"approval.pending:pending:refund", "approval.resolved:approved:refund",
		"approval.pending:pending:refund", "approval.resolved:denied:refund",
		"approval.pending:pending:refund", "approval.resolved:expired:refund",
	}
	if diff := cmp.Diff(want, events, cmpSorted); diff != "" {
		t.Errorf("webhook events (-want +got)\n%s", diff)
	}
	recs := readAudit(t, auditPath)
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Event+":"+r.Decision+r.Status)
	}
	wantKinds := []string{"decision:approve", "approval:approved", "decision:approve", "approval:denied",
		"decision:approve", "approval:expired", "decision:allow", "decision:allow", "decision:deny"}
	if diff := cmp.Diff(wantKinds, kinds, cmpSorted); diff != "" {
		t.Errorf("audit records (-want +got)\n%s", diff)
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func waitPending(t *testing.T, c *guard.Client) string {
	t.Helper()
	for range 200 {
		list, err := c.Approvals(context.Background(), guard.StatusPending)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			return list[0].ID
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no pending approval appeared")
	return ""
}

// testApprover is the approver token of test servers.
const testApprover = "test-approver-token-0123456789abcdef"

// startServer serves g on loopback and returns a client holding the
// approver token (which also passes as a client).
func startServer(t testing.TB, g *guard.Guard) *guard.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- guard.Serve(ctx, ln, g, guard.HTTPOptions{ApproverToken: testApprover}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &guard.Client{BaseURL: "http://" + ln.Addr().String(), Token: testApprover}
}

func readAudit(t *testing.T, path string) []guard.AuditRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []guard.AuditRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r guard.AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestShadowMode(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	audit, err := guard.OpenAudit(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	g := newGuard(t, "mode: shadow\n"+testPolicy, guard.Options{Audit: audit})
	dir := t.TempDir()
	write := guard.Wrap(g, "write_file", func(ctx context.Context, a writeArgs) (string, error) {
		return "ok", os.WriteFile(filepath.Join(dir, a.Path), []byte(a.Content), 0o600)
	})
	for _, p := range []string{".env", "a", "b", "c"} {
		if _, err := write(context.Background(), writeArgs{Path: p}); err != nil {
			t.Errorf("shadow write %s: %v, want it to go ahead", p, err)
		}
	}
	if got, want := g.ShadowReport(), map[string]int{"no-env-files": 1, "writes-per-run": 2}; !cmp.Equal(got, want) {
		t.Errorf("ShadowReport = %v, want %v", got, want)
	}
	var would []string
	for _, r := range readAudit(t, auditPath) {
		would = append(would, r.Decision+"/"+r.Would+"/"+r.Rule)
	}
	// In shadow mode the .env write went ahead, so it used budget too.
	want := []string{"allow/deny/no-env-files", "allow//", "allow/deny/writes-per-run", "allow/deny/writes-per-run"}
	if diff := cmp.Diff(want, would); diff != "" {
		t.Errorf("audit decision/would/rule (-want +got)\n%s", diff)
	}
}

func TestFailClosed(t *testing.T) {
	src := `
rules:
  - name: slow
    deny: 'run.calls.all(a, run.calls.all(b, run.calls.all(c, a.step + b.step + c.step >= 0)))'
`
	g := newGuard(t, src, guard.Options{EvalTimeout: time.Millisecond})
	for range 150 {
		v, _ := g.Decide(context.Background(), guard.Call{Run: "r", Tool: "read_page", Args: json.RawMessage(`{}`)})
		_ = v
	}
	v, err := g.Decide(context.Background(), guard.Call{Run: "r", Tool: "send_email", Args: json.RawMessage(`{}`)})
	if err != nil || v.Decision != "deny" || len(v.Matches) == 0 || v.Matches[0].Error == "" {
		t.Errorf("side-effecting call after an engine timeout: %+v %v, want a fail-closed deny", v, err)
	}
	v, err = g.Decide(context.Background(), guard.Call{Run: "r", Tool: "read_page", Args: json.RawMessage(`{}`)})
	if err != nil || v.Decision != "deny" || len(v.Matches) == 0 || !strings.Contains(v.Reason, "failing closed") {
		t.Errorf("read-only call after an engine timeout: %+v %v, want a fail-closed deny: the rule applies to it too", v, err)
	}

	// An audit log that cannot be written denies side-effecting calls.
	audit, err := guard.OpenAudit(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	audit.Close()
	g2 := newGuard(t, testPolicy, guard.Options{Audit: audit})
	if v, _ := g2.Decide(context.Background(), guard.Call{Tool: "write_file", Args: json.RawMessage(`{"path":"a"}`)}); v.Decision != "deny" || v.Rule != "audit" {
		t.Errorf("write with a broken audit log: %s by %q, want deny by audit", v.Decision, v.Rule)
	}
	if v, _ := g2.Decide(context.Background(), guard.Call{Tool: "read_file", Args: json.RawMessage(`{"path":"a"}`)}); v.Decision != "allow" {
		t.Errorf("read with a broken audit log: %s, want allow", v.Decision)
	}
}

// TestMessages sends the conversation with each call, as an agent in
// another language would: explicit confirmation is judged from it.
func TestMessages(t *testing.T) {
	g := newGuard(t, `
rules:
  - name: confirm-cancel
    tools: [cancel_order]
    confirm: '(?i)\byes\b'
`, guard.Options{})
	c := startServer(t, g)
	conv := []json.RawMessage{
		json.RawMessage(`{"role":"user","content":"cancel #W1 please"}`),
		json.RawMessage(`{"role":"assistant","content":"I will cancel order #W1. Confirm?"}`),
	}
	call := guard.Call{Run: "m", Tool: "cancel_order", Args: json.RawMessage(`{"order_id":"#W1"}`), Messages: conv}
	if v, err := c.Decide(context.Background(), call, false); err != nil || v.Decision != "deny" || v.Rule != "confirm-cancel" {
		t.Errorf("before the user said yes: %+v %v, want deny by confirm-cancel", v, err)
	}
	// Anthropic content blocks work as well as OpenAI strings.
	call.Messages = append(conv, json.RawMessage(`{"role":"user","content":[{"type":"text","text":"Yes, go ahead"}]}`))
	if v, err := c.Decide(context.Background(), call, false); err != nil || v.Decision != "allow" {
		t.Errorf("after the user said yes: %+v %v, want allow", v, err)
	}
	// The model message that makes the call may be sent too: it is not
	// history yet, so the confirmation still counts.
	call.Messages = append(call.Messages, json.RawMessage(`{"role":"assistant","content":"Cancelling #W1 now.","tool_calls":[{"id":"c9","type":"function","function":{"name":"cancel_order","arguments":"{\"order_id\":\"#W1\"}"}}]}`))
	if v, err := c.Decide(context.Background(), call, false); err != nil || v.Decision != "allow" {
		t.Errorf("with the calling message last: %+v %v, want allow", v, err)
	}
	call.Messages = []json.RawMessage{json.RawMessage(`{"content":"no role"}`)}
	if _, err := c.Decide(context.Background(), call, false); probity.ErrorCode(err) != probity.EINVALID {
		t.Errorf("message without a role: %v, want invalid", err)
	}
}

func TestHTTPErrors(t *testing.T) {
	g := newGuard(t, testPolicy, guard.Options{})
	c := startServer(t, g)
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/decide", `{"run":"r"}`, 400, probity.EINVALID},
		{"POST", "/v1/decide", `{"tool":"x","args":[1,`, 400, probity.EINVALID},
		{"POST", "/v1/decide", `{"tool":"x","args":{"a":1}} trailing`, 200, ""},
		{"POST", "/v1/decide", `{"tool":7}`, 400, probity.EINVALID},
		{"GET", "/v1/approvals/ap_nope", ``, 404, probity.ENOTFOUND},
		{"POST", "/v1/approvals/ap_nope/approve", `{}`, 404, probity.ENOTFOUND},
		{"POST", "/v1/message", `{"role":"wizard"}`, 400, probity.EINVALID},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, c.BaseURL+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != tt.status || eb.Error.Code != tt.code {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, eb.Error.Code, tt.status, tt.code)
		}
	}
}

func TestProxyHook(t *testing.T) {
	g := newGuard(t, testPolicy, guard.Options{})
	hook := guard.ProxyHook(g)
	allow, msg := hook(context.Background(), "p", probity.ToolCall{ID: "c1", Name: "write_file", Args: json.RawMessage(`{"path":"x/.env"}`)})
	if allow || !strings.Contains(msg, "secrets files are off limits") {
		t.Errorf("hook(.env) = %v %q, want refused with the rule's message", allow, msg)
	}
	if allow, _ := hook(context.Background(), "p", probity.ToolCall{ID: "c2", Name: "write_file", Args: json.RawMessage(`{"path":"x/a"}`)}); !allow {
		t.Error("hook(a) refused, want allowed")
	}
	h := g.History("p")
	var kinds []string
	for _, s := range h {
		kinds = append(kinds, string(s.Kind))
	}
	if want := []string{"tool_call", "tool_result", "tool_call"}; !cmp.Equal(kinds, want) {
		t.Errorf("history kinds = %v, want %v (denied call, its refusal, allowed call)", kinds, want)
	}
}

// TestBudgetWindowsAndKeys moves the guard's clock across hour boundaries:
// per-hour budgets start again each hour, and a key splits a budget per
// customer.
func TestBudgetWindowsAndKeys(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 58, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	g := newGuard(t, `
budgets:
  - name: emails-per-hour-per-customer
    tools: [send_email]
    max_calls: 2
    per: hour
    key: args.customer
`, guard.Options{Now: clock})
	send := func(customer string) string {
		v, err := g.Decide(context.Background(), guard.Call{Run: "r-" + customer, Tool: "send_email", Args: json.RawMessage(`{"customer":"` + customer + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return v.Decision
	}
	var got []string
	got = append(got, send("ann"), send("ann"), send("ann"), send("bob"))
	advance(3 * time.Minute) // 10:01: a new hour
	got = append(got, send("ann"))
	want := []string{"allow", "allow", "deny", "allow", "allow"}
	if !cmp.Equal(got, want) {
		t.Errorf("decisions = %v, want %v", got, want)
	}
}

// TestMessagesParallelCalls sends a model message with two tool calls and
// asks about each: one call per message is allowed, the second is not, and
// the calls are not counted twice when the conversation brings them back.
func TestMessagesParallelCalls(t *testing.T) {
	g := newGuard(t, `
rules:
  - name: one-call-at-a-time
    max_per_message: 1
  - name: two-lookups-per-run
    tools: [lookup]
    max_per_run: 2
`, guard.Options{})
	conv := []json.RawMessage{
		json.RawMessage(`{"role":"user","content":"look up a and b"}`),
		json.RawMessage(`{"role":"assistant","content":null,"tool_calls":[` +
			`{"id":"c1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"a\"}"}},` +
			`{"id":"c2","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"b\"}"}}]}`),
	}
	decide := func(id, q string, msgs []json.RawMessage) guard.Decision {
		v, err := g.Decide(context.Background(), guard.Call{Run: "p", ID: id, Tool: "lookup", Args: json.RawMessage(`{"q":"` + q + `"}`), Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := decide("c1", "a", conv); v.Decision != "allow" {
		t.Errorf("first call of the message: %s (%s), want allow", v.Decision, v.Reason)
	}
	if v := decide("c2", "b", conv); v.Decision != "deny" || v.Rule != "one-call-at-a-time" {
		t.Errorf("second call of the message: %s by %q, want deny by one-call-at-a-time", v.Decision, v.Rule)
	}
	// The conversation goes on with both results; a new message's call is
	// the run's second executed lookup (c2 never ran), so it is allowed,
	// and a third is not.
	conv = append(conv,
		json.RawMessage(`{"role":"tool","tool_call_id":"c1","content":"A"}`),
		json.RawMessage(`{"role":"tool","tool_call_id":"c2","content":"Error: denied"}`),
		json.RawMessage(`{"role":"assistant","content":null,"tool_calls":[{"id":"c3","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"c\"}"}}]}`))
	if v := decide("c3", "c", conv); v.Decision != "allow" {
		t.Errorf("call in a new message: %s (%s), want allow", v.Decision, v.Reason)
	}
	conv = append(conv,
		json.RawMessage(`{"role":"tool","tool_call_id":"c3","content":"C"}`),
		json.RawMessage(`{"role":"assistant","content":null,"tool_calls":[{"id":"c4","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"d\"}"}}]}`))
	if v := decide("c4", "d", conv); v.Decision != "deny" || v.Rule != "two-lookups-per-run" {
		t.Errorf("third executed lookup: %s by %q (%s), want deny by two-lookups-per-run", v.Decision, v.Rule, v.Reason)
	}
}
