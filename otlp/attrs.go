package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/probity/probity/internal/jsonx"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// idText returns the lower-case hex text of an OTLP id decoded by protojson.
// want is the id's length in bytes (16 for traces, 8 for spans). An id of
// want*3/2 bytes is the spec's hex text read as base64 (see the package
// doc): re-encoding it as base64 gives the hex text back.
func idText(b []byte, want int) (string, error) {
	switch len(b) {
	case 0:
		return "", nil
	case want:
		return hex.EncodeToString(b), nil
	case want * 3 / 2:
		s := base64.StdEncoding.EncodeToString(b)
		if _, err := hex.DecodeString(s); err == nil {
			return strings.ToLower(s), nil
		}
	}
	return "", fmt.Errorf("id must be %d hex digits", 2*want)
}

// hexAsBase64 returns the bytes whose base64 encoding is the hex text of id:
// protojson then writes the spec's hex form.
func hexAsBase64(id []byte) []byte {
	if len(id) == 0 {
		return nil
	}
	b, _ := base64.StdEncoding.DecodeString(hex.EncodeToString(id))
	return b
}

// spanRec is one span as read, with its ids as hex text and its attributes
// in a map (last value wins, as OTLP says keys are unique).
type spanRec struct {
	ord    int // 0-based ordinal in the file
	line   int // 1-based line of its JSON Lines record, or 0
	trace  string
	id     string
	parent string
	sp     *tracepb.Span
	attrs  attrs
	res    attrs
}

func newSpanRec(sp *tracepb.Span, ord, line int, res attrs) (*spanRec, error) {
	tid, err := idText(sp.GetTraceId(), 16)
	if err != nil {
		return nil, fmt.Errorf("traceId: %w", err)
	}
	if tid == "" {
		return nil, errors.New("traceId: missing")
	}
	sid, err := idText(sp.GetSpanId(), 8)
	if err != nil {
		return nil, fmt.Errorf("spanId: %w", err)
	}
	if sid == "" {
		return nil, errors.New("spanId: missing")
	}
	pid, err := idText(sp.GetParentSpanId(), 8)
	if err != nil {
		return nil, fmt.Errorf("parentSpanId: %w", err)
	}
	return &spanRec{ord: ord, line: line, trace: tid, id: sid, parent: pid, sp: sp, attrs: attrMap(sp.GetAttributes()), res: res}, nil
}

func (s *spanRec) start() time.Time { return unixNano(s.sp.GetStartTimeUnixNano()) }
func (s *spanRec) end() time.Time   { return unixNano(s.sp.GetEndTimeUnixNano()) }

