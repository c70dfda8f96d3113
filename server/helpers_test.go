package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/probity/probity/analysis"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
)

// testServer is a server running in-process on loopback.
type testServer struct {
	*server.Server
	st   store.Store
	reg  *prometheus.Registry
	done chan error
}

// start runs a server on a fresh SQLite store (or st) with a short idle
// period, stopped when the test ends.
func start(t *testing.T, st store.Store, opt func(*server.Options)) *testServer {
	t.Helper()
	if st == nil {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "probity.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		st = db
	}
	reg := prometheus.NewRegistry()
	o := server.Options{
		Store: st, Analyzer: analysis.New(analysis.Options{}), Registerer: reg, Gatherer: reg,
		Listen: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0", OTLPGRPC: "127.0.0.1:0",
		TraceIdle: 300 * time.Millisecond, Poll: 20 * time.Millisecond,
	}
	if opt != nil {
		opt(&o)
	}
	srv, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: srv, st: st, reg: reg, done: make(chan error, 1)}
	go func() { ts.done <- srv.Run(context.Background()) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-ts.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ts
}

func (ts *testServer) api(path string) string { return "http://" + ts.Addr() + path }

// getJSON GETs an API path and decodes the answer into v, returning the
// status.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %s: %v", url, b, err)
		}
	}
	return resp.StatusCode
}

// listItem is one trace of GET /api/v1/traces.
type listItem struct {
	TraceID       string   `json:"trace_id"`
	Service       string   `json:"service"`
	Spans         int      `json:"spans"`
	Steps         int      `json:"steps"`
	Verdict       *string  `json:"verdict"`
	RootCauseStep *int     `json:"root_cause_step"`
	Detectors     []string `json:"detectors"`
	Revision      int      `json:"revision"`
	Stale         bool     `json:"stale"`
}

type listPage struct {
	Traces     []listItem `json:"traces"`
	NextCursor *string    `json:"next_cursor"`
}

// waitAnalysed polls the API until n traces are analysed and none is
// stale, and returns them.
func waitAnalysed(t *testing.T, ts *testServer, n int, within time.Duration) []listItem {
	t.Helper()
	return waitAnalysedAt(t, "http://"+ts.Addr(), n, within)
}

// readRequest reads an OTLP/JSON file as a request.
func readRequest(t testing.TB, path string) *coltrace.ExportTraceServiceRequest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	req := &coltrace.ExportTraceServiceRequest{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, req); err != nil {
		t.Fatal(err)
	}
	return req
}

// replay re-creates the spans of req through the OpenTelemetry SDK, with
// their names, times, attributes, events, status and nesting, so an SDK
// exporter sends what the file holds (under new ids). Each ResourceSpans
// becomes a TracerProvider with the file's resource attributes.
func replay(t testing.TB, req *coltrace.ExportTraceServiceRequest, exp sdktrace.SpanExporter) {
	t.Helper()
	for _, rs := range req.ResourceSpans {
		res := sdkresource.NewSchemaless(attrs(rs.GetResource().GetAttributes())...)
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(keepOpen{exp}), sdktrace.WithResource(res))
		tr := tp.Tracer("replay")
		var spans []*tracepb.Span
		byID := map[string]*tracepb.Span{}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				spans = append(spans, sp)
				byID[string(sp.SpanId)] = sp
			}
		}
		// Start parents before children; end children before parents.
		ctxOf := map[string]context.Context{}
		live := map[string]trace.Span{}
		var startSpan func(sp *tracepb.Span)
		startSpan = func(sp *tracepb.Span) {
			if _, ok := live[string(sp.SpanId)]; ok {
				return
			}
			parent := context.Background()
			if p, ok := byID[string(sp.ParentSpanId)]; ok {
				startSpan(p)
				parent = ctxOf[string(p.SpanId)]
			}
			ctx, s := tr.Start(parent, sp.Name, trace.WithTimestamp(time.Unix(0, int64(sp.StartTimeUnixNano))),
				trace.WithAttributes(attrs(sp.Attributes)...), trace.WithSpanKind(trace.SpanKind(sp.Kind)))
			for _, ev := range sp.Events {
				s.AddEvent(ev.Name, trace.WithTimestamp(time.Unix(0, int64(ev.TimeUnixNano))), trace.WithAttributes(attrs(ev.Attributes)...))
			}
			if sp.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
				s.SetStatus(codes.Error, sp.Status.GetMessage())
			}
			ctxOf[string(sp.SpanId)], live[string(sp.SpanId)] = ctx, s
		}
		for _, sp := range spans {
			startSpan(sp)
		}
		// children first: deepest spans end first
		depth := func(sp *tracepb.Span) int {
			d := 0
			for p, ok := byID[string(sp.ParentSpanId)]; ok; p, ok = byID[string(p.ParentSpanId)] {
				d++
			}
			return d
		}
		for d := 32; d >= 0; d-- {
			for _, sp := range spans {
				if depth(sp) == d {
					live[string(sp.SpanId)].End(trace.WithTimestamp(time.Unix(0, int64(sp.EndTimeUnixNano))))
				}
			}
		}
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Fatalf("shutdown tracer provider: %v", err)
		}
	}
}

