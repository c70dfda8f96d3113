package guard_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
)

// serveWith serves g on loopback with opts and returns its base URL.
func serveWith(t *testing.T, g *guard.Guard, opts guard.HTTPOptions) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- guard.Serve(ctx, ln, g, opts) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

type request struct {
	name, method, path, body string
	header                   map[string]string
	host                     string
	status                   int
}

func (r request) do(t *testing.T, base string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.host != "" {
		req.Host = r.host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHTTPAccess: the agent that asks for decisions cannot approve its own
// held call (issue 10: the MCP host approved its own move_file), a web page
// cannot reach the API by DNS rebinding or a cross-origin text/plain POST,
// and with a client token every request needs it.
func TestHTTPAccess(t *testing.T) {
	const approver = "approver-0123456789abcdef0123456789"
	const client = "client-0123456789abcdef0123456789ab"
	g := newGuard(t, testPolicy, guard.Options{})
	base := serveWith(t, g, guard.HTTPOptions{ApproverToken: approver})
	v, err := (&guard.Client{BaseURL: base}).Decide(context.Background(), guard.Call{Run: "r", Tool: "refund", Args: json.RawMessage(`{"amount":300}`)}, false)
	if err != nil || v.ApprovalID == "" {
		t.Fatalf("refund 300: %+v %v, want a held call", v, err)
	}
	approve := "/v1/approvals/" + v.ApprovalID + "/approve"
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	decide := `{"run":"r2","tool":"read_file","args":{}}`
	for _, tt := range []request{
		{name: "agent decides", method: "POST", path: "/v1/decide", body: decide, status: 200},
		{name: "agent reads its approval", method: "GET", path: "/v1/approvals/" + v.ApprovalID, status: 200},
		{name: "agent lists approvals", method: "GET", path: "/v1/approvals", status: 403},
		{name: "agent approves its own call", method: "POST", path: approve, body: `{"by":"agent"}`, status: 403},
		{name: "agent denies it", method: "POST", path: "/v1/approvals/" + v.ApprovalID + "/deny", status: 403},
		{name: "wrong token", method: "POST", path: approve, header: bearer(approver + "x"), status: 403},
		{name: "rebinding: a name that is not loopback", method: "POST", path: "/v1/decide", body: decide, host: "attacker.example:8700", status: 403},
		{name: "rebinding, even with the approver token", method: "POST", path: approve, header: bearer(approver), host: "attacker.example", status: 403},
		{name: "localhost by name", method: "POST", path: "/v1/decide", body: decide, host: "localhost:8700", status: 200},
		{name: "cross-origin text/plain POST", method: "POST", path: "/v1/decide", body: decide,
			header: map[string]string{"Origin": "http://attacker.example", "Content-Type": "text/plain"}, status: 403},
		{name: "cross-site fetch", method: "POST", path: "/v1/message", body: `{"run":"r","role":"user","content":"yes"}`,
			header: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403},
		{name: "health needs nothing", method: "GET", path: "/healthz", status: 200},
	} {
		if got, body := tt.do(t, base); got != tt.status {
			t.Errorf("%s: %s %s → %d %s, want %d", tt.name, tt.method, tt.path, got, body, tt.status)
		}
	}
	if a, _ := g.Approval(v.ApprovalID); a.Status != guard.StatusPending {
		t.Fatalf("after the refused attempts the approval is %s, want still pending", a.Status)
	}
	if got, body := (request{method: "POST", path: approve, body: `{"by":"alice"}`, header: bearer(approver)}).do(t, base); got != 200 {
		t.Fatalf("the person approves: %d %s", got, body)
	}
	if a, _ := g.Approval(v.ApprovalID); a.Status != guard.StatusApproved || a.By != "alice" {
		t.Errorf("approval = %s by %q, want approved by alice", a.Status, a.By)
	}

	// A server beyond loopback requires the client token on everything,
	// and the Host header no longer matters; approving still needs the
	// approver token.
	base = serveWith(t, g, guard.HTTPOptions{ApproverToken: approver, ClientToken: client})
	v, _ = (&guard.Client{BaseURL: base, Token: client}).Decide(context.Background(), guard.Call{Run: "r3", Tool: "refund", Args: json.RawMessage(`{"amount":250}`)}, false)
	for _, tt := range []request{
		{name: "no token", method: "POST", path: "/v1/decide", body: decide, status: 401},
		{name: "client token", method: "POST", path: "/v1/decide", body: decide, header: bearer(client), host: "guard.internal:8700", status: 200},
		{name: "client token cannot approve", method: "POST", path: "/v1/approvals/" + v.ApprovalID + "/approve", header: bearer(client), status: 403},
		{name: "approver token can", method: "GET", path: "/v1/approvals", header: bearer(approver), status: 200},
	} {
		if got, body := tt.do(t, base); got != tt.status {
			t.Errorf("with a client token, %s: %s %s → %d %s, want %d", tt.name, tt.method, tt.path, got, body, tt.status)
		}
	}

	// Without an approver token, approvals are not resolved over HTTP.
	base = serveWith(t, g, guard.HTTPOptions{})
	if got, body := (request{method: "POST", path: "/v1/approvals/" + v.ApprovalID + "/approve", header: bearer(approver)}).do(t, base); got != 403 || !strings.Contains(body, "does not resolve approvals over HTTP") {
		t.Errorf("no approver configured: %d %s, want 403", got, body)
	}
}

func TestCheckListen(t *testing.T) {
	long := strings.Repeat("k", guard.MinTokenLength)
	for _, tt := range []struct {
		addr   string
		remote bool
		token  string
		ok     bool
	}{
		{"127.0.0.1:8700", false, "", true},
		{"[::1]:0", false, "", true},
		{"localhost:0", false, "", true},
		{"0.0.0.0:8700", false, "", false},
		{":8700", false, "", false}, // every interface
		{"192.168.1.5:8700", false, long, false},
		{"192.168.1.5:8700", true, "", false},
		{"192.168.1.5:8700", true, "short", false},
		{"192.168.1.5:8700", true, long, true},
		{"nonsense", false, "", false},
	} {
		err := guard.CheckListen(tt.addr, tt.remote, tt.token)
		if (err == nil) != tt.ok || (err != nil && probity.ErrorCode(err) != probity.EINVALID) {
			t.Errorf("CheckListen(%q, %v, %d-char token) = %v, want ok=%v", tt.addr, tt.remote, len(tt.token), err, tt.ok)
		}
	}
}

func TestApproverTokenFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg", "probity")
	path := filepath.Join(dir, "approver-token")
	tok, created, err := guard.ApproverTokenFile(path)
	if err != nil || !created || len(tok) < guard.MinTokenLength {
		t.Fatalf("first ApproverTokenFile = %q, %v, %v; want a new token", tok, created, err)
	}
	st, _ := os.Stat(path)
	dst, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
		t.Errorf("token file mode %04o in a %04o directory, want 0600 in 0700", st.Mode().Perm(), dst.Mode().Perm())
	}
	again, created, err := guard.ApproverTokenFile(path)
	if err != nil || created || again != tok {
		t.Errorf("second ApproverTokenFile = %q, %v, %v; want the same token, not made again", again, created, err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := guard.ApproverTokenFile(path); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("a world-readable token file: %v, want refused", err)
	}
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	if _, err := guard.ReadTokenFile(short); err == nil {
		t.Error("a 3-character token was accepted")
	}
}
