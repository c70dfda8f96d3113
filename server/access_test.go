package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/internal/pgtest"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/postgres"
	"github.com/probity/probity/store/sqlite"

	_ "modernc.org/sqlite"
)

const (
	ingestToken = "ingest-0123456789abcdef"
	readToken   = "read-0123456789abcdef"
)

func TestNonLoopbackNeedsTokens(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, o := range []server.Options{{Listen: "0.0.0.0:0"}, {OTLPHTTP: "0.0.0.0:0"}, {OTLPGRPC: ":0"}} {
		o.Store, o.Analyzer = db, analysis.New(analysis.Options{})
		_, err := server.New(o)
		if probity.ErrorCode(err) != probity.EINVALID || !strings.Contains(fmt.Sprint(err), "--token-file") {
			t.Errorf("New(%s%s%s) without tokens: %v; want EINVALID naming --token-file", o.Listen, o.OTLPHTTP, o.OTLPGRPC, err)
		}
	}
}

func TestParseTokens(t *testing.T) {
	for _, bad := range []string{"", "# only a comment\n", "short ingest\n", "0123456789abcdefgh ingest,write\n", "0123456789abcdefgh\n"} {
		if _, err := server.ParseTokens("tokens.txt", []byte(bad)); probity.ErrorCode(err) != probity.EINVALID {
			t.Errorf("ParseTokens(%q) = %v, want EINVALID", bad, err)
		}
	}
}

