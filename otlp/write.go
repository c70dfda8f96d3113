package otlp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/probity/probity"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Attributes Probity writes so that Read restores a trace exactly. The
// conventional GenAI attributes carry the content; these carry what the
// conventions have no place for.
const (
	attrSpan     = "probity.span" // "trace" on the root span of an exported trace
	attrKind     = "probity.step.kind"
	attrActor    = "probity.step.actor"
	attrStepID   = "probity.step.id"
	attrParentID = "probity.step.parent_id"
	attrStart    = "probity.step.start" // the step's own time when the span's differs
	attrEnd      = "probity.step.end"
	attrUntimed  = "probity.step.untimed" // the step had no time; the span's is made up
	attrHasTool  = "probity.step.tool"
	attrModel    = "probity.step.model" // a Model with no field set
	attrRawArgs  = "probity.tool.raw_args"
	attrIndex    = "probity.source.index" // the ORIGINAL position of the step
	attrPart     = "probity.source.part"
	attrLine     = "probity.source.line"
	attrSpanID   = "probity.source.span_id"
	attrTraceID  = "probity.trace.id"
	attrSource   = "probity.source"
	attrFormat   = "probity.format"
	attrTask     = "probity.task"
	attrClock    = "probity.clock"
	attrExpected = "probity.expected"
	// attrExpectedOutputs keeps Trace.ExpectedOutputs, a string array.
	attrExpectedOutputs = "probity.expected_outputs"
	prefixLabels        = "probity.labels."
	prefixMeta          = "probity.meta."
)

// ScopeName is the instrumentation scope of exported spans.
const ScopeName = "github.com/probity/probity/otlp"

// syntheticBase is the clock of exported traces that record no time at all:
// spans need timestamps, and a fixed base keeps the output stable.
var syntheticBase = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Encode converts traces to an ExportTraceServiceRequest with one
// ResourceSpans per trace. Its ids are real 16- and 8-byte ids, ready for
// OTLP/gRPC or protobuf; use Write for OTLP/JSON.
func Encode(traces ...*probity.Trace) *coltrace.ExportTraceServiceRequest {
	req := &coltrace.ExportTraceServiceRequest{}
	used := map[string]bool{}
	for _, t := range traces {
		if t != nil {
			req.ResourceSpans = append(req.ResourceSpans, encodeTrace(t, used))
		}
	}
	return req
}

// Write writes traces to w as one OTLP/JSON ExportTraceServiceRequest on a
// single line, with ids in hex as the OTLP/JSON specification requires.
func Write(w io.Writer, traces ...*probity.Trace) error {
	ew := NewWriter(w)
	for _, t := range traces {
		if err := ew.Write(t); err != nil {
			return err
		}
	}
	return ew.Close()
}

// Writer streams traces into one OTLP/JSON ExportTraceServiceRequest, one
// ResourceSpans at a time, so converting many traces needs memory for one.
// The output is a single line: it is both a JSON document and a valid
// JSON Lines file, as the OpenTelemetry Collector's file receiver reads.
type Writer struct {
	w    io.Writer
	n    int
	err  error
	used map[string]bool // trace ids written, so two traces never share one
}

// NewWriter returns a Writer that writes to w. Call Close to finish the
// document.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, used: map[string]bool{}} }

var jsonOpts = protojson.MarshalOptions{UseEnumNumbers: true} // the spec wants enums as integers

// Write appends one trace.
func (ew *Writer) Write(t *probity.Trace) error {
	if ew.err != nil {
		return ew.err
	}
	if t == nil {
		return nil
	}
	rs := encodeTrace(t, ew.used)
	for _, ss := range rs.ScopeSpans {
		for _, sp := range ss.Spans {
			sp.TraceId = hexAsBase64(sp.TraceId)
			sp.SpanId = hexAsBase64(sp.SpanId)
			sp.ParentSpanId = hexAsBase64(sp.ParentSpanId)
		}
	}
	b, err := jsonOpts.Marshal(rs)
	if err != nil {
		ew.err = fmt.Errorf("encode otlp: %w", err)
		return ew.err
	}
	// protojson varies its whitespace on purpose; compacting makes the
	// output byte-stable.
	var buf bytes.Buffer
	if ew.n == 0 {
		buf.WriteString(`{"resourceSpans":[`)
	} else {
		buf.WriteByte(',')
	}
	if err := json.Compact(&buf, b); err != nil {
		ew.err = fmt.Errorf("encode otlp: %w", err)
		return ew.err
	}
	ew.n++
	_, ew.err = ew.w.Write(buf.Bytes())
	return ew.err
}

