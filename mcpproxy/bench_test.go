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

// BenchmarkProxyOverhead measures what the proxy adds to a tools/call on
// loopback: the same call from an MCP Go SDK client to an MCP Go SDK server
// over Streamable HTTP, directly and through the proxy (host side and server
// side both Streamable HTTP), with a policy of three rules and a budget. It
// reports p50 and p99 of each; the difference is the proxy's cost:
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
	proxySrv := httptest.NewServer(px.Handler())
	defer proxySrv.Close()

	for _, tc := range []struct{ name, url string }{{"direct", backendSrv.URL}, {"via-proxy", proxySrv.URL}} {
		b.Run(tc.name, func(b *testing.B) {
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).
				Connect(ctx, &mcp.StreamableClientTransport{Endpoint: tc.url}, nil)
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
