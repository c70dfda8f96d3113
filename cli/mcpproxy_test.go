package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/internal/mcptest"
)

// TestMCPProxyCommand runs `probity mcp-proxy` as a host would start it, in
// front of the official filesystem MCP server (npm), and drives it over the
// command's stdin and stdout with the official MCP Go SDK client: the denied
// write leaves no file, the budget stops the third write, and the trace the
// command records is readable by `probity show`.
func TestMCPProxyCommand(t *testing.T) {
	dir := t.TempDir()
	work := t.TempDir()
	server := mcptest.FilesystemServer(t, dir)
	policyFile := filepath.Join(work, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(`
rules:
  - name: no-env-files
    tools: [write_file, edit_file]
    deny: 'args.path.endsWith(".env")'
    message: secrets files are off limits
  - name: approve-moves
    tools: [move_file]
    action: approve
    message: moving files needs a person
budgets:
  - name: writes-per-run
    tools: [write_file]
    max_calls: 2
    per: run
    message: at most two writes per session
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tracePath := filepath.Join(work, "trace.jsonl")
	auditPath := filepath.Join(work, "audit.jsonl")

	hostIn, proxyOut := io.Pipe() // proxy stdout -> host
	proxyIn, hostOut := io.Pipe() // host -> proxy stdin
	var stderr syncBuffer
	code := make(chan int, 1)
	tokenFile := filepath.Join(work, "approver-token")
	args := append([]string{"mcp-proxy", "--policy", policyFile, "--trace", tracePath, "--audit", auditPath, "--run", "fs-run",
		"--guard-addr", "127.0.0.1:0", "--approver-token-file", tokenFile, "--"}, server...)
	go func() {
		code <- Main(args, proxyIn, proxyOut, &stderr)
		proxyOut.Close()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-host", Version: "1"}, nil).
		Connect(ctx, &mcp.IOTransport{Reader: hostIn, Writer: hostOut}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr:\n%s", err, stderr.String())
	}
	call := func(path string) (bool, string) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "write_file", Arguments: map[string]any{"path": path, "content": "x"}})
		if err != nil {
			t.Fatalf("write_file %s: %v", path, err)
		}
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return res.IsError, b.String()
	}
	tests := []struct {
		file    string
		denied  bool
		message string
	}{
		{".env", true, "secrets files are off limits"},
		{"one.txt", false, "Successfully wrote"},
		{"two.txt", false, "Successfully wrote"},
		{"three.txt", true, "at most two writes per session"},
	}
	for _, tt := range tests {
		isErr, msg := call(filepath.Join(dir, tt.file))
		_, statErr := os.Stat(filepath.Join(dir, tt.file))
		if isErr != tt.denied || !strings.Contains(msg, tt.message) || (statErr == nil) == tt.denied {
			t.Errorf("write %s: error=%v %q, file exists=%v; want error=%v containing %q", tt.file, isErr, msg, statErr == nil, tt.denied, tt.message)
		}
	}

	// A move needs a person: the call waits while an operator approves it
	// through the guard API the command serves beside the stdio host.
	addr := regexp.MustCompile(`approvals at (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String())
	if addr == nil {
		t.Fatalf("no approvals address on stderr:\n%s", stderr.String())
	}
	moved := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "move_file", Arguments: map[string]any{
			"source": filepath.Join(dir, "one.txt"), "destination": filepath.Join(dir, "moved.txt")}})
		if err != nil {
			t.Error(err)
		}
		moved <- res
	}()
	token, err := guard.ReadTokenFile(tokenFile)
	if err != nil {
		t.Fatalf("the approver token the command made: %v", err)
	}
	gc := &guard.Client{BaseURL: addr[1], Token: token}
	var pending []guard.Approval
	for range 500 {
		if pending, err = gc.Approvals(ctx, guard.StatusPending); err != nil || len(pending) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(pending) != 1 || pending[0].Tool != "move_file" {
		t.Fatalf("pending approvals = %+v (%v), want the move", pending, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "moved.txt")); err == nil {
		t.Error("the move ran before it was approved")
	}
	if _, err := gc.Resolve(ctx, pending[0].ID, true, "tester", ""); err != nil {
		t.Fatal(err)
	}
	if res := <-moved; res == nil || res.IsError {
		t.Errorf("approved move: %+v, want success", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "moved.txt")); err != nil {
		t.Errorf("approved move left no moved.txt: %v", err)
	}

	cs.Close()
	hostOut.Close()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("mcp-proxy exit %d, want 0\nstderr:\n%s", c, stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("mcp-proxy did not exit after the host disconnected")
	}

	// The recorded trace reads back as a timeline.
	var out, errb bytes.Buffer
	if c := Main([]string{"show", tracePath}, strings.NewReader(""), &out, &errb); c != 0 {
		t.Fatalf("show trace: exit %d: %s", c, errb.String())
	}
	for _, want := range []string{"write_file", "Denied by policy rule no-env-files", "Denied by policy rule writes-per-run", "Successfully wrote"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show trace: missing %q in\n%s", want, out.String())
		}
	}
	audit, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(audit), `"event":"decision"`); got != 5 {
		t.Errorf("audit log has %d decisions, want 5", got)
	}
	if !strings.Contains(string(audit), `"event":"approval","run":"fs-run"`) {
		t.Errorf("audit log has no approval record:\n%s", audit)
	}
}