// Close ends the document. It writes an empty request when no trace was
// written.
func (ew *Writer) Close() error {
	if ew.err != nil {
		return ew.err
	}
	s := "]}\n"
	if ew.n == 0 {
		s = `{"resourceSpans":[]}` + "\n"
	}
	_, ew.err = io.WriteString(ew.w, s)
	if ew.err == nil {
		ew.err = errors.New("otlp: writer closed")
		return nil
	}
	return ew.err
}

// traceIDFor returns t's OTLP trace id: its own when it is one (an OTLP
// trace keeps its id), else one derived from its source and id. used holds
// the ids already written; two traces never share one, or reading the file
// back would merge them.
func traceIDFor(t *probity.Trace, used map[string]bool) []byte {
	var id []byte
	if b, err := hex.DecodeString(t.ID); err == nil && len(b) == 16 && !allZero(b) && strings.ToLower(t.ID) == t.ID {
		id = b
	}
	for n := 0; id == nil || used[string(id)]; n++ {
		seed := "probity.trace\x00" + originalSource(t) + "\x00" + t.ID
		if n > 0 {
			seed += fmt.Sprintf("\x00%d", n)
		}
		h := sha256.Sum256([]byte(seed))
		id = h[:16]
	}
	used[string(id)] = true
	return id
}

// originalSource is the file t was first read from: its own Source, or
// the one a conversion recorded in Meta.
func originalSource(t *probity.Trace) string {
	if v := t.Meta[MetaOriginalSource]; v != "" {
		return v
	}
	return t.Source
}

func spanIDFor(tid []byte, label string) []byte {
	h := sha256.Sum256(append(append([]byte{}, tid...), label...))
	id := h[:8]
	if allZero(id) {
		id[7] = 1
	}
	return id
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

// kvs writes a string attribute. protojson refuses invalid UTF-8, so bad
// bytes (from a broken source) become U+FFFD rather than failing the export.
func kvs(k, v string) *commonpb.KeyValue { return kv(k, anyString(strings.ToValidUTF8(v, "\uFFFD"))) }
func kvi(k string, v int64) *commonpb.KeyValue {
	return kv(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}})
}
func kvf(k string, v float64) *commonpb.KeyValue {
	return kv(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}})
}
func kvb(k string, v bool) *commonpb.KeyValue {
	return kv(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}})
}

func nanos(t time.Time) uint64 {
	if t.IsZero() || t.UnixNano() < 0 {
		return 0
	}
	return uint64(t.UnixNano())
}