func TestAuth(t *testing.T) {
	tokens, err := server.ParseTokens("tokens.txt", []byte("# test tokens\n"+ingestToken+" ingest\n"+readToken+" read\n"))
	if err != nil {
		t.Fatal(err)
	}
	ts := start(t, nil, func(o *server.Options) { o.Tokens = tokens })
	body, _ := proto.Marshal(readRequest(t, exampleFiles[0]))
	otlpURL := "http://" + ts.OTLPHTTPAddr() + "/v1/traces"
	cases := []struct {
		name, method, url, token string
		want                     int
	}{
		{"otlp without token", "POST", otlpURL, "", 401},
		{"otlp with read token", "POST", otlpURL, readToken, 401},
		{"otlp with wrong token", "POST", otlpURL, "nope-0123456789abcdef", 401},
		{"otlp with ingest token", "POST", otlpURL, ingestToken, 200},
		{"push endpoint with ingest token", "POST", ts.api("/v1/traces"), ingestToken, 200},
		{"list without token", "GET", ts.api("/api/v1/traces"), "", 401},
		{"list with ingest token", "GET", ts.api("/api/v1/traces"), ingestToken, 401},
		{"list with read token", "GET", ts.api("/api/v1/traces"), readToken, 200},
		{"metrics without token", "GET", ts.api("/metrics"), "", 401},
		{"healthz without token", "GET", ts.api("/healthz"), "", 200},
		{"readyz without token", "GET", ts.api("/readyz"), "", 200},
	}
	for _, c := range cases {
		var req *http.Request
		if c.method == "POST" {
			req, _ = http.NewRequest("POST", c.url, strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/x-protobuf")
		} else {
			req, _ = http.NewRequest("GET", c.url, nil)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
	conn, err := grpc.NewClient(ts.OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := coltrace.NewTraceServiceClient(conn)
	req := readRequest(t, exampleFiles[1])
	for tok, want := range map[string]codes.Code{"": codes.Unauthenticated, readToken: codes.Unauthenticated, ingestToken: codes.OK} {
		ctx := context.Background()
		if tok != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
		}
		_, err := client.Export(ctx, req)
		if got := status.Code(err); got != want {
			t.Errorf("gRPC export with token %q: %v, want %v", tok, got, want)
		}
	}
	// the SDK exporter with headers
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(ts.OTLPGRPCAddr()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(map[string]string{"Authorization": "Bearer " + ingestToken}))
	if err != nil {
		t.Fatal(err)
	}
	replay(t, readRequest(t, exampleFiles[1]), exp)
	exp.Shutdown(context.Background())
}

// TestBackpressure holds SQLite's write lock from another connection (as
// a stalled disk would), fills the ingest budget with one export, and
// checks that the next exports are refused at once with a retry delay,
// over HTTP and gRPC, while the held export is acknowledged only after
// the lock is released and its spans are durable.
func TestBackpressure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probity.db")
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts := start(t, db, func(o *server.Options) { o.IngestBytes = 1 })
	blocker, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(100)")
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	conn, err := blocker.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	body, _ := proto.Marshal(readRequest(t, exampleFiles[0]))
	url := "http://" + ts.OTLPHTTPAddr() + "/v1/traces"
	first := make(chan int, 1)
	go func() {
		st, _, _ := post(t, url, "application/x-protobuf", body, nil)
		first <- st
	}()
	// wait until the first export holds the budget
	for deadline := time.Now().Add(5 * time.Second); metricValue(t, ts.reg, "probity_ingest_inflight_bytes") == 0; {
		if time.Now().After(deadline) {
			select {
			case st := <-first:
				t.Fatalf("the first export was answered %d at once", st)
			default:
			}
			t.Fatal("the first export never took the budget")
		}
		time.Sleep(5 * time.Millisecond)
	}
	st, h, _ := post(t, url, "application/x-protobuf", body, nil)
	if st != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Errorf("export while overloaded: status %d Retry-After %q; want 429 with a delay", st, h.Get("Retry-After"))
	}
	gconn, err := grpc.NewClient(ts.OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer gconn.Close()
	_, err = coltrace.NewTraceServiceClient(gconn).Export(context.Background(), readRequest(t, exampleFiles[1]))
	s := status.Convert(err)
	var delay time.Duration
	for _, d := range s.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if s.Code() != codes.ResourceExhausted || delay <= 0 {
		t.Errorf("gRPC export while overloaded: %v with retry delay %v; want RESOURCE_EXHAUSTED with RetryInfo", s.Code(), delay)
	}
	select {
	case st := <-first:
		t.Fatalf("the held export was answered %d before its spans could be written", st)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := ts.st.Trace(context.Background(), "a510c623d9717501884df18634e4500c"); probity.ErrorCode(err) != probity.ENOTFOUND {
		t.Fatalf("spans visible before the write: %v", err)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if st := <-first; st != http.StatusOK {
		t.Fatalf("held export: status %d, want 200 once written", st)
	}
	if sum, err := ts.st.Trace(context.Background(), "a510c623d9717501884df18634e4500c"); err != nil || sum.Spans != 16 {
		t.Errorf("after the acknowledgement: %+v, %v; want 16 spans stored", sum, err)
	}
	if st, _, body := post(t, url, "application/x-protobuf", body, nil); st != http.StatusOK {
		t.Errorf("after the overload: status %d %s, want 200", st, body)
	}
}

// metricValue sums the samples of a gathered metric whose labels
// include the given name=value pairs.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k := 0; k+1 < len(labels); k += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[k] && l.GetValue() == labels[k+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestReplicasPostgres runs two servers on one PostgreSQL database and
// sends each trace's spans half to one, half to the other: every trace is
// stored whole and analysed exactly once, by one of them.
func TestReplicasPostgres(t *testing.T) {
	dsn := pgtest.Schema(t)
	var replicas []*testServer
	for range 2 {
		db, err := postgres.Open(t.Context(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		replicas = append(replicas, start(t, db, func(o *server.Options) { o.TraceIdle = time.Second }))
	}
	// 40 traces of 8 spans: a root, a chat span and six tool spans.
	const traces, per = 40, 8
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &coltrace.ExportTraceServiceRequest{}
			for tr := range traces {
				req.ResourceSpans = append(req.ResourceSpans, syntheticTrace(tr, per, func(i int) bool { return (i+tr)%2 == r }))
			}
			b, _ := proto.Marshal(req)
			if st, _, body := post(t, "http://"+replicas[r].OTLPHTTPAddr()+"/v1/traces", "application/x-protobuf", b, nil); st != 200 {
				t.Errorf("replica %d: status %d %s", r, st, body)
			}
		}()
	}
	wg.Wait()
	items := waitAnalysed(t, replicas[0], traces, 30*time.Second)
	for _, it := range items {
		if it.Spans != per || it.Revision != 1 {
			t.Errorf("trace %s: %d spans, analysed %d times; want %d spans analysed once", it.TraceID, it.Spans, it.Revision, per)
		}
	}
	var total float64
	for i, r := range replicas {
		n := metricValue(t, r.reg, "probity_traces_analysed_total")
		t.Logf("replica %d analysed %v traces", i, n)
		total += n
	}
	if total != traces {
		t.Errorf("the replicas saved %v analyses, want %d (each trace once)", total, traces)
	}
	var st store.Store = replicas[1].st
	if p, err := st.ListTraces(context.Background(), store.Filter{Verdict: store.VerdictPending}); err != nil || len(p.Traces) != 0 {
		t.Errorf("pending traces left: %v, %v", p.Traces, err)
	}
}
