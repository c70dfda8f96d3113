package otlp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/otlp"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// readAll is otlp.Read over a byte slice.
func readAll(t testing.TB, path string, data []byte) ([]*probity.Trace, error) {
	t.Helper()
	var out []*probity.Trace
	err := otlp.Read(context.Background(), path, bytes.NewReader(data), func(tr *probity.Trace) error {
		out = append(out, tr)
		return nil
	})
	return out, err
}

// roundTrip writes traces as OTLP/JSON and reads them back.
func roundTrip(t testing.TB, traces []*probity.Trace) ([]*probity.Trace, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := otlp.Write(&buf, traces...); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, err := readAll(t, "converted.otlp.json", buf.Bytes())
	if err != nil {
		t.Fatalf("Read(Write(traces)): %v", err)
	}
	for _, g := range got {
		if g.Source != "converted.otlp.json" || g.Format != otlp.Format {
			t.Errorf("trace %s read from converted.otlp.json has source %q, format %q; want the carrier file and %q",
				g.ID, g.Source, g.Format, otlp.Format)
		}
		restoreOriginal(g)
	}
	return got, buf.Bytes()
}

// restoreOriginal puts back the source and format a converted trace was
// first read from (Read keeps them in Meta), so the model can be compared.
func restoreOriginal(t *probity.Trace) {
	if v, ok := t.Meta[otlp.MetaOriginalSource]; ok {
		t.Source = v
		delete(t.Meta, otlp.MetaOriginalSource)
	}
	if v, ok := t.Meta[otlp.MetaOriginalFormat]; ok {
		t.Format = v
		delete(t.Meta, otlp.MetaOriginalFormat)
	}
	if len(t.Meta) == 0 {
		t.Meta = nil
	}
}

func ptr[T any](v T) *T { return &v }

// handTrace exercises every field of the model.
func handTrace() *probity.Trace {
	t0 := time.Date(2025, 3, 14, 10, 0, 0, 123456789, time.UTC)
	return &probity.Trace{
		ID: "task-7/trial-2", Source: "runs/airline.json", Format: "taubench", Task: "Cancel reservation <ABC123> & refund",
		Clock:    time.Date(2024, 5, 15, 15, 0, 0, 0, time.FixedZone("EST", -5*3600)),
		Labels:   probity.Labels{Reward: ptr(0.0), Resolved: ptr(false), ExitStatus: "Submitted", IsCorrect: ptr(true), MistakeAgent: "billing", MistakeStep: ptr(4), MistakeReason: "wrong id", GroundTruth: "42"},
		Expected: []probity.ToolCall{{Name: "cancel_reservation", Args: json.RawMessage(`{"reservation_id": "ABC123"}`)}, {ID: "x", Name: "odd", RawArgs: "not json"}},
		Meta:     map[string]string{"task_id": "7", "trial": "2", "record": "12"},
		Steps: []probity.Step{
			{Pos: probity.Position{Index: 0}, Kind: probity.KindSystem, Actor: "system", Content: "You are a helpful agent.\nPolicy: <none>"},
			{Pos: probity.Position{Index: 1, Line: 2}, Kind: probity.KindUser, Actor: "user", Content: "Please cancel ABC123"},
			{Pos: probity.Position{Index: 2}, Kind: probity.KindAssistant, Actor: "assistant", Content: "Let me look.", Model: &probity.Model{Provider: "openai", Name: "gpt-4o", Temperature: ptr(0.0), Seed: ptr(int64(7)), InputTokens: 10, OutputTokens: 3, CostUSD: 0.25}},
			{Pos: probity.Position{Index: 2, Part: 1}, Kind: probity.KindToolCall, Actor: "assistant", ID: "s3", Tool: &probity.ToolCall{ID: "call_1", Name: "get_reservation", Args: json.RawMessage(`{"id": "ABC123",  "n": 1}`)}},
			{Pos: probity.Position{Index: 2, Part: 2}, Kind: probity.KindToolCall, Actor: "assistant", Content: "also this", Tool: &probity.ToolCall{ID: "call_2", Name: "weird", RawArgs: "{broken"}},
			{Pos: probity.Position{Index: 3}, Kind: probity.KindToolResult, Actor: "tool", Content: `{"status": "active"}`, Tool: &probity.ToolCall{ID: "call_1", Name: "get_reservation"}, Start: t0, End: t0.Add(time.Second)},
			{Pos: probity.Position{Index: 4}, Kind: probity.KindToolResult, Actor: "tool", Content: "Error: boom", Tool: &probity.ToolCall{ID: "call_2"}, Error: &probity.ToolError{}},
			{Pos: probity.Position{Index: 5}, Kind: probity.KindToolResult, Actor: "tool", Content: "503", Tool: &probity.ToolCall{Name: "x"}, Error: &probity.ToolError{Message: "unavailable", Code: "503"}, Start: t0.Add(-time.Hour)},
			{Pos: probity.Position{Index: 6}, Kind: probity.KindHandoff, Actor: "support", ID: "h1", Content: "billing question", Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second)},
			{Pos: probity.Position{Index: 7}, Kind: probity.KindRetrieval, Actor: "retriever", ParentID: "h1", Content: "Refund policy: 30 days", Start: t0.Add(4 * time.Second), End: t0.Add(10 * time.Second)},
			{Pos: probity.Position{Index: 8}, Kind: probity.KindAssistant, Actor: "billing", ParentID: "h1"},
			{Pos: probity.Position{Index: 9}, Kind: probity.KindReturn, Actor: "billing", ParentID: "h1", Content: "refund ok"},
			{Pos: probity.Position{Index: 10, SpanID: "00f067aa0ba902b7"}, Kind: probity.KindFinal, Actor: "support", Content: "Done: ✓ refunded"},
			{Pos: probity.Position{Index: 11}, Kind: probity.KindAssistant, Actor: "support", Content: "times outside OTLP's range", Start: time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC), End: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
			{Pos: probity.Position{Index: 12}, Kind: probity.KindAssistant, Actor: "support", Content: "end only", End: t0.Add(time.Hour)},
		},
	}
}

