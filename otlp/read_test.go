package otlp_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/otlp"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		head string
		want bool
	}{
		{`{"resourceSpans":[]}`, true},
		{"\xef\xbb\xbf \n {\n  \"resourceSpans\": [", true},
		{`{"resource_spans":[]}`, true},
		{`{"resourceLogs":[]}`, false},
		{`[{"task_id": 1}]`, false},
		{`{"messages":[{"role":"user"}],"resourceSpans":[]}`, false},
		{``, false},
		{"\x00\x01\x02", false},
	}
	for _, tt := range tests {
		if got := otlp.Sniff([]byte(tt.head)); got != tt.want {
			t.Errorf("Sniff(%q) = %v, want %v", tt.head, got, tt.want)
		}
	}
}

const oneSpan = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"TRACE","spanId":"SPAN","name":"chat","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.output.messages","value":{"stringValue":"[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"hi\"}]}]"}}]}]}]}]}`

func spanFile(traceID, spanID string) string {
	return strings.NewReplacer("TRACE", traceID, "SPAN", spanID).Replace(oneSpan)
}

// TestIDs checks both id encodings: the spec's hex and the protobuf JSON
// mapping's base64 that some exporters write.
func TestIDs(t *testing.T) {
	tid, sid := "5b8aa5a2d2c872e8321cf37308d69df2", "a1b2c3d400000001"
	tb, _ := hex.DecodeString(tid)
	sb, _ := hex.DecodeString(sid)
	tests := []struct{ name, trace, span string }{
		{"hex", tid, sid},
		{"upper-case hex", strings.ToUpper(tid), strings.ToUpper(sid)},
		{"base64", base64.StdEncoding.EncodeToString(tb), base64.StdEncoding.EncodeToString(sb)},
	}
	for _, tt := range tests {
		got, err := readAll(t, "ids.json", []byte(spanFile(tt.trace, tt.span)))
		if err != nil {
			t.Errorf("%s: Read: %v", tt.name, err)
			continue
		}
		if len(got) != 1 || got[0].ID != tid || got[0].Steps[0].Pos.SpanID != sid || got[0].Steps[0].ID != sid {
			t.Errorf("%s: trace %q span %q, want %q %q", tt.name, got[0].ID, got[0].Steps[0].Pos.SpanID, tid, sid)
		}
	}
}

// TestBadInput feeds malformed files: each gives a *probity.Error with code
// EINVALID that names the file and where, never a panic or a hang.
func TestBadInput(t *testing.T) {
	deep := strings.Repeat(`{"kvlistValue":{"values":[{"key":"k","value":`, 200) + `{"stringValue":"x"}` + strings.Repeat(`}]}}`, 200)
	deepAttr := strings.Replace(oneSpan, `{"stringValue":"chat"}`, deep, 1)
	cyclic := `{"resourceSpans":[{"scopeSpans":[{"spans":[
{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00000000000000a1","parentSpanId":"00000000000000c3","name":"a"},
{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00000000000000b2","parentSpanId":"00000000000000a1","name":"b"},
{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00000000000000c3","parentSpanId":"00000000000000b2","name":"c"}]}]}]}`
	self := strings.Replace(spanFile("0af7651916cd43dd8448eb211c80319c", "00000000000000a1"), `"name"`, `"parentSpanId":"00000000000000a1","name"`, 1)
	good := spanFile("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
	tests := []struct {
		name, data, where, msg string
	}{
		{"empty", "", "", "empty file"},
		{"whitespace", " \n\t\n", "", "empty file"},
		{"truncated", good[:len(good)/2], "line 1, offset 0", "truncated JSON record"},
		{"second record truncated", good + "\n" + good[:40], "line 2, offset", "truncated JSON record"},
		{"bad byte", good[:30] + "\x01" + good[31:], "line 1, offset 30", "malformed JSON"},
		{"not an object", `[1,2,3]`, "line 1 (record 1)", "want a JSON object"},
		{"wrong type", `{"resourceSpans": "nope"}`, "line 1 (record 1)", "not an OTLP/JSON"},
		{"binary", "\x00\x01\x02\x03", "line 1, offset 0", "malformed JSON"},
		{"invalid UTF-8", strings.Replace(good, `"chat"`, "\"ch\xffat\"", 1), "line 1 (record 1)", "not an OTLP/JSON"},
		{"short span id", spanFile("0af7651916cd43dd8448eb211c80319c", "b7ad6b71"), "span 0", "spanId: id must be 16 hex digits"},
		{"no trace id", spanFile("", "b7ad6b7169203331"), "span 0", "traceId: missing"},
		{"not hex", spanFile("0af7651916cd43dd8448eb211c80319z", "b7ad6b7169203331"), "span 0", "traceId: id must be 32 hex digits"},
		{"not base64 either", spanFile("0af7651916cd43dd8448eb211c80319c", "b7ad6b71692033!!"), "line 1 (record 1)", "not an OTLP/JSON"},
		{"cyclic parents", cyclic, "span ", "cyclic span parents in trace 0af7651916cd43dd8448eb211c80319c: 00000000000000a1 → 00000000000000c3 → 00000000000000b2 → 00000000000000a1"},
		{"own parent", self, "span 0", "cyclic span parents"},
		{"deep nesting", deepAttr, "line 1 (record 1)", "not an OTLP/JSON"},
		{"bad probity kind", strings.Replace(good, `"attributes":[`, `"attributes":[{"key":"probity.step.kind","value":{"stringValue":"dance"}},`, 1), "span 0", `unknown probity.step.kind "dance"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, "bad.otlp.json", []byte(tt.data))
			var pe *probity.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Read(%s) = %v, want a *probity.Error", tt.name, err)
			}
			if pe.Code != probity.EINVALID || pe.File != "bad.otlp.json" || !strings.Contains(pe.Where, tt.where) || !strings.Contains(pe.Error(), tt.msg) {
				t.Errorf("Read(%s) = code %s file %q where %q: %v; want EINVALID bad.otlp.json, where ~ %q, message ~ %q", tt.name, pe.Code, pe.File, pe.Where, err, tt.where, tt.msg)
			}
		})
	}
}

// TestNonFinite: NaN and infinite numbers (which protojson accepts as
// "NaN") never reach the model, whose JSON could not hold them.
func TestNonFinite(t *testing.T) {
	data := strings.Replace(oneSpan, `"attributes":[`, `"attributes":[{"key":"gen_ai.request.temperature","value":{"doubleValue":"NaN"}},{"key":"gen_ai.usage.input_tokens","value":{"doubleValue":"Infinity"}},{"key":"gen_ai.request.model","value":{"stringValue":"m"}},`, 1)
	got, err := readAll(t, "nan.json", []byte(strings.NewReplacer("TRACE", "0af7651916cd43dd8448eb211c80319c", "SPAN", "b7ad6b7169203331").Replace(data)))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	m := got[0].Steps[0].Model
	if m == nil || m.Name != "m" || m.Temperature != nil || m.InputTokens != 0 {
		t.Errorf("model = %+v, want name m and no temperature or tokens", m)
	}
}

// TestEndlessInput: a reader that never ends stops at MaxFileBytes or when
// the context ends, without hanging.
func TestEndlessInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := otlp.Read(ctx, "/dev/zero", endless{}, func(*probity.Trace) error { return nil })
	if err == nil {
		t.Fatal("Read(endless) = nil, want an error")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Read(endless) took %v", d)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestJSONLines: the collector's file exporter writes one request per
// line; spans of one trace may be spread over several lines, and steps
// carry their line.
func TestJSONLines(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "openinference.otlp.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, "oi.jsonl", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d traces, want 1 (both lines hold spans of the same trace)", len(got))
	}
	lines := map[int]bool{}
	for _, s := range got[0].Steps {
		lines[s.Pos.Line] = true
	}
	if !lines[1] || !lines[2] || len(lines) != 2 {
		t.Errorf("step lines %v, want 1 and 2", lines)
	}
}

// TestEmitError: an error from emit stops Read and is returned as is.
func TestEmitError(t *testing.T) {
	stop := errors.New("stop")
	data, err := os.ReadFile(filepath.Join("testdata", "genai.otlp.json"))
	if err != nil {
		t.Fatal(err)
	}
	err = otlp.Read(context.Background(), "x", strings.NewReader(string(data)), func(*probity.Trace) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("Read = %v, want the emit error", err)
	}
}
