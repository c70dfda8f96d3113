package otlp_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/otlp"
)

// receiveFiles are OTLP files whose traces a server must assemble exactly
// as Read does.
var receiveFiles = []string{
	"testdata/genai.otlp.json", "testdata/subagent.otlp.json", "testdata/tool-error.otlp.json",
	"../examples/support-billing.otlp.json", "../examples/refund-cascade.otlp.json",
}

// TestSplitAssemble checks the server's path against Read: a file's
// request split into spans (from protobuf and from JSON) and assembled
// trace by trace, in file order, gives the traces Read gives; in the
// order a store returns them (start time, span id) it gives the same
// trace whatever order the spans arrived in.
func TestSplitAssemble(t *testing.T) {
	for _, path := range receiveFiles {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]*probity.Trace{}
			var order []string
			req := &coltrace.ExportTraceServiceRequest{}
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, req); err != nil {
				t.Fatal(err)
			}
			pb, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			for name, split := range map[string]func(func(*otlp.Span)) (otlp.Split, error){
				"json":  func(emit func(*otlp.Span)) (otlp.Split, error) { return otlp.SplitJSON(data, emit) },
				"proto": func(emit func(*otlp.Span)) (otlp.Split, error) { return otlp.SplitProto(pb, emit) },
			} {
				byTrace := map[string][]otlp.Span{}
				var traceOrder []string
				res, err := split(func(s *otlp.Span) {
					if byTrace[s.TraceID] == nil {
						traceOrder = append(traceOrder, s.TraceID)
					}
					byTrace[s.TraceID] = append(byTrace[s.TraceID], *s)
				})
				if err != nil || res.Rejected != 0 {
					t.Fatalf("%s: split = %+v, %v", name, res, err)
				}
				if len(want) == 0 {
					// Read numbers spans across the whole file; per trace
					// the assembled positions restart at 0, so compare
					// against Read of each trace's spans alone.
					for _, id := range traceOrder {
						want[id] = readSpans(t, byTrace[id])
						order = append(order, id)
					}
				}
				if !slices.Equal(traceOrder, order) {
					t.Fatalf("%s: traces %v, want %v", name, traceOrder, order)
				}
				for _, id := range traceOrder {
					got, err := otlp.Assemble("src", byTrace[id])
					if err != nil {
						t.Fatalf("%s: Assemble(%s): %v", name, id, err)
					}
					if diff := cmp.Diff(want[id], got); diff != "" {
						t.Errorf("%s: trace %s: Assemble differs from Read (-read +assemble):\n%s", name, id, diff)
					}
					// any arrival order, sorted as a store sorts
					spans := slices.Clone(byTrace[id])
					rand.New(rand.NewSource(1)).Shuffle(len(spans), func(i, j int) { spans[i], spans[j] = spans[j], spans[i] })
					sortAsStore(spans)
					first, err := otlp.Assemble("src", spans)
					if err != nil {
						t.Fatal(err)
					}
					slices.Reverse(spans)
					sortAsStore(spans)
					second, _ := otlp.Assemble("src", spans)
					if diff := cmp.Diff(first, second); diff != "" {
						t.Errorf("%s: trace %s depends on arrival order:\n%s", name, id, diff)
					}
				}
			}
		})
	}
}

func sortAsStore(spans []otlp.Span) {
	slices.SortStableFunc(spans, func(a, b otlp.Span) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.SpanID, b.SpanID)
	})
}