func TestRoundTripHandTrace(t *testing.T) {
	want := []*probity.Trace{handTrace(), {ID: "empty", Source: "e.json", Format: "chatlog"}}
	got, _ := roundTrip(t, want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read(Write(trace)) differs (-want +got):\n%s", diff)
	}
}

// TestRoundTripReal converts every real trace the importers read (τ-bench,
// AgentRx, Who&When, SWE-agent, ... whatever ingest knows) and checks that
// reading the OTLP back gives the same model, source positions included.
func TestRoundTripReal(t *testing.T) {
	dir := shareddata.Dir(t)
	inputs := []string{
		filepath.Join(dir, "tau-bench", "gpt-4o-airline.json"),
		filepath.Join(dir, "agentrx-tau-retail", "trajectories.json"),
		filepath.Join(dir, "who-and-when", "algorithm-generated"),
		filepath.Join(dir, "swebench-gemini3pro", "trajs"),
	}
	total := 0
	for _, in := range inputs {
		traces, err := ingest.ReadAll(context.Background(), in, ingest.Options{})
		var pe *probity.Error
		if errors.As(err, &pe) && len(traces) == 0 {
			t.Logf("%s: not readable yet (%v); skipped", in, err)
			continue
		}
		if err != nil {
			t.Errorf("ingest %s: %v", in, err)
		}
		got, _ := roundTrip(t, traces)
		if len(got) != len(traces) {
			t.Fatalf("%s: %d traces back, want %d", in, len(got), len(traces))
		}
		for i := range traces {
			if diff := cmp.Diff(traces[i], got[i], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s trace %s: Read(Write(t)) differs (-want +got):\n%s", in, traces[i].ID, diff)
				break
			}
		}
		total += len(traces)
	}
	t.Logf("%d real traces round-tripped", total)
	if total == 0 {
		t.Error("no real trace was read")
	}
}