func unixNano(n uint64) time.Time {
	if n == 0 || n > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

// attrs is a set of attributes by key.
type attrs map[string]*commonpb.AnyValue

func attrMap(kvs []*commonpb.KeyValue) attrs {
	m := make(attrs, len(kvs))
	for _, kv := range kvs {
		if kv.GetValue() != nil {
			m[kv.GetKey()] = kv.GetValue()
		}
	}
	return m
}

func (a attrs) has(key string) bool { return a[key] != nil }

// str returns the attribute as text: strings as they are, numbers and
// booleans formatted, structured values as JSON.
func (a attrs) str(key string) string { return valueText(a[key]) }

// first returns the first of keys that is present, as text.
func (a attrs) first(keys ...string) string {
	for _, k := range keys {
		if v := a[k]; v != nil {
			if s := valueText(v); s != "" {
				return s
			}
		}
	}
	return ""
}

func (a attrs) int(key string) (int64, bool) {
	v := a[key]
	if v == nil {
		return 0, false
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_IntValue:
		return x.IntValue, true
	case *commonpb.AnyValue_DoubleValue:
		if f := x.DoubleValue; !math.IsNaN(f) && !math.IsInf(f, 0) && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
	case *commonpb.AnyValue_StringValue:
		if n, err := strconv.ParseInt(strings.TrimSpace(x.StringValue), 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// float returns a finite number; NaN and infinities count as absent so they
// never reach JSON output, which cannot hold them.
func (a attrs) float(key string) (float64, bool) {
	v := a[key]
	if v == nil {
		return 0, false
	}
	var f float64
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_DoubleValue:
		f = x.DoubleValue
	case *commonpb.AnyValue_IntValue:
		f = float64(x.IntValue)
	case *commonpb.AnyValue_StringValue:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x.StringValue), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func (a attrs) bool(key string) (bool, bool) {
	v := a[key]
	if v == nil {
		return false, false
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue, true
	case *commonpb.AnyValue_StringValue:
		b, err := strconv.ParseBool(x.StringValue)
		return b, err == nil
	}
	return false, false
}

// json returns a structured attribute as JSON: a string attribute that holds
// valid JSON as that JSON, a structured value marshalled.
func (a attrs) json(key string) (json.RawMessage, bool) {
	v := a[key]
	if v == nil {
		return nil, false
	}
	if s, ok := v.GetValue().(*commonpb.AnyValue_StringValue); ok {
		b := []byte(strings.TrimSpace(s.StringValue))
		if json.Valid(b) {
			return b, true
		}
		return nil, false
	}
	b, err := json.Marshal(valueGo(v, 0))
	if err != nil {
		return nil, false
	}
	return b, true
}

// valueText formats v as text (see attrs.str).
func valueText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case nil:
		return ""
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	}
	b, err := json.Marshal(valueGo(v, 0))
	if err != nil {
		return ""
	}
	return string(b)
}

// valueGo converts v to plain Go values for encoding/json. Non-finite
// numbers become strings; depth is bounded.
func valueGo(v *commonpb.AnyValue, depth int) any {
	if depth > maxDepth {
		return nil
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
		}
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, valueGo(e, depth+1))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		out := make(map[string]any, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			out[kv.GetKey()] = valueGo(kv.GetValue(), depth+1)
		}
		return out
	}
	return nil
}

// indexed groups flattened list attributes prefix.N.rest (openllmetry's
// gen_ai.prompt.0.role, OpenInference's llm.input_messages.0.message.role)
// by N, in ascending order of N; each group maps rest to its value.
func (a attrs) indexed(prefix string) []attrs {
	p := prefix + "."
	groups := map[int]attrs{}
	for k, v := range a {
		if !strings.HasPrefix(k, p) {
			continue
		}
		num, rest, ok := strings.Cut(k[len(p):], ".")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 || n > 1<<20 {
			continue
		}
		g := groups[n]
		if g == nil {
			g = attrs{}
			groups[n] = g
		}
		g[rest] = v
	}
	if len(groups) == 0 {
		return nil
	}
	keys := make([]int, 0, len(groups))
	for n := range groups {
		keys = append(keys, n)
	}
	sort.Ints(keys)
	out := make([]attrs, len(keys))
	for i, n := range keys {
		out[i] = groups[n]
	}
	return out
}

// textOf returns the text of a JSON value: a string's content, "" for null,
// the compact JSON of anything else.
func textOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == '"' || string(raw) == "null" {
		return jsonx.Scalar(raw)
	}
	if raw[0] == '[' {
		// Content given as a list of blocks ([{"type":"text","text":...}]):
		// join the text.
		if s, ok := blocksText(raw); ok {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// blocksText joins the text of a list of content blocks, as Anthropic and
// OpenAI multi-part contents write them.
func blocksText(raw json.RawMessage) (string, bool) {
	var blocks []struct {
		Type    string          `json:"type"`
		Text    *string         `json:"text"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &blocks) != nil || len(blocks) == 0 {
		return "", false
	}
	var parts []string
	for _, b := range blocks {
		if b.Type == "" {
			return "", false
		}
		switch {
		case b.Text != nil:
			parts = append(parts, *b.Text)
		case b.Type == "text" && len(b.Content) > 0:
			parts = append(parts, textOf(b.Content))
		}
	}
	return strings.Join(parts, "\n"), true
}

// looseString accepts a JSON string, number or null, because ids in the wild
// come as either.
type looseString string

func (l *looseString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = looseString(s)
		return nil
	}
	*l = looseString(b)
	return nil
}