// readSpans reads the spans of one trace as a file of their own.
func readSpans(t *testing.T, spans []otlp.Span) *probity.Trace {
	t.Helper()
	var b strings.Builder
	// More than one line: Read gives positions a line only for JSON Lines.
	b.WriteString("{\"resourceSpans\":[\n")
	for i, s := range spans {
		rs, err := otlp.ResourceSpansJSON(s)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(rs)
	}
	b.WriteString("]}")
	var got []*probity.Trace
	if err := otlp.Read(context.Background(), "src", strings.NewReader(b.String()), func(tr *probity.Trace) error {
		got = append(got, tr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("Read gave %d traces, want 1", len(got))
	}
	return got[0]
}

func TestSplitRejects(t *testing.T) {
	good := `{"traceId":"5b8aa5a2d2c872e8321cf37308d69df2","spanId":"a1b2c3d400000001","name":"ok"}`
	cases := []struct {
		name, span string
		reason     string
	}{
		{"short trace id", `{"traceId":"5b8a","spanId":"a1b2c3d400000001","name":"x"}`, "traceId"},
		{"no span id", `{"traceId":"5b8aa5a2d2c872e8321cf37308d69df2","name":"x"}`, "spanId"},
		{"bad parent", `{"traceId":"5b8aa5a2d2c872e8321cf37308d69df2","spanId":"a1b2c3d400000002","parentSpanId":"abcd","name":"x"}`, "parentSpanId"},
	}
	for _, c := range cases {
		body := `{"resourceSpans":[{"scopeSpans":[{"spans":[` + good + `,` + c.span + `]}]}]}`
		var kept []string
		res, err := otlp.SplitJSON([]byte(body), func(s *otlp.Span) { kept = append(kept, s.SpanID) })
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Rejected != 1 || !strings.Contains(res.Reason, c.reason) || !slices.Equal(kept, []string{"a1b2c3d400000001"}) {
			t.Errorf("%s: split = %+v kept %v; want 1 rejected for %q and the good span kept", c.name, res, kept, c.reason)
		}
	}
	if _, err := otlp.SplitJSON([]byte(`{"resourceSpans":[`), func(*otlp.Span) {}); err == nil {
		t.Error("SplitJSON of truncated JSON: no error")
	}
	if _, err := otlp.SplitProto([]byte{0x0a, 0xff, 0xff, 0xff}, func(*otlp.Span) {}); err == nil {
		t.Error("SplitProto of a truncated field: no error")
	}
}

// FuzzSplitProto feeds arbitrary bytes to the server's decoder: it must
// never panic, and every span it keeps must assemble or fail cleanly.
func FuzzSplitProto(f *testing.F) {
	data, err := os.ReadFile("../examples/refund-cascade.otlp.json")
	if err != nil {
		f.Fatal(err)
	}
	req := &coltrace.ExportTraceServiceRequest{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, req); err != nil {
		f.Fatal(err)
	}
	pb, _ := proto.Marshal(req)
	f.Add(pb)
	f.Add(pb[:len(pb)/2])
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var spans []otlp.Span
		otlp.SplitProto(b, func(s *otlp.Span) { spans = append(spans, *s) })
		byTrace := map[string][]otlp.Span{}
		for _, s := range spans {
			if len(s.TraceID) != 32 || len(s.SpanID) != 16 {
				t.Fatalf("kept a span with bad ids: %q %q", s.TraceID, s.SpanID)
			}
			byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
		}
		for _, ss := range byTrace {
			otlp.Assemble("fuzz", ss)
		}
	})
}

// TestPushedTraceRoundTrip is what `probity push` does: a trace of any
// format encoded with Encode, split, stored, read back in the store's
// order (start time, span id) and assembled, must be the trace it was,
// step for step, so the server's verdict is analyze's.
func TestPushedTraceRoundTrip(t *testing.T) {
	n := 0
	perFormat := map[string]int{}
	inputs := []string{"../examples", "testdata", shareddata.Path(t, "tau-bench", "gpt-4o-airline.json")}
	for i := 1; i <= 10; i++ {
		inputs = append(inputs, shareddata.Path(t, "who-and-when", "algorithm-generated", fmt.Sprintf("%d.json", i)))
	}
	err := ingest.Each(context.Background(), inputs, ingest.Options{}, func(tr *probity.Trace) error {
		if perFormat[tr.Format]++; perFormat[tr.Format] > 100 { // enough of each format
			return nil
		}
		n++
		var spans []otlp.Span
		if _, err := otlp.SplitRequest(otlp.Encode(tr), func(s *otlp.Span) { spans = append(spans, *s) }); err != nil {
			t.Fatal(err)
		}
		sortAsStore(spans)
		got, err := otlp.Assemble("server", spans)
		if err != nil {
			t.Fatalf("%s: Assemble: %v", tr.ID, err)
		}
		if diff := cmp.Diff(tr.Steps, got.Steps); diff != "" {
			t.Errorf("trace %s of %s: steps after push (-file +server):\n%s", tr.ID, tr.Source, diff)
		}
		if got.ID != tr.ID || got.Task != tr.Task || !cmp.Equal(got.Labels, tr.Labels) {
			t.Errorf("trace %s: id %q task %q labels %+v after push", tr.ID, got.ID, got.Task, got.Labels)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(perFormat) < 4 {
		t.Fatalf("traces of %d formats read (%v), want otlp, chatlog, taubench and whowhen", len(perFormat), perFormat)
	}
}
