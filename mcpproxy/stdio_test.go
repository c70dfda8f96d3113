package mcpproxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/mcpproxy"
	"github.com/probity/probity/policy"
)

// echoServer is a small MCP server (the official Go SDK) with one tool.
func echoServer(t *testing.T) mcp.Transport {
	t.Helper()
	type args struct {
		Text string `json:"text"`
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "echo", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "Echoes its text."},
		func(_ context.Context, _ *mcp.CallToolRequest, a args) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.Text}}}, nil, nil
		})
	ct, st := mcp.NewInMemoryTransports()
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx, st)
	t.Cleanup(cancel)
	return ct
}

// rawHost speaks newline-delimited JSON-RPC to the proxy's stdio side, as a
// host (or a broken host) does.
type rawHost struct {
	t   *testing.T
	in  *io.PipeWriter
	out *bufio.Scanner
}

func (h *rawHost) send(line string) {
	h.t.Helper()
	if _, err := io.WriteString(h.in, line+"\n"); err != nil {
		h.t.Fatalf("write %q: %v", line, err)
	}
}

// next returns the next line the proxy writes, decoded.
func (h *rawHost) next() any {
	h.t.Helper()
	lines := make(chan string, 1)
	go func() {
		if h.out.Scan() {
			lines <- h.out.Text()
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			h.t.Fatalf("the proxy closed its output: %v", h.out.Err())
		}
		var v any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			h.t.Fatalf("the proxy wrote a line that is not JSON: %q", l)
		}
		return v
	case <-time.After(10 * time.Second):
		h.t.Fatal("no answer from the proxy in 10s")
	}
	return nil
}

func startRawHost(t *testing.T) *rawHost {
	t.Helper()
	p, err := policy.Parse([]byte("rules:\n  - name: no-secrets\n    deny: 'has(args.text) && args.text.contains(\"secret\")'\n"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(guard.Options{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	px, err := mcpproxy.Connect(context.Background(), echoServer(t), mcpproxy.Options{Guard: g, Trace: filepath.Join(t.TempDir(), "t.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	hostIn, proxyOut := io.Pipe()
	proxyIn, hostOut := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- px.ServeStdio(ctx, mcpproxy.StdioTransport(proxyIn, proxyOut)); proxyOut.Close() }()
	t.Cleanup(func() {
		hostOut.Close()
		cancel()
		<-done
		px.Close()
		g.Close()
	})
	sc := bufio.NewScanner(hostIn)
	sc.Buffer(nil, 1<<20)
	return &rawHost{t: t, in: hostOut, out: sc}
}

func errorCode(v any) (float64, any, bool) {
	m, _ := v.(map[string]any)
	e, ok := m["error"].(map[string]any)
	if !ok {
		return 0, nil, false
	}
	code, _ := e["code"].(float64)
	return code, m["id"], true
}

// TestStdioSurvivesBadLines: a line that is not JSON, a message that is not
// JSON-RPC, an over-long line or (under protocol 2025-06-18, which dropped
// batching) a batch gets a JSON-RPC error and the session goes on; it used
// to end the proxy, and with it the host's server.
func TestStdioSurvivesBadLines(t *testing.T) {
	h := startRawHost(t)
	h.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if m, _ := h.next().(map[string]any); m["id"] != 1.0 || m["result"] == nil {
		t.Fatalf("initialize answer = %v", m)
	}
	h.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for _, tt := range []struct {
		line   string
		code   float64
		wantID any
	}{
		{`this is not json`, -32700, nil},
		{`{"jsonrpc":"2.0","id":2,"method":"tools/list"`, -32700, nil},
		{`[{"jsonrpc":"2.0","id":3,"method":"tools/list"},{"jsonrpc":"2.0","id":4,"method":"tools/list"}]`, -32600, nil},
		{`{"hello":"world"}`, -32600, nil},
		{`{"jsonrpc":"2.0","id":5,"method":7}`, -32600, 5.0},
		{`42`, -32600, nil},
		{`{"jsonrpc":"2.0","id":6,"method":"tools/list","pad":"` + strings.Repeat("x", 17<<20) + `"}`, -32600, nil},
	} {
		h.send(tt.line)
		v := h.next()
		code, id, ok := errorCode(v)
		if !ok || code != tt.code || id != tt.wantID {
			t.Errorf("after %.60q: proxy answered %.200v, want error %v with id %v", tt.line, v, tt.code, tt.wantID)
		}
	}
	// The session goes on: a call is still checked and answered.
	h.send(`{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"text":"still here"}}}`)
	m, _ := h.next().(map[string]any)
	if b, _ := json.Marshal(m); m["id"] != 8.0 || !strings.Contains(string(b), "still here") {
		t.Errorf("tools/call after bad lines = %s, want the echo", b)
	}
	h.send(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a secret"}}}`)
	m, _ = h.next().(map[string]any)
	if b, _ := json.Marshal(m); m["id"] != 9.0 || !strings.Contains(string(b), "Denied by policy rule no-secrets") {
		t.Errorf("denied tools/call = %s, want the policy's refusal", b)
	}
}

// TestStdioBatchBefore20250618: protocol 2025-03-26 has batches; they still
// pass through and are answered as a batch.
func TestStdioBatchBefore20250618(t *testing.T) {
	h := startRawHost(t)
	h.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	h.next()
	h.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	h.send(`[{"jsonrpc":"2.0","id":2,"method":"tools/list"},{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}]`)
	list, ok := h.next().([]any)
	if !ok || len(list) != 2 {
		t.Fatalf("batch answer = %v, want a list of two responses", list)
	}
	h.send(`not json either`)
	if code, _, ok := errorCode(h.next()); !ok || code != -32700 {
		t.Errorf("bad line under 2025-03-26: want a parse error")
	}
}
