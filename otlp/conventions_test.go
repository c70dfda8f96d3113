package otlp_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// value converts plain Go values to OTLP attribute values.
func value(v any) *commonpb.AnyValue {
	switch x := v.(type) {
	case string:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}
	case int:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(x)}}
	case float64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
	case []any:
		var vals []*commonpb.AnyValue
		for _, e := range x {
			vals = append(vals, value(e))
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	case map[string]any:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvList(x)}}}
	}
	panic("value: unsupported type")
}

func kvList(m map[string]any) []*commonpb.KeyValue {
	var out []*commonpb.KeyValue
	for k, v := range m {
		out = append(out, &commonpb.KeyValue{Key: k, Value: value(v)})
	}
	return out
}

type event struct {
	name  string
	attrs map[string]any
}

// oneSpanFile is an OTLP/JSON file (protojson's base64 ids, which Read also
// accepts) holding a single span.
func oneSpanFile(t *testing.T, attrs map[string]any, events ...event) []byte {
	t.Helper()
	sp := &tracepb.Span{TraceId: []byte("0123456789abcdef"), SpanId: []byte("spanid01"), Name: "s", StartTimeUnixNano: 1, EndTimeUnixNano: 2, Attributes: kvList(attrs)}
	for _, e := range events {
		sp.Events = append(sp.Events, &tracepb.Span_Event{Name: e.name, Attributes: kvList(e.attrs)})
	}
	req := &coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sp}}}}}}
	b, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// brief is what a test cares about in a step.
type brief struct {
	Kind    probity.Kind
	Actor   string
	Content string
	Tool    string
	Args    string
	Err     bool
}

func briefs(tr *probity.Trace) []brief {
	var out []brief
	for _, s := range tr.Steps {
		b := brief{Kind: s.Kind, Actor: s.Actor, Content: s.Content, Err: s.Error != nil}
		if s.Tool != nil {
			b.Tool = s.Tool.Name + "#" + s.Tool.ID
			b.Args = string(s.Tool.Args) + s.Tool.RawArgs
		}
		out = append(out, b)
	}
	return out
}