// encodable reports whether t fits OTLP's unsigned nanoseconds since 1970
// (and Go's int64 nanoseconds, which end in 2262).
func encodable(t time.Time) bool {
	return !t.IsZero() && t.Year() >= 1970 && t.Year() < 2262
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// jsonText marshals v without HTML escaping, so content stays readable.
func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

type outPart struct {
	Type      string          `json:"type"`
	Content   *string         `json:"content,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

type outMessage struct {
	Role         string    `json:"role"`
	Parts        []outPart `json:"parts"`
	FinishReason string    `json:"finish_reason,omitempty"`
}

func textPart(s string) outPart { return outPart{Type: "text", Content: &s} }

func encodeTrace(t *probity.Trace, used map[string]bool) *tracepb.ResourceSpans {
	tid := traceIDFor(t, used)
	service := "probity"
	if svc := t.Meta["service.name"]; svc != "" {
		service = svc // an OTLP trace keeps its service in Jaeger and Tempo
	}
	// A trace that was itself read from a conversion keeps naming the file
	// it was first read from, however many conversions it goes through.
	source, format := originalSource(t), t.Format
	if v := t.Meta[MetaOriginalFormat]; v != "" {
		format = v
	}
	res := []*commonpb.KeyValue{kvs("service.name", service), kvs(attrTraceID, t.ID), kvs(attrSource, source), kvs(attrFormat, format)}
	if t.Task != "" {
		res = append(res, kvs(attrTask, t.Task))
	}
	if !t.Clock.IsZero() {
		res = append(res, kvs(attrClock, timeText(t.Clock)))
	}
	res = append(res, labelAttrs(t.Labels)...)
	if len(t.Expected) > 0 {
		var vals []*commonpb.AnyValue
		for _, c := range t.Expected {
			vals = append(vals, toolCallValue(c))
		}
		res = append(res, kv(attrExpected, &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}))
	}
	if len(t.ExpectedOutputs) > 0 {
		var vals []*commonpb.AnyValue
		for _, o := range t.ExpectedOutputs {
			vals = append(vals, &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: o}})
		}
		res = append(res, kv(attrExpectedOutputs, &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}))
	}
	keys := make([]string, 0, len(t.Meta))
	for k := range t.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == MetaOriginalSource || k == MetaOriginalFormat {
			continue // written as probity.source and probity.format above
		}
		res = append(res, kvs(prefixMeta+k, t.Meta[k]))
	}

	rootID := spanIDFor(tid, "root")
	root := &tracepb.Span{TraceId: tid, SpanId: rootID, Name: "invoke_agent", Kind: tracepb.Span_SPAN_KIND_INTERNAL,
		Attributes: []*commonpb.KeyValue{kvs(attrSpan, "trace"), kvs("gen_ai.operation.name", "invoke_agent"), kvs("openinference.span.kind", "AGENT")}}
	for _, s := range t.Steps {
		if s.Actor != "" && s.Actor != actorUser && s.Actor != actorSystem && s.Actor != actorTool {
			root.Name = "invoke_agent " + s.Actor
			root.Attributes = append(root.Attributes, kvs("gen_ai.agent.name", s.Actor))
			break
		}
	}
	spans := []*tracepb.Span{root}

	base := t.Clock
	for _, s := range t.Steps {
		if encodable(s.Start) {
			base = s.Start
			break
		}
	}
	if !encodable(base) {
		base = syntheticBase
	}
	prev := base
	stack := []*tracepb.Span{root}
	returns := matchReturns(t)
	var lastEnd uint64
	for i := range t.Steps {
		s := &t.Steps[i]
		st, en := s.Start, s.End
		if !encodable(en) {
			en = time.Time{}
		}
		synthetic := !encodable(st)
		switch {
		case synthetic && i > 0:
			st = prev.Add(time.Millisecond)
		case synthetic:
			st = prev
		case st.Before(prev):
			st = prev
		}
		if en.IsZero() || en.Before(st) {
			en = st
			if synthetic {
				en = st.Add(time.Millisecond)
			}
		}
		prev = st
		parent := stack[len(stack)-1]
		sp := &tracepb.Span{TraceId: tid, SpanId: spanIDFor(tid, fmt.Sprintf("step/%d", i)), ParentSpanId: parent.SpanId,
			StartTimeUnixNano: nanos(st), EndTimeUnixNano: nanos(en), Kind: tracepb.Span_SPAN_KIND_INTERNAL}
		sp.Attributes = stepAttrs(t, i, sp, returns)
		switch {
		case s.Start.IsZero() && s.End.IsZero():
			sp.Attributes = append(sp.Attributes, kvb(attrUntimed, true))
		default:
			// The span's times stand for the step's unless they differ.
			if !s.Start.Equal(unixNano(nanos(st))) {
				sp.Attributes = append(sp.Attributes, kvs(attrStart, timeText(s.Start)))
			}
			// A handoff's span grows to enclose the sub-agent's steps, so its
			// own end is always kept.
			if s.Kind == probity.KindHandoff || !s.End.Equal(unixNano(nanos(en))) {
				sp.Attributes = append(sp.Attributes, kvs(attrEnd, timeText(s.End)))
			}
		}
		if s.Error != nil {
			sp.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: s.Error.Message}
		}
		spans = append(spans, sp)
		// Every enclosing span lasts at least as long as what it encloses:
		// the innermost grows now, the outer ones when it is closed.
		top := stack[len(stack)-1]
		top.EndTimeUnixNano = max(top.EndTimeUnixNano, sp.EndTimeUnixNano)
		lastEnd = max(lastEnd, sp.EndTimeUnixNano)
		switch s.Kind {
		case probity.KindHandoff:
			stack = append(stack, sp)
		case probity.KindReturn:
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
				p := stack[len(stack)-1]
				p.EndTimeUnixNano = max(p.EndTimeUnixNano, top.EndTimeUnixNano)
			}
		}
	}
	for k := len(stack) - 1; k > 0; k-- {
		stack[k-1].EndTimeUnixNano = max(stack[k-1].EndTimeUnixNano, stack[k].EndTimeUnixNano)
	}
	root.StartTimeUnixNano = nanos(base)
	if len(spans) > 1 && spans[1].StartTimeUnixNano < root.StartTimeUnixNano {
		root.StartTimeUnixNano = spans[1].StartTimeUnixNano
	}
	root.EndTimeUnixNano = max(lastEnd, root.StartTimeUnixNano)
	return &tracepb.ResourceSpans{
		Resource: &resourcepb.Resource{Attributes: res},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: ScopeName},
			Spans: spans,
		}},
	}
}

func labelAttrs(l probity.Labels) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	if l.Reward != nil {
		out = append(out, kvf(prefixLabels+"reward", *l.Reward))
	}
	if l.Resolved != nil {
		out = append(out, kvb(prefixLabels+"resolved", *l.Resolved))
	}
	if l.ExitStatus != "" {
		out = append(out, kvs(prefixLabels+"exit_status", l.ExitStatus))
	}
	if l.IsCorrect != nil {
		out = append(out, kvb(prefixLabels+"is_correct", *l.IsCorrect))
	}
	if l.MistakeAgent != "" {
		out = append(out, kvs(prefixLabels+"mistake_agent", l.MistakeAgent))
	}
	if l.MistakeStep != nil {
		out = append(out, kvi(prefixLabels+"mistake_step", int64(*l.MistakeStep)))
	}
	if l.MistakeReason != "" {
		out = append(out, kvs(prefixLabels+"mistake_reason", l.MistakeReason))
	}
	if l.GroundTruth != "" {
		out = append(out, kvs(prefixLabels+"ground_truth", l.GroundTruth))
	}
	return out
}

func toolCallValue(c probity.ToolCall) *commonpb.AnyValue {
	var fields []*commonpb.KeyValue
	if c.ID != "" {
		fields = append(fields, kvs("id", c.ID))
	}
	fields = append(fields, kvs("name", c.Name))
	if c.Args != nil {
		fields = append(fields, kvs("arguments", string(c.Args)))
	}
	if c.RawArgs != "" {
		fields = append(fields, kvs("raw_arguments", c.RawArgs))
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: fields}}}
}

// subAgent names the agent a handoff at step i hands to: the actor of its
// matching return (ret[i], from matchReturns), else of the next step when
// someone else wrote it.
func subAgent(t *probity.Trace, i int, ret map[int]int) string {
	if j, ok := ret[i]; ok && t.Steps[j].Actor != "" {
		return t.Steps[j].Actor
	}
	if i+1 < len(t.Steps) {
		if a := t.Steps[i+1].Actor; a != "" && a != t.Steps[i].Actor && a != actorTool && a != actorUser {
			return a
		}
	}
	return "agent"
}

// matchReturns pairs each handoff with the return that closes it.
func matchReturns(t *probity.Trace) map[int]int {
	ret := map[int]int{}
	var open []int
	for i, s := range t.Steps {
		switch s.Kind {
		case probity.KindHandoff:
			open = append(open, i)
		case probity.KindReturn:
			if len(open) > 0 {
				ret[open[len(open)-1]] = i
				open = open[:len(open)-1]
			}
		}
	}
	return ret
}

// stepAttrs returns the attributes of step i's span and names the span.
func stepAttrs(t *probity.Trace, i int, sp *tracepb.Span, returns map[int]int) []*commonpb.KeyValue {
	s := &t.Steps[i]
	a := []*commonpb.KeyValue{kvs(attrKind, string(s.Kind)), kvi(attrIndex, int64(s.Pos.Index))}
	if s.Pos.Part != 0 {
		a = append(a, kvi(attrPart, int64(s.Pos.Part)))
	}
	if s.Pos.Line != 0 {
		a = append(a, kvi(attrLine, int64(s.Pos.Line)))
	}
	if s.Pos.SpanID != "" {
		a = append(a, kvs(attrSpanID, s.Pos.SpanID))
	}
	if s.Actor != "" {
		a = append(a, kvs(attrActor, s.Actor))
	}
	if s.ID != "" {
		a = append(a, kvs(attrStepID, s.ID))
	}
	if s.ParentID != "" {
		a = append(a, kvs(attrParentID, s.ParentID))
	}
	modelName := ""
	if m := s.Model; m != nil {
		if *m == (probity.Model{}) {
			a = append(a, kvb(attrModel, true))
		}
		modelName = m.Name
		if m.Provider != "" {
			a = append(a, kvs("gen_ai.provider.name", m.Provider))
		}
		if m.Name != "" {
			a = append(a, kvs("gen_ai.request.model", m.Name))
		}
		if m.Temperature != nil {
			a = append(a, kvf("gen_ai.request.temperature", *m.Temperature))
		}
		if m.Seed != nil {
			a = append(a, kvi("gen_ai.request.seed", *m.Seed))
		}
		if m.InputTokens != 0 {
			a = append(a, kvi("gen_ai.usage.input_tokens", m.InputTokens))
		}
		if m.OutputTokens != 0 {
			a = append(a, kvi("gen_ai.usage.output_tokens", m.OutputTokens))
		}
		if m.CostUSD != 0 {
			a = append(a, kvf("llm.cost.total", m.CostUSD))
		}
	}
	if c := s.Tool; c != nil {
		a = append(a, kvb(attrHasTool, true))
		if c.Name != "" {
			a = append(a, kvs("gen_ai.tool.name", c.Name))
		}
		if c.ID != "" {
			a = append(a, kvs("gen_ai.tool.call.id", c.ID))
		}
		switch {
		case c.Args != nil:
			a = append(a, kvs("gen_ai.tool.call.arguments", string(c.Args)))
		case c.RawArgs != "":
			a = append(a, kvs("gen_ai.tool.call.arguments", c.RawArgs))
		}
		if c.RawArgs != "" {
			a = append(a, kvs(attrRawArgs, c.RawArgs))
		}
	}
	if s.Error != nil {
		code := s.Error.Code
		if code == "" {
			code = "_OTHER"
		}
		a = append(a, kvs("error.type", code))
	}
	chatName := "chat"
	if modelName != "" {
		chatName += " " + modelName
	}
	switch s.Kind {
	case probity.KindSystem, probity.KindUser:
		sp.Name = string(s.Kind) + " message"
		a = append(a, kvs("gen_ai.input.messages", jsonText([]outMessage{{Role: string(s.Kind), Parts: []outPart{textPart(s.Content)}}})),
			kvs("openinference.span.kind", "CHAIN"))
	case probity.KindAssistant, probity.KindFinal, probity.KindToolCall:
		sp.Name = chatName
		sp.Kind = tracepb.Span_SPAN_KIND_CLIENT
		m := outMessage{Role: "assistant"}
		if s.Content != "" || s.Kind != probity.KindToolCall {
			m.Parts = append(m.Parts, textPart(s.Content))
		}
		if s.Kind == probity.KindToolCall && s.Tool != nil {
			p := outPart{Type: "tool_call", ID: s.Tool.ID, Name: s.Tool.Name, Arguments: s.Tool.Args}
			if p.Arguments == nil && s.Tool.RawArgs != "" {
				p.Arguments, _ = json.Marshal(s.Tool.RawArgs)
			}
			m.Parts = append(m.Parts, p)
			m.FinishReason = "tool_call"
		} else if s.Kind == probity.KindFinal {
			m.FinishReason = "stop"
		}
		if m.Parts == nil {
			m.Parts = []outPart{}
		}
		a = append(a, kvs("gen_ai.operation.name", "chat"), kvs("gen_ai.output.messages", jsonText([]outMessage{m})),
			kvs("openinference.span.kind", "LLM"))
	case probity.KindToolResult:
		name := ""
		if s.Tool != nil {
			name = s.Tool.Name
		}
		sp.Name = strings.TrimSpace("execute_tool " + name)
		a = append(a, kvs("gen_ai.operation.name", "execute_tool"), kvs("gen_ai.tool.call.result", s.Content),
			kvs("openinference.span.kind", "TOOL"))
	case probity.KindRetrieval:
		sp.Name = "retrieval"
		doc := map[string]any{"id": fmt.Sprintf("%s/%d", t.ID, i), "content": s.Content}
		a = append(a, kvs("gen_ai.operation.name", "retrieval"), kvs("gen_ai.retrieval.documents", jsonText([]any{doc})),
			kvs("openinference.span.kind", "RETRIEVER"))
	case probity.KindHandoff:
		to := subAgent(t, i, returns)
		sp.Name = "invoke_agent " + to
		a = append(a, kvs("gen_ai.operation.name", "invoke_agent"), kvs("gen_ai.agent.name", to),
			kvs("input.value", s.Content), kvs("openinference.span.kind", "AGENT"))
	case probity.KindReturn:
		sp.Name = "agent return"
		if s.Actor != "" {
			sp.Name += " " + s.Actor
		}
		a = append(a, kvs("output.value", s.Content), kvs("openinference.span.kind", "CHAIN"))
	default:
		sp.Name = "probity." + string(s.Kind)
	}
	return a
}
