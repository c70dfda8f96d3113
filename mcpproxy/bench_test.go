package mcpproxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/mcpproxy"
	"github.com/probity/probity/policy"
)

// BenchmarkProxyOverhead measures what the proxy adds to a tools/call: the
// same call from an MCP Go SDK client to an MCP Go SDK server, directly and
// through the proxy (with a policy of three rules and a budget), over
// Streamable HTTP on loopback and over in-memory transports. It reports p50
// and p99 of each; the difference is the proxy's cost:
//
//	go test ./mcpproxy -run '^$' -bench ProxyOverhead -benchmem
func BenchmarkProxyOverhead(b *testing.B) {
	type echoArgs struct {
		Path string `json:"path"`
	}
	backend := mcp.NewServer(&mcp.Implementation{Name: "echo", Version: "1"}, nil)
	mcp.AddTool(backend, &mcp.Tool{Name: "read_file", Description: "Echoes the path."},
		func(ctx context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: a.Path}}}, nil, nil
		})
	backendSrv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return backend }, nil))
	defer backendSrv.Close()

	p, err := policy.Parse([]byte(`
rules:
  - name: no-env-files
    tools: [write_file, read_file]
    deny: 'args.path.endsWith(".env")'
  - name: no-etc
    tools: [read_file]
    deny: 'args.path.startsWith("/etc/")'
  - name: log-reads
    tools: [read_*]
    action: log
budgets:
  - name: reads
    tools: [read_file]
    max_calls: 1000000000
    per: run
`))
	if err != nil {
		b.Fatal(err)
	}
	g, err := guard.New(guard.Options{Policy: p})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	px, err := mcpproxy.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: backendSrv.URL}, mcpproxy.Options{Guard: g})
	if err != nil {
		b.Fatal(err)
	}
	defer px.Close()
	proxySrv := httptest.NewServer(px.Handler(""))
	defer proxySrv.Close()

	// In memory: the same pair of hops without HTTP, isolating the proxy's
	// own work (a guard decision and one more JSON-RPC hop).
	memServer := func() mcp.Transport {
		ct, st := mcp.NewInMemoryTransports()
		go backend.Run(ctx, st)
		return ct
	}
	memProxy := func() mcp.Transport {
		pxm, err := mcpproxy.Connect(ctx, memServer(), mcpproxy.Options{Guard: g})
		if err != nil {
			b.Fatal(err)
		}
		ct, st := mcp.NewInMemoryTransports()
		go pxm.ServeStdio(ctx, st)
		return ct
	}
	for _, tc := range []struct {
		name      string
		transport func() mcp.Transport
	}{
		{"http-direct", func() mcp.Transport { return &mcp.StreamableClientTransport{Endpoint: backendSrv.URL} }},
		{"http-via-proxy", func() mcp.Transport { return &mcp.StreamableClientTransport{Endpoint: proxySrv.URL} }},
		{"memory-direct", memServer},
		{"memory-via-proxy", memProxy},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(ctx, tc.transport(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer cs.Close()
			params := &mcp.CallToolParams{Name: "read_file", Arguments: map[string]any{"path": "src/main.go"}}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				res, err := cs.CallTool(ctx, params)
				lat = append(lat, time.Since(t0))
				if err != nil || res.IsError {
					b.Fatal(err, res)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