// TestConventions covers the less common ways instrumentations record the
// same things, one span each.
func TestConventions(t *testing.T) {
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	tests := []struct {
		name   string
		attrs  map[string]any
		events []event
		want   []brief
	}{
		{
			name: "old OpenAI-shaped messages in gen_ai.input.messages",
			attrs: map[string]any{"gen_ai.operation.name": "chat",
				"gen_ai.input.messages":  js([]any{map[string]any{"role": "user", "content": "hi"}}),
				"gen_ai.output.messages": js([]any{map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"id": "c1", "type": "function", "function": map[string]any{"name": "f", "arguments": `{"a": 1}`}}}}})},
			want: []brief{{Kind: "user", Actor: "user", Content: "hi"}, {Kind: "tool_call", Actor: "assistant", Tool: "f#c1", Args: `{"a":1}`}},
		},
		{
			name:  "tool_call_response with result instead of response",
			attrs: map[string]any{"gen_ai.operation.name": "chat", "gen_ai.input.messages": js([]any{map[string]any{"role": "tool", "parts": []any{map[string]any{"type": "tool_call_response", "id": "c9", "result": "rainy"}}}})},
			want:  []brief{{Kind: "tool_result", Actor: "tool", Content: "rainy", Tool: "#c9"}},
		},
		{
			name:  "plain-text prompt that is not JSON",
			attrs: map[string]any{"gen_ai.operation.name": "text_completion", "gen_ai.input.messages": "complete this", "gen_ai.output.messages": "done"},
			want:  []brief{{Kind: "user", Actor: "user", Content: "complete this"}, {Kind: "assistant", Actor: "assistant", Content: "done"}},
		},
		{
			name:  "Anthropic content blocks in an openllmetry prompt",
			attrs: map[string]any{"llm.request.type": "chat", "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": js([]any{map[string]any{"type": "text", "text": "a"}, map[string]any{"type": "text", "text": "b"}}), "gen_ai.completion.0.content": "ok", "gen_ai.completion.1.content": "second choice, ignored"},
			want:  []brief{{Kind: "user", Actor: "user", Content: "a\nb"}, {Kind: "assistant", Actor: "assistant", Content: "ok"}},
		},
		{
			name:   "legacy gen_ai.content.prompt / completion events",
			attrs:  map[string]any{"gen_ai.system": "openai"},
			events: []event{{"gen_ai.content.prompt", map[string]any{"gen_ai.prompt": js([]any{map[string]any{"role": "system", "content": "be brief"}})}}, {"gen_ai.content.completion", map[string]any{"gen_ai.completion": "brief"}}},
			want:   []brief{{Kind: "system", Actor: "system", Content: "be brief"}, {Kind: "assistant", Actor: "assistant", Content: "brief"}},
		},
		{
			name:   "inference details event",
			attrs:  map[string]any{"gen_ai.operation.name": "chat"},
			events: []event{{"gen_ai.client.inference.operation.details", map[string]any{"gen_ai.input.messages": []any{map[string]any{"role": "user", "parts": []any{map[string]any{"type": "text", "content": "q"}}}}, "gen_ai.output.messages": []any{map[string]any{"role": "assistant", "parts": []any{map[string]any{"type": "text", "content": "a"}}}}}}},
			want:   []brief{{Kind: "user", Actor: "user", Content: "q"}, {Kind: "assistant", Actor: "assistant", Content: "a"}},
		},
		{
			name:   "event bodies in gen_ai.event.content, second choice ignored",
			attrs:  map[string]any{"gen_ai.operation.name": "chat"},
			events: []event{{"gen_ai.user.message", map[string]any{"gen_ai.event.content": js(map[string]any{"content": "x"})}}, {"gen_ai.choice", map[string]any{"index": 1, "message": map[string]any{"content": "no"}}}, {"gen_ai.choice", map[string]any{"index": 0, "message": map[string]any{"content": "yes"}}}},
			want:   []brief{{Kind: "user", Actor: "user", Content: "x"}, {Kind: "assistant", Actor: "assistant", Content: "yes"}},
		},
		{
			name:  "OpenInference completions API and multi-part contents",
			attrs: map[string]any{"openinference.span.kind": "LLM", "llm.prompts.0.prompt.text": "def fib(n):", "llm.choices.0.completion.text": " return n"},
			want:  []brief{{Kind: "user", Actor: "user", Content: "def fib(n):"}, {Kind: "assistant", Actor: "assistant", Content: " return n"}},
		},
		{
			name:  "OpenInference message contents",
			attrs: map[string]any{"openinference.span.kind": "LLM", "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.contents.0.message_content.type": "text", "llm.input_messages.0.message.contents.0.message_content.text": "look", "llm.input_messages.0.message.contents.1.message_content.type": "image", "llm.input_messages.0.message.contents.2.message_content.text": "here"},
			want:  []brief{{Kind: "user", Actor: "user", Content: "look\nhere"}},
		},
		{
			name:  "OpenInference TOOL span with tool.parameters and an error status via error.type",
			attrs: map[string]any{"openinference.span.kind": "TOOL", "tool.name": "calc", "tool.parameters": `{"x": 2}`, "error.type": "ValueError"},
			want:  []brief{{Kind: "tool_call", Actor: "assistant", Tool: "calc#", Args: `{"x":2}`}, {Kind: "tool_result", Actor: "tool", Tool: "calc#", Err: true}},
		},
		{
			name:  "execute_tool with text arguments and structured result",
			attrs: map[string]any{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "shell", "gen_ai.tool.call.arguments": "ls -la", "gen_ai.tool.call.result": map[string]any{"exit": 0}},
			want:  []brief{{Kind: "tool_call", Actor: "assistant", Tool: "shell#", Args: "ls -la"}, {Kind: "tool_result", Actor: "tool", Tool: "shell#", Content: `{"exit":0}`}},
		},
		{
			name:  "top-level agent: its input is the request, its output the answer",
			attrs: map[string]any{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "helper", "input.value": "do it", "output.value": "done"},
			want:  []brief{{Kind: "user", Actor: "user", Content: "do it"}, {Kind: "final", Actor: "helper", Content: "done"}},
		},
		{
			name:  "embeddings and unknown spans yield nothing",
			attrs: map[string]any{"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			traces, err := readAll(t, "c.json", oneSpanFile(t, tt.attrs, tt.events...))
			if err != nil {
				t.Fatal(err)
			}
			if len(traces) != 1 {
				t.Fatalf("%d traces, want 1", len(traces))
			}
			if got := briefs(traces[0]); !cmp.Equal(got, tt.want) {
				t.Errorf("steps (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
}