// syncBuffer is a bytes.Buffer safe for the command's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMCPProxyHTTP runs the command with both sides on Streamable HTTP: an
// MCP Go SDK server upstream, hosts connecting to --listen.
func TestMCPProxyHTTP(t *testing.T) {
	type pathArgs struct {
		Path string `json:"path"`
	}
	var mu sync.Mutex
	var seen []string
	upstream := mcp.NewServer(&mcp.Implementation{Name: "files", Version: "1"}, nil)
	mcp.AddTool(upstream, &mcp.Tool{Name: "delete_file", Description: "Deletes a file."},
		func(ctx context.Context, _ *mcp.CallToolRequest, a pathArgs) (*mcp.CallToolResult, any, error) {
			mu.Lock()
			seen = append(seen, a.Path)
			mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "deleted " + a.Path}}}, nil, nil
		})
	up := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return upstream }, nil))
	defer up.Close()
	work := t.TempDir()
	policyFile := filepath.Join(work, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte("rules:\n  - name: keep-git\n    tools: [delete_file]\n    deny: 'args.path.startsWith(\".git\")'\n    message: the repository stays\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr}
	root := newRootCmd(e)
	root.SetArgs([]string{"mcp-proxy", "--policy", policyFile, "--listen", "127.0.0.1:0", "--upstream", up.URL, "--trace", work, "--audit", filepath.Join(work, "audit.jsonl")})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var url string
	for range 500 {
		if m := regexp.MustCompile(`serving MCP on (http://\S+/mcp)`).FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("mcp-proxy did not start:\n%s", stderr.String())
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "host", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path   string
		denied bool
	}{{".git/config", true}, {"tmp/x", false}} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "delete_file", Arguments: map[string]any{"path": tt.path}})
		if err != nil || res.IsError != tt.denied {
			t.Errorf("delete %s: %v %+v, want denied=%v", tt.path, err, res, tt.denied)
		}
	}
	cs.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("mcp-proxy: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"tmp/x"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("the upstream server saw %v, want %v (never the denied call)", seen, want)
	}
	// --trace DIR: one file per MCP session.
	files, _ := filepath.Glob(filepath.Join(work, "mcp-*.jsonl"))
	if len(files) != 1 {
		t.Errorf("trace files %v, want one per session", files)
	}
}

// TestMCPProxyHostCannotApprove is issue 10's finding: the MCP host
// approved its own held move_file through /v1 on the mcp-proxy --listen
// port, and the move ran. The guard API is now served on --guard-addr only,
// resolving needs the approver token, and the move runs only when the
// person holding the token approves it.
func TestMCPProxyHostCannotApprove(t *testing.T) {
	type moveArgs struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
	}
	var mu sync.Mutex
	var moves []string
	upstream := mcp.NewServer(&mcp.Implementation{Name: "files", Version: "1"}, nil)
	mcp.AddTool(upstream, &mcp.Tool{Name: "move_file", Description: "Moves a file."},
		func(ctx context.Context, _ *mcp.CallToolRequest, a moveArgs) (*mcp.CallToolResult, any, error) {
			mu.Lock()
			moves = append(moves, a.Source+"->"+a.Destination)
			mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "moved"}}}, nil, nil
		})
	up := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return upstream }, nil))
	defer up.Close()
	work := t.TempDir()
	policyFile := filepath.Join(work, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte("rules:\n  - name: moves-need-a-person\n    tools: [move_file]\n    action: approve\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(work, "approver-token")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	e := &env{ctx: ctx, stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr}
	root := newRootCmd(e)
	root.SetArgs([]string{"mcp-proxy", "--policy", policyFile, "--listen", "127.0.0.1:0", "--guard-addr", "127.0.0.1:0",
		"--approver-token-file", tokenFile, "--upstream", up.URL, "--audit", "none"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var mcpURL, guardURL string
	for range 500 {
		s := stderr.String()
		m1 := regexp.MustCompile(`serving MCP on (http://\S+)/mcp`).FindStringSubmatch(s)
		m2 := regexp.MustCompile(`approvals at (http://\S+)`).FindStringSubmatch(s)
		if m1 != nil && m2 != nil {
			mcpURL, guardURL = m1[1], m2[1]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if mcpURL == "" {
		t.Fatalf("mcp-proxy did not start:\n%s", stderr.String())
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "host", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpURL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	moved := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, _ := cs.CallTool(ctx, &mcp.CallToolParams{Name: "move_file", Arguments: map[string]any{"source": "a", "destination": "b"}})
		moved <- res
	}()
	token, err := guard.ReadTokenFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	person := &guard.Client{BaseURL: guardURL, Token: token}
	var pending []guard.Approval
	for range 500 {
		if pending, err = person.Approvals(ctx, guard.StatusPending); err != nil || len(pending) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(pending) != 1 {
		t.Fatalf("pending approvals = %+v (%v), want the move", pending, err)
	}
	id := pending[0].ID

	// The host tries what it could before: the API on its own connection's
	// port, and the guard's port without the token.
	for _, base := range []string{mcpURL, guardURL} {
		for _, path := range []string{"/v1/approvals/" + id + "/approve", "/v1/approvals"} {
			method := "POST"
			if path == "/v1/approvals" {
				method = "GET"
			}
			req, _ := http.NewRequest(method, base+path, strings.NewReader(`{"by":"host"}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
				t.Errorf("host %s %s%s: %d, want 404 or 403", method, base, path, resp.StatusCode)
			}
		}
	}
	mu.Lock()
	early := len(moves)
	mu.Unlock()
	if early != 0 {
		t.Fatalf("the move ran before the person approved it")
	}
	if a, err := person.Resolve(ctx, id, true, "alice", ""); err != nil || a.By != "alice" {
		t.Fatalf("the person approves: %+v %v", a, err)
	}
	if res := <-moved; res == nil || res.IsError {
		t.Errorf("approved move: %+v, want success", res)
	}
	cs.Close()
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(moves) != 1 {
		t.Errorf("the server saw moves %v, want exactly the approved one", moves)
	}
}
