package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/probity/probity"
	"github.com/probity/probity/analysis"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/server"
)

// exampleFiles are agent traces as OTLP: one fails (a cascade), one is
// suspect.
var exampleFiles = []string{"../examples/refund-cascade.otlp.json", "../examples/support-billing.otlp.json"}

// wantReports analyses the files as `probity analyze --format json` does,
// keyed by verdict (the files' verdicts differ), with "source" and
// "trace_id" blanked: the server names its source otlp:<trace id>, and the
// SDK gives a trace without probity attributes a new id.
func wantReports(t *testing.T) map[string]map[string]any {
	t.Helper()
	a := analysis.New(analysis.Options{})
	out := map[string]map[string]any{}
	for _, f := range exampleFiles {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		err = otlp.Read(context.Background(), f, fh, func(tr *probity.Trace) error {
			r := a.Run(tr)
			b, _ := json.Marshal(r)
			var m map[string]any
			json.Unmarshal(b, &m)
			m["source"], m["trace_id"] = "", ""
			if out[string(r.Verdict)] != nil {
				t.Fatalf("two example traces with verdict %s", r.Verdict)
			}
			out[string(r.Verdict)] = m
			return nil
		})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestSDKExporters sends agent traces through the official OpenTelemetry
// Go SDK, over OTLP/HTTP (protobuf, gzip) and OTLP/gRPC, and checks that
// the server analyses each exactly as `probity analyze` analyses the file.
func TestSDKExporters(t *testing.T) {
	want := wantReports(t)
	exporters := map[string]func(ts *testServer) sdktrace.SpanExporter{
		"otlptracehttp": func(ts *testServer) sdktrace.SpanExporter {
			exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(ts.OTLPHTTPAddr()),
				otlptracehttp.WithInsecure(), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
			if err != nil {
				t.Fatal(err)
			}
			return exp
		},
		"otlptracegrpc": func(ts *testServer) sdktrace.SpanExporter {
			exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(ts.OTLPGRPCAddr()), otlptracegrpc.WithInsecure())
			if err != nil {
				t.Fatal(err)
			}
			return exp
		},
	}
	for name, newExp := range exporters {
		t.Run(name, func(t *testing.T) {
			ts := start(t, nil, nil)
			exp := newExp(ts)
			for _, f := range exampleFiles {
				replay(t, readRequest(t, f), exp)
			}
			items := waitAnalysed(t, ts, len(want), 20*time.Second)
			if len(items) != len(want) {
				t.Fatalf("%d traces stored, want %d", len(items), len(want))
			}
			for _, it := range items {
				var got struct {
					Trace    *probity.Trace `json:"trace"`
					Analysis map[string]any `json:"analysis"`
				}
				if st := getJSON(t, ts.api("/api/v1/traces/"+it.TraceID), &got); st != http.StatusOK {
					t.Fatalf("GET trace %s: status %d", it.TraceID, st)
				}
				if got.Analysis["source"] != server.Source(it.TraceID) {
					t.Errorf("analysis source = %v, want %q", got.Analysis["source"], server.Source(it.TraceID))
				}
				if got.Analysis["trace_id"] != got.Trace.ID {
					t.Errorf("analysis trace_id %v, trace id %q", got.Analysis["trace_id"], got.Trace.ID)
				}
				got.Analysis["source"], got.Analysis["trace_id"] = "", ""
				w, ok := want[got.Analysis["verdict"].(string)]
				if !ok {
					t.Fatalf("trace %s has verdict %v, which no file's trace has", it.TraceID, got.Analysis["verdict"])
				}
				if diff := cmp.Diff(w, got.Analysis); diff != "" {
					t.Errorf("trace %s: server analysis differs from analyze (-analyze +server):\n%s", got.Trace.ID, diff)
				}
				if it.Verdict == nil || *it.Verdict != w["verdict"] || it.Revision != 1 {
					t.Errorf("list item %+v: want verdict %v, revision 1", it, w["verdict"])
				}
			}
			if err := exp.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
}

// post sends body to an OTLP/HTTP URL and returns the status and body.
func post(t *testing.T, url, contentType string, body []byte, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestBadPayloads: every malformed request gets its status and a reason,
// the server stays up, and good spans beside bad ones are kept.
func TestBadPayloads(t *testing.T) {
	ts := start(t, nil, nil)
	url := "http://" + ts.OTLPHTTPAddr() + "/v1/traces"
	goodSpan := `{"traceId":"5b8aa5a2d2c872e8321cf37308d69df2","spanId":"a1b2c3d400000001","name":"chat","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000"}`
	badSpan := `{"traceId":"5b8a","spanId":"a1b2c3d400000002","name":"broken"}`
	partial := `{"resourceSpans":[{"scopeSpans":[{"spans":[` + goodSpan + `,` + badSpan + `]}]}]}`
	cases := []struct {
		name, ct string
		body     []byte
		header   map[string]string
		status   int
		reason   string
	}{
		{"garbage protobuf", "application/x-protobuf", []byte{0x0a, 0xff, 0xff, 0x01}, nil, 400, "bad export request"},
		{"malformed json", "application/json", []byte(`{"resourceSpans":[`), nil, 400, "OTLP/JSON"},
		{"all spans bad", "application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[` + badSpan + `]}]}]}`), nil, 400, "traceId"},
		{"bad gzip", "application/x-protobuf", []byte("not gzip"), map[string]string{"Content-Encoding": "gzip"}, 400, "gzip"},
		{"unknown encoding", "application/x-protobuf", []byte{}, map[string]string{"Content-Encoding": "br"}, 415, "encoding"},
		{"wrong content type", "text/plain", []byte("hello"), nil, 415, "content type"},
		{"too large", "application/x-protobuf", make([]byte, server.MaxRequestBytes+1), nil, 413, "bytes"},
		{"gzip bomb", "application/x-protobuf", gz(make([]byte, server.MaxDecodedBytes+1)), map[string]string{"Content-Encoding": "gzip"}, 413, "after gzip"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, h, body := post(t, url, c.ct, c.body, c.header)
			if st != c.status {
				t.Fatalf("status %d, want %d (%s)", st, c.status, body)
			}
			msg := string(body)
			if strings.HasPrefix(h.Get("Content-Type"), "application/x-protobuf") {
				var st spb.Status
				if err := proto.Unmarshal(body, &st); err != nil {
					t.Fatalf("error body is not a google.rpc.Status: %v", err)
				}
				msg = st.GetMessage()
			}
			if !strings.Contains(msg, c.reason) {
				t.Errorf("reason %q does not mention %q", msg, c.reason)
			}
		})
	}
	t.Run("partial success", func(t *testing.T) {
		st, _, body := post(t, url, "application/json", []byte(partial), nil)
		if st != http.StatusOK {
			t.Fatalf("status %d, want 200 (%s)", st, body)
		}
		var resp coltrace.ExportTraceServiceResponse
		if err := protojson.Unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
		if ps := resp.GetPartialSuccess(); ps.GetRejectedSpans() != 1 || !strings.Contains(ps.GetErrorMessage(), "traceId") {
			t.Errorf("partial success = %v, want 1 span rejected for its traceId", ps)
		}
		spans, err := ts.st.Spans(context.Background(), "5b8aa5a2d2c872e8321cf37308d69df2")
		if err != nil || len(spans) != 1 {
			t.Errorf("the good span of a partly bad request: %d spans, %v; want it stored", len(spans), err)
		}
	})
	if st := getJSON(t, ts.api("/healthz"), nil); st != http.StatusOK {
		t.Errorf("after bad payloads /healthz = %d", st)
	}
}

// TestIdempotentRetry sends the same export twice: stored once, analysed
// once.
func TestIdempotentRetry(t *testing.T) {
	ts := start(t, nil, nil)
	req := readRequest(t, exampleFiles[0])
	b, _ := proto.Marshal(req)
	for range 3 {
		if st, _, body := post(t, "http://"+ts.OTLPHTTPAddr()+"/v1/traces", "application/x-protobuf", b, nil); st != 200 {
			t.Fatalf("status %d: %s", st, body)
		}
	}
	items := waitAnalysed(t, ts, 1, 10*time.Second)
	if len(items) != 1 || items[0].Spans != 16 || items[0].Revision != 1 {
		t.Errorf("after three identical exports: %+v; want one trace of 16 spans analysed once", items)
	}
}

// TestAPI covers the read API: filters, pages, a trace with its analysis,
// feedback, monitors, alerts, health and metrics.
func TestAPI(t *testing.T) {
	ts := start(t, nil, nil)
	for _, f := range exampleFiles {
		b, _ := proto.Marshal(readRequest(t, f))
		if st, _, body := post(t, "http://"+ts.OTLPHTTPAddr()+"/v1/traces", "application/x-protobuf", b, nil); st != 200 {
			t.Fatalf("status %d: %s", st, body)
		}
	}
	waitAnalysed(t, ts, 2, 10*time.Second)

	var fails listPage
	getJSON(t, ts.api("/api/v1/traces?verdict=fail"), &fails)
	if len(fails.Traces) != 1 || fails.Traces[0].RootCauseStep == nil || *fails.Traces[0].RootCauseStep != 8 || fails.NextCursor != nil {
		t.Fatalf("verdict=fail: %+v; want the refund cascade with root cause step 8, one page", fails)
	}
	failing := fails.Traces[0]
	if !cmp.Equal(failing.Detectors, []string{"cascade", "contradicted-claim", "ungrounded-argument"}) {
		t.Errorf("detectors = %v", failing.Detectors)
	}
	var byDetector, bySvc, page1, page2 listPage
	getJSON(t, ts.api("/api/v1/traces?detector=cascade"), &byDetector)
	getJSON(t, ts.api("/api/v1/traces?service=acme-support"), &bySvc)
	if len(byDetector.Traces) != 1 || byDetector.Traces[0].TraceID != failing.TraceID || len(bySvc.Traces) != 1 || bySvc.Traces[0].TraceID == failing.TraceID {
		t.Errorf("detector=cascade gave %+v, service=acme-support gave %+v", byDetector.Traces, bySvc.Traces)
	}
	getJSON(t, ts.api("/api/v1/traces?limit=1"), &page1)
	if page1.NextCursor == nil || len(page1.Traces) != 1 {
		t.Fatalf("limit=1: %+v; want a cursor", page1)
	}
	getJSON(t, ts.api("/api/v1/traces?limit=1&cursor="+*page1.NextCursor), &page2)
	if len(page2.Traces) != 1 || page2.Traces[0].TraceID == page1.Traces[0].TraceID || page2.NextCursor != nil {
		t.Errorf("second page: %+v", page2)
	}

	var errBody struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	for path, want := range map[string]int{
		"/api/v1/traces?verdict=maybe":                       400,
		"/api/v1/traces?cursor=xyz":                          400,
		"/api/v1/traces?since=yesterday":                     400,
		"/api/v1/traces?colour=red":                          400,
		"/api/v1/traces/00000000000000000000000000000001":    404,
		"/api/v1/traces/nothex":                              400,
		"/api/v1/nothing":                                    404,
		"/api/v1/traces?since=2020-01-01T00:00:00Z&limit=10": 200,
	} {
		if st := getJSON(t, ts.api(path), &errBody); st != want {
			t.Errorf("GET %s = %d (%+v), want %d", path, st, errBody, want)
		}
	}

	st, _, body := post(t, ts.api("/api/v1/traces/"+failing.TraceID+"/feedback"), "application/json", []byte(`{"label":"incorrect","step":8,"note":"wrong order refunded"}`), nil)
	if st != http.StatusCreated || !strings.Contains(string(body), `"label":"incorrect"`) {
		t.Errorf("feedback: %d %s", st, body)
	}
	for b, want := range map[string]int{`{"label":"meh"}`: 400, `{"label":"correct","extra":1}`: 400, `not json`: 400} {
		if st, _, body := post(t, ts.api("/api/v1/traces/"+failing.TraceID+"/feedback"), "application/json", []byte(b), nil); st != want {
			t.Errorf("feedback %s: %d %s, want %d", b, st, body, want)
		}
	}
	if st, _, _ := post(t, ts.api("/api/v1/traces/00000000000000000000000000000001/feedback"), "application/json", []byte(`{"label":"correct"}`), nil); st != 404 {
		t.Errorf("feedback on an unknown trace: %d, want 404", st)
	}
	var one struct {
		Trace    probity.Trace   `json:"trace"`
		Analysis json.RawMessage `json:"analysis"`
		Feedback []struct {
			Label string `json:"label"`
			Step  *int   `json:"step"`
		} `json:"feedback"`
	}
	getJSON(t, ts.api("/api/v1/traces/"+failing.TraceID), &one)
	if one.Trace.ID != "refund-cascade" || len(one.Trace.Steps) != 15 || len(one.Feedback) != 1 || *one.Feedback[0].Step != 8 {
		t.Errorf("GET trace: id %q, %d steps, feedback %+v", one.Trace.ID, len(one.Trace.Steps), one.Feedback)
	}
	stored, err := ts.st.Analysis(context.Background(), failing.TraceID)
	if err != nil || !bytes.Equal(stored.Report, one.Analysis) {
		t.Errorf("the API's analysis is not the stored report byte for byte: %v", err)
	}

	var monitors struct {
		Monitors []json.RawMessage `json:"monitors"`
	}
	var alerts struct {
		Alerts []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"alerts"`
	}
	if st := getJSON(t, ts.api("/api/v1/monitors"), &monitors); st != 200 || monitors.Monitors == nil || len(monitors.Monitors) != 0 {
		t.Errorf("monitors: %d %+v, want an empty list", st, monitors)
	}
	getJSON(t, ts.api("/api/v1/alerts?state=firing"), &alerts)
	if alerts.Alerts == nil || len(alerts.Alerts) != 0 {
		t.Errorf("alerts with monitors off = %+v, want an empty list", alerts)
	}
	if st := getJSON(t, ts.api("/api/v1/alerts?state=loud"), nil); st != 400 {
		t.Errorf("alerts?state=loud = %d, want 400", st)
	}
	if st := getJSON(t, ts.api("/readyz"), nil); st != 200 {
		t.Errorf("/readyz = %d", st)
	}
	resp, err := http.Get(ts.api("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{`probity_traces_analysed_total{verdict="fail"} 1`, `probity_spans_stored_total 26`, `probity_traces_analysed_total{verdict="ok"} 1`} {
		if !strings.Contains(string(m), line) {
			t.Errorf("/metrics lacks %q:\n%s", line, m)
		}
	}
}

// TestPushEvalRun stores an eval run file whole, once.
func TestPushEvalRun(t *testing.T) {
	ts := start(t, nil, nil)
	run := "{\"type\":\"run\",\"version\":1,\"suite\":\"refunds\",\"started\":\"2026-03-01T12:00:00Z\",\"trials\":2}\n" +
		"{\"type\":\"trial\",\"case\":\"c1\",\"trial\":0,\"status\":\"pass\"}\n{\"type\":\"trial\",\"case\":\"c1\",\"trial\":1,\"status\":\"fail\"}\n"
	var ids []string
	for range 2 {
		st, _, body := post(t, ts.api("/api/v1/eval-runs"), "application/x-ndjson", []byte(run), nil)
		var out struct {
			ID     string `json:"id"`
			Trials int    `json:"trials"`
		}
		json.Unmarshal(body, &out)
		if st != 201 || out.Trials != 2 {
			t.Fatalf("push eval run: %d %s", st, body)
		}
		ids = append(ids, out.ID)
	}
	var list struct {
		Runs []struct {
			ID    string `json:"id"`
			Suite string `json:"suite"`
		} `json:"eval_runs"`
	}
	getJSON(t, ts.api("/api/v1/eval-runs"), &list)
	if ids[0] != ids[1] || len(list.Runs) != 1 || list.Runs[0].Suite != "refunds" {
		t.Errorf("ids %v, list %+v; want one run of suite refunds", ids, list)
	}
	resp, err := http.Get(ts.api("/api/v1/eval-runs/" + ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != run {
		t.Errorf("stored run differs from the pushed file:\n%s", b)
	}
	if st, _, _ := post(t, ts.api("/api/v1/eval-runs"), "application/x-ndjson", []byte("{\"type\":\"trial\"}\n"), nil); st != 400 {
		t.Errorf("a file without a run header: %d, want 400", st)
	}
}