// keepOpen lets one exporter serve several tracer providers: shutting a
// provider down leaves the exporter open.
type keepOpen struct{ sdktrace.SpanExporter }

func (keepOpen) Shutdown(context.Context) error { return nil }

func attrs(kvs []*commonpb.KeyValue) []attribute.KeyValue {
	var out []attribute.KeyValue
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out = append(out, attribute.String(kv.Key, x.StringValue))
		case *commonpb.AnyValue_BoolValue:
			out = append(out, attribute.Bool(kv.Key, x.BoolValue))
		case *commonpb.AnyValue_IntValue:
			out = append(out, attribute.Int64(kv.Key, x.IntValue))
		case *commonpb.AnyValue_DoubleValue:
			out = append(out, attribute.Float64(kv.Key, x.DoubleValue))
		case *commonpb.AnyValue_ArrayValue:
			var ss []string
			for _, e := range x.ArrayValue.GetValues() {
				ss = append(ss, e.GetStringValue())
			}
			out = append(out, attribute.StringSlice(kv.Key, ss))
		default:
			panic(fmt.Sprintf("attribute %s: %T has no SDK equivalent", kv.Key, x))
		}
	}
	return out
}

// syntheticTraceID is the trace id syntheticTrace gives trace n.
func syntheticTraceID(n int) []byte {
	b := make([]byte, 16)
	copy(b, fmt.Sprintf("probity%09d", n))
	return b
}

// syntheticTrace builds an agent run of per spans as an OTLP resource: an
// invoke_agent root, a chat span whose model asks for a tool, and tool
// spans answering it. keep(i) selects the spans to include, so a test can
// split one trace across requests or servers.
func syntheticTrace(n, per int, keep func(i int) bool) *tracepb.ResourceSpans {
	tid := syntheticTraceID(n)
	base := uint64(1_700_000_000_000_000_000) + uint64(n)*1_000_000_000
	sid := func(i int) []byte { return []byte(fmt.Sprintf("s%03d%04d", i, n%10000)) }
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	order := fmt.Sprintf("#W%07d", n)
	var spans []*tracepb.Span
	for i := range per {
		sp := &tracepb.Span{TraceId: tid, SpanId: sid(i), StartTimeUnixNano: base + uint64(i)*1_000_000, EndTimeUnixNano: base + uint64(i)*1_000_000 + 500_000}
		switch i {
		case 0:
			sp.Name = "invoke_agent support"
			sp.EndTimeUnixNano = base + uint64(per)*1_000_000
			sp.Attributes = []*commonpb.KeyValue{str("gen_ai.operation.name", "invoke_agent"), str("gen_ai.agent.name", "support")}
		case 1:
			sp.Name, sp.ParentSpanId = "chat gpt-4o", sid(0)
			sp.Attributes = []*commonpb.KeyValue{str("gen_ai.operation.name", "chat"), str("gen_ai.request.model", "gpt-4o"),
				str("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"Where is my order `+order+`?"}]}]`),
				str("gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_order","arguments":{"order_id":"`+order+`"}}]}]`)}
		default:
			sp.Name, sp.ParentSpanId = "execute_tool get_order", sid(0)
			sp.Attributes = []*commonpb.KeyValue{str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.name", "get_order"),
				str("gen_ai.tool.call.id", fmt.Sprintf("call_%d", i)), str("gen_ai.tool.call.arguments", `{"order_id":"`+order+`"}`),
				str("gen_ai.tool.call.result", `{"order_id":"`+order+`","status":"shipped"}`)}
		}
		if keep == nil || keep(i) {
			spans = append(spans, sp)
		}
	}
	return &tracepb.ResourceSpans{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "shop-agent")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}
}
