package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/probity/probity/analysis"
	"github.com/probity/probity/internal/cputime"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/ui"
)

// benchBatch is what the Go SDK's batch processor sends at once by default.
const benchBatch = 512

var benchRes = sdkresource.NewSchemaless(attribute.String("service.name", "shop-agent"), attribute.String("telemetry.sdk.language", "go"))

// benchSpans returns batch n: 64 agent runs of 8 GenAI spans (a root, a
// chat call, six tool calls), each with its own trace id.
func benchSpans(n int) []sdktrace.ReadOnlySpan {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second)
	stubs := make(tracetest.SpanStubs, 0, benchBatch)
	for tr := range benchBatch / 8 {
		var tid trace.TraceID
		copy(tid[:], fmt.Sprintf("b%07d%08d", n, tr))
		root := trace.SpanID{1}
		for i := range 8 {
			sid := trace.SpanID{byte(i + 1), 0xab}
			st := tracetest.SpanStub{
				SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
				StartTime:   base.Add(time.Duration(tr)*time.Millisecond + time.Duration(i)*time.Microsecond),
				EndTime:     base.Add(time.Duration(tr)*time.Millisecond + time.Duration(i+1)*time.Microsecond),
				Resource:    benchRes,
			}
			order := fmt.Sprintf("#W%04d%03d", n%10000, tr)
			switch i {
			case 0:
				st.Name = "invoke_agent support"
				st.Attributes = []attribute.KeyValue{attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "support")}
			case 1:
				st.Name = "chat gpt-4o"
				st.Attributes = []attribute.KeyValue{attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", "gpt-4o"),
					attribute.String("gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"Where is my order `+order+`?"}]}]`),
					attribute.String("gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_order","arguments":{"order_id":"`+order+`"}}]}]`)}
			default:
				st.Name = "execute_tool get_order"
				st.Attributes = []attribute.KeyValue{attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "get_order"),
					attribute.String("gen_ai.tool.call.id", fmt.Sprintf("call_%d", i)), attribute.String("gen_ai.tool.call.arguments", `{"order_id":"`+order+`"}`),
					attribute.String("gen_ai.tool.call.result", `{"order_id":"`+order+`","status":"shipped"}`)}
			}
			if i > 0 {
				st.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: root, TraceFlags: trace.FlagsSampled})
			}
			stubs = append(stubs, st)
		}
	}
	return stubs.Snapshots()
}

// captureBodies records the request bodies the SDK exporter sends for
// batches, as the server would receive them (protobuf, no compression).
func captureBodies(b *testing.B, batches [][]sdktrace.ReadOnlySpan) [][]byte {
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"), otlptracehttp.WithCompression(otlptracehttp.NoCompression))
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	for _, s := range batches {
		if err := exp.ExportSpans(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
	return bodies
}

// sendAll exports batches through clients concurrent OTLP/HTTP exporters
// of the official Go SDK (protobuf, uncompressed) to addr.
func sendAll(b *testing.B, addr string, batches [][]sdktrace.ReadOnlySpan, clients int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(addr), otlptracehttp.WithInsecure(),
				otlptracehttp.WithCompression(otlptracehttp.NoCompression))
			if err != nil {
				b.Error(err)
				return
			}
			defer exp.Shutdown(context.Background())
			for {
				i := int(next.Add(1) - 1)
				if i >= len(batches) {
					return
				}
				if err := exp.ExportSpans(context.Background(), batches[i]); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// benchClients is how many exporters send at once, as a fleet of agents
// would.
const benchClients = 8

// BenchmarkIngest measures OTLP/HTTP protobuf ingest into SQLite from the
// official Go SDK exporter (eight exporters at once) against the same
// exporters sending the same requests to a receiver that merely decodes
// them (reads the body, proto.Unmarshal, answers 200). Both run in this
// process on the same cores, so ingest/decode is the share of the decode
// rate that storing durably keeps. Each op is one request of 512 spans.
// cpu_us/span is the process's CPU time per span (client included): on a
// machine shared with other work it is the steadier figure, since
// wall-clock rates fall with the machine's load. The traces do not
// become ready during the run (the idle period is an hour), so this is
// the ingest path alone; BenchmarkAnalysis measures the analysers.
//
//	go test ./server -run '^$' -bench 'Ingest' -benchtime 400x -cpu 2
func BenchmarkIngest(b *testing.B) {
	var decodeRate float64
	b.Run("decode", func(b *testing.B) {
		batches := make([][]sdktrace.ReadOnlySpan, b.N)
		for i := range batches {
			batches[i] = benchSpans(1_000_000 + i)
		}
		var decoded atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			req := &coltrace.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(body, req); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			for _, rs := range req.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					decoded.Add(int64(len(ss.Spans)))
				}
			}
			w.Header().Set("Content-Type", "application/x-protobuf")
		}))
		defer srv.Close()
		b.ResetTimer()
		cpu0 := cputime.Used()
		sendAll(b, srv.Listener.Addr().String(), batches, benchClients)
		b.StopTimer()
		if decoded.Load() != int64(b.N*benchBatch) {
			b.Fatalf("decoded %d spans, want %d", decoded.Load(), b.N*benchBatch)
		}
		decodeRate = float64(b.N*benchBatch) / b.Elapsed().Seconds()
		b.ReportMetric(decodeRate, "spans/s")
		b.ReportMetric(float64((cputime.Used()-cpu0).Microseconds())/float64(b.N*benchBatch), "cpu_us/span")
	})
	b.Run("unmarshal-only", func(b *testing.B) {
		batches := make([][]sdktrace.ReadOnlySpan, 8)
		for i := range batches {
			batches[i] = benchSpans(2_000_000 + i)
		}
		bodies := captureBodies(b, batches)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			req := &coltrace.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(bodies[i%len(bodies)], req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "spans/s")
	})
	b.Run("sqlite", func(b *testing.B) {
		batches := make([][]sdktrace.ReadOnlySpan, b.N)
		for i := range batches {
			batches[i] = benchSpans(i)
		}
		db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		ts := startB(b, db, time.Hour)
		b.ResetTimer()
		cpu0 := cputime.Used()
		sendAll(b, ts.OTLPHTTPAddr(), batches, benchClients)
		b.StopTimer()
		rate := float64(b.N*benchBatch) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "spans/s")
		b.ReportMetric(float64((cputime.Used()-cpu0).Microseconds())/float64(b.N*benchBatch), "cpu_us/span")
		if decodeRate > 0 {
			b.ReportMetric(rate/decodeRate, "ingest/decode")
		}
	})
}

// BenchmarkAnalysis measures the analysers: b.N requests of 512 spans
// (64 traces) are stored first, then the server finds them ready and
// analyses and saves every trace. spans/s is comparable with
// BenchmarkIngest's.
//
//	go test ./server -run '^$' -bench 'Analysis' -benchtime 100x -cpu 2
func BenchmarkAnalysis(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	batches := make([][]sdktrace.ReadOnlySpan, b.N)
	for i := range batches {
		batches[i] = benchSpans(i)
	}
	for _, body := range captureBodies(b, batches) {
		var spans []store.Span
		if _, err := otlp.SplitProto(body, func(s *otlp.Span) {
			spans = append(spans, store.Span{TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentID, Start: s.Start, End: s.End, Resource: s.Resource, Data: s.Data})
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := db.AddSpans(context.Background(), spans); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu0 := cputime.Used()
	startB(b, db, time.Millisecond)
	for {
		p, err := db.ListTraces(context.Background(), store.Filter{Verdict: store.VerdictPending, Limit: 1})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Traces) == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(b.N*benchBatch/8)/b.Elapsed().Seconds(), "traces/s")
	b.ReportMetric(float64((cputime.Used()-cpu0).Microseconds())/float64(b.N*benchBatch), "cpu_us/span")
}

// startB is start for benchmarks.
func startB(b *testing.B, st store.Store, idle time.Duration) *server.Server {
	return startBWith(b, st, idle, nil)
}

// startBWith is startB with options changed by opt first.
func startBWith(b *testing.B, st store.Store, idle time.Duration, opt func(*server.Options)) *server.Server {
	o := server.Options{Store: st, Analyzer: analysisNew(), Listen: "127.0.0.1:0", OTLPHTTP: "127.0.0.1:0",
		TraceIdle: idle, Poll: 20 * time.Millisecond, Workers: runtime.GOMAXPROCS(0)}
	if opt != nil {
		opt(&o)
	}
	srv, err := server.New(o)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background()) }()
	b.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return srv
}

// BenchmarkListFail measures GET /api/v1/traces?verdict=fail over a store
// of 1,000,000 analysed traces (a tenth failing), seeded directly: the
// first page and pages deep in the list (by cursor). It reports the p50
// and p95 latency of the HTTP request, and of the web UI's page of the
// same list (/traces?verdict=fail, its first page and the same cursors).
//
//	go test ./server -run '^$' -bench ListFail -benchtime 400x
func BenchmarkListFail(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("PROBITY_BENCH_TRACES"); s != "" {
		fmt.Sscan(s, &n)
	}
	path := filepath.Join(b.TempDir(), "list.db")
	db, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	seedTraces(b, path, n)
	pages, err := ui.New(ui.Options{Store: db})
	if err != nil {
		b.Fatal(err)
	}
	srv := startBWith(b, db, time.Hour, func(o *server.Options) { o.UI = pages })
	client := &http.Client{}
	get := func(url string) (time.Duration, []byte) {
		t0 := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		return time.Since(t0), body
	}
	base := "http://" + srv.Addr() + "/api/v1/traces?verdict=fail"
	// cursors deep into the list: follow pages of 1000 a few times
	cursors := []string{""}
	_, body := get(base + "&limit=1000")
	for range 20 {
		c := cursorOf(body)
		if c == "" {
			break
		}
		cursors = append(cursors, c)
		_, body = get(base + "&limit=1000&cursor=" + c)
	}
	page := "http://" + srv.Addr() + "/traces?verdict=fail"
	lat := make([]time.Duration, 0, b.N)
	uiLat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := cursors[i%len(cursors)]
		url, pageURL := base, page
		if c != "" {
			url += "&cursor=" + c
			pageURL += "&cursor=" + c
		}
		d, _ := get(url)
		lat = append(lat, d)
		d, body := get(pageURL)
		if !bytes.Contains(body, []byte("/traces/")) {
			b.Fatalf("the UI's list page links to no trace")
		}
		uiLat = append(uiLat, d)
	}
	b.StopTimer()
	for _, l := range [][]time.Duration{lat, uiLat} {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95_ms")
	b.ReportMetric(float64(uiLat[len(uiLat)/2].Microseconds())/1000, "ui_p50_ms")
	b.ReportMetric(float64(uiLat[len(uiLat)*95/100].Microseconds())/1000, "ui_p95_ms")
	b.ReportMetric(float64(n), "traces")
}

func cursorOf(body []byte) string {
	i := bytes.Index(body, []byte(`"next_cursor":"`))
	if i < 0 {
		return ""
	}
	rest := body[i+len(`"next_cursor":"`):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// seedTraces writes n analysed traces straight into the store's tables:
// going through AddSpans and the analysers would take the benchmark's
// whole budget.
func seedTraces(b *testing.B, path string, n int) {
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=synchronous(OFF)&_pragma=journal_mode(WAL)")
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	services := []string{"shop-agent", "billing-agent", "search-agent"}
	for lo := 0; lo < n; lo += 50_000 {
		tx, err := raw.Begin()
		if err != nil {
			b.Fatal(err)
		}
		ins, _ := tx.Prepare(`INSERT INTO traces (trace_id, service, agent, started_ns, ended_ns, received_ns, root_ended, spans, gen, analysed_gen, verdict, root_cause_step, steps, detectors, analysed_ns, revision)
			VALUES (?, ?, ?, ?, ?, ?, 1, 8, 1, 1, ?, ?, 12, ?, ?, 1)`)
		det, _ := tx.Prepare(`INSERT INTO trace_detectors (detector, started_ns, trace_id) VALUES (?, ?, ?)`)
		for i := lo; i < min(lo+50_000, n); i++ {
			id := []byte(fmt.Sprintf("seed%012d", i))
			at := start + int64(i)*int64(time.Second)
			verdict, detectors := "ok", ""
			var root any
			switch {
			case i%10 == 3:
				verdict, detectors, root = "fail", "cascade,ungrounded-argument", 4
			case i%10 == 7:
				verdict, detectors = "suspect", "loop"
			}
			if _, err := ins.Exec(id, services[i%3], "support", at, at+int64(time.Second), at, verdict, root, detectors, at); err != nil {
				b.Fatal(err)
			}
			if detectors != "" {
				for _, d := range bytes.Split([]byte(detectors), []byte(",")) {
					det.Exec(string(d), at, id)
				}
			}
		}
		ins.Close()
		det.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

func analysisNew() *analysis.Analyzer { return analysis.New(analysis.Options{}) }

// overloadClients is enough concurrent exporters that their requests in
// flight exceed the ingest budget many times over.
const overloadClients = 1024

// BenchmarkOverload offers far more than the server can store: 1024
// clients send ready-made 512-span requests as fast as they can, a
// refused one again at once, for five seconds per op, to `probity serve`
// running as its own process (built for the benchmark) with its default
// limits. It reports offered and stored spans/s, their ratio (the
// overload), the share refused with 429, and the server's peak resident
// memory (VmHWM) against its resident memory at rest.
//
//	go test ./server -run '^$' -bench Overload -benchtime 1x -cpu 2
func BenchmarkOverload(b *testing.B) {
	batches := make([][]sdktrace.ReadOnlySpan, 64)
	for i := range batches {
		batches[i] = benchSpans(3_000_000 + i)
	}
	bodies := captureBodies(b, batches)
	dir := b.TempDir()
	bin := filepath.Join(dir, "probity")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/probity").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	cmd, _, otlpAddr := serveProcess(b, bin, filepath.Join(dir, "bench.db"))
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	url := "http://" + otlpAddr + "/v1/traces"
	time.Sleep(500 * time.Millisecond)
	rest := procStatus(b, cmd.Process.Pid, "VmRSS")
	var offered, stored, refused atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: overloadClients}}
	b.ResetTimer()
	for range b.N {
		deadline := time.Now().Add(5 * time.Second)
		var wg sync.WaitGroup
		for c := range overloadClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; time.Now().Before(deadline); i++ {
					resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader(bodies[i%len(bodies)]))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					offered.Add(benchBatch)
					switch resp.StatusCode {
					case 200:
						stored.Add(benchBatch)
					case 429:
						refused.Add(benchBatch)
					default:
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(offered.Load())/secs, "offered_spans/s")
	b.ReportMetric(float64(stored.Load())/secs, "stored_spans/s")
	b.ReportMetric(float64(offered.Load())/max(float64(stored.Load()), 1), "overload")
	b.ReportMetric(float64(refused.Load())/float64(offered.Load()), "refused")
	b.ReportMetric(float64(rest)/1024, "rss_rest_MiB")
	b.ReportMetric(float64(procStatus(b, cmd.Process.Pid, "VmHWM"))/1024, "rss_peak_MiB")
}

// procStatus reads a kB field of /proc/PID/status.
func procStatus(b *testing.B, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