// TestRoundTripOTLPExample reads a GenAI OTLP file, writes it, and reads it
// again: the second reading equals the first.
func TestRoundTripOTLPExample(t *testing.T) {
	path := filepath.Join("..", "examples", "support-billing.otlp.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := readAll(t, path, data)
	if err != nil {
		t.Fatal(err)
	}
	got, out := roundTrip(t, first)
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("Read(Write(Read(example))) differs (-want +got):\n%s", diff)
	}
	// An OTLP trace keeps its trace id when converted.
	var req coltrace.ExportTraceServiceRequest
	if err := protojson.Unmarshal(out, &req); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"traceId":"5b8aa5a2d2c872e8321cf37308d69df2"`)) {
		t.Errorf("converted OTLP trace lost its trace id:\n%.300s", out)
	}
}

// TestWritePlainProtojson checks the contract: what Write produces
// decodes with plain protojson.Unmarshal, ids are hex per the OTLP/JSON
// spec, and re-marshalling with protojson gives the same hex text back.
func TestWritePlainProtojson(t *testing.T) {
	var buf bytes.Buffer
	if err := otlp.Write(&buf, handTrace()); err != nil {
		t.Fatal(err)
	}
	var req coltrace.ExportTraceServiceRequest
	if err := protojson.Unmarshal(buf.Bytes(), &req); err != nil {
		t.Fatalf("plain protojson.Unmarshal: %v", err)
	}
	spans := req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()
	if got, want := len(spans), len(handTrace().Steps)+1; got != want {
		t.Fatalf("%d spans, want %d (one per step and a root)", got, want)
	}
	// The raw JSON holds 32 and 16 hex digits.
	var raw struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					TraceID, SpanID, ParentSpanID string
					Kind                          json.RawMessage
				}
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, sp := range raw.ResourceSpans[0].ScopeSpans[0].Spans {
		if !isHex(sp.TraceID, 32) || !isHex(sp.SpanID, 16) || (sp.ParentSpanID != "" && !isHex(sp.ParentSpanID, 16)) {
			t.Errorf("ids not hex: trace %q span %q parent %q", sp.TraceID, sp.SpanID, sp.ParentSpanID)
		}
		if len(sp.Kind) == 0 || sp.Kind[0] == '"' {
			t.Errorf("span kind %s, want an integer (the spec forbids enum names)", sp.Kind)
		}
	}
	again, err := protojson.MarshalOptions{UseEnumNumbers: true}.Marshal(&req)
	if err != nil {
		t.Fatal(err)
	}
	back, err := readAll(t, "again.json", again)
	if err != nil {
		t.Fatalf("Read(protojson re-marshal): %v", err)
	}
	for _, b := range back {
		restoreOriginal(b)
	}
	if diff := cmp.Diff([]*probity.Trace{handTrace()}, back); diff != "" {
		t.Errorf("after a plain protojson decode and encode (-want +got):\n%s", diff)
	}
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func TestWriteDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := otlp.Write(&a, handTrace()); err != nil {
		t.Fatal(err)
	}
	if err := otlp.Write(&b, handTrace()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two writes of the same trace differ")
	}
	if n := bytes.Count(a.Bytes(), []byte("\n")); n != 1 {
		t.Errorf("output has %d newlines, want 1 (one line: a JSON document and a JSON Lines file)", n)
	}
}

func TestEncodeIDs(t *testing.T) {
	req := otlp.Encode(handTrace())
	spans := req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()
	seen := map[string]bool{}
	for _, sp := range spans {
		if len(sp.GetTraceId()) != 16 || len(sp.GetSpanId()) != 8 {
			t.Errorf("span %q: trace id %d bytes, span id %d bytes; want 16 and 8", sp.GetName(), len(sp.GetTraceId()), len(sp.GetSpanId()))
		}
		if seen[string(sp.GetSpanId())] {
			t.Errorf("span id %x used twice", sp.GetSpanId())
		}
		seen[string(sp.GetSpanId())] = true
	}
	// The handoff encloses the sub-agent's steps up to the return.
	byName := map[string][]byte{}
	for _, sp := range spans {
		byName[sp.GetName()] = sp.GetSpanId()
	}
	h := byName["invoke_agent billing"]
	if h == nil {
		t.Fatalf("no invoke_agent span for the handoff; spans: %v", keys(byName))
	}
	for _, sp := range spans {
		switch sp.GetName() {
		case "retrieval", "agent return billing":
			if !bytes.Equal(sp.GetParentSpanId(), h) {
				t.Errorf("span %q parent %x, want the invoke_agent span %x", sp.GetName(), sp.GetParentSpanId(), h)
			}
		case "final answer", "chat":
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
