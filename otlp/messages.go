package otlp

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/wire"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// message is one chat message in whichever convention it was written.
type message struct {
	role   string // system, user, assistant, tool
	text   string
	calls  []probity.ToolCall // tool calls an assistant message requests
	callID string             // for tool messages: the call answered
	name   string             // for tool messages: the tool's name
}

// rawMessage covers the GenAI schema ({role, parts}) and the older
// OpenAI-shaped bodies ({role, content, tool_calls, tool_call_id}) that
// gen_ai events and several instrumentations write.
type rawMessage struct {
	Role       looseString     `json:"role"`
	Parts      []rawPart       `json:"parts"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []rawOAICall    `json:"tool_calls"`
	ToolCallID looseString     `json:"tool_call_id"`
	ID         looseString     `json:"id"`
	Name       looseString     `json:"name"`
	Message    *rawMessage     `json:"message"` // gen_ai.choice bodies
}

type rawPart struct {
	Type      looseString     `json:"type"`
	Content   json.RawMessage `json:"content"`
	Text      json.RawMessage `json:"text"`
	ID        looseString     `json:"id"`
	Name      looseString     `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Response  json.RawMessage `json:"response"`
	Result    json.RawMessage `json:"result"`
}

type rawOAICall struct {
	ID       looseString `json:"id"`
	Function struct {
		Name      looseString     `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
	Name      looseString     `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

func (r *rawMessage) toMessage(defaultRole string) message {
	if r.Message != nil && len(r.Parts) == 0 && len(r.Content) == 0 {
		m := r.Message.toMessage(defaultRole)
		return m
	}
	m := message{role: strings.ToLower(string(r.Role)), callID: string(r.ToolCallID), name: string(r.Name)}
	if m.role == "" {
		m.role = defaultRole
	}
	if m.callID == "" && m.role == "tool" {
		m.callID = string(r.ID)
	}
	var texts []string
	for _, p := range r.Parts {
		switch string(p.Type) {
		case "text":
			texts = append(texts, textOf(firstRaw(p.Content, p.Text)))
		case "tool_call":
			args, rawArgs := wire.DecodeArgs(p.Arguments)
			m.calls = append(m.calls, probity.ToolCall{ID: string(p.ID), Name: string(p.Name), Args: args, RawArgs: rawArgs})
		case "tool_call_response":
			m.callID = string(p.ID)
			texts = append(texts, textOf(firstRaw(p.Response, p.Result)))
		}
	}
	if len(r.Content) > 0 {
		texts = append(texts, textOf(r.Content))
	}
	for _, c := range r.ToolCalls {
		name, args := c.Function.Name, c.Function.Arguments
		if name == "" {
			name, args = c.Name, c.Arguments
		}
		a, rawArgs := wire.DecodeArgs(args)
		m.calls = append(m.calls, probity.ToolCall{ID: string(c.ID), Name: string(name), Args: a, RawArgs: rawArgs})
	}
	m.text = strings.Join(nonEmpty(texts), "\n")
	return m
}

func firstRaw(rs ...json.RawMessage) json.RawMessage {
	for _, r := range rs {
		if len(bytes.TrimSpace(r)) > 0 {
			return r
		}
	}
	return nil
}

func nonEmpty(ss []string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseMessages reads a list of messages from JSON. Text that is not JSON is
// one message of defaultRole, so a plain-string prompt is not lost.
func parseMessages(raw json.RawMessage, defaultRole string) []message {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '[':
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil
		}
		var out []message
		for _, e := range list {
			out = append(out, parseMessages(e, defaultRole)...)
		}
		return out
	case '{':
		var r rawMessage
		if json.Unmarshal(raw, &r) != nil {
			return nil
		}
		return []message{r.toMessage(defaultRole)}
	case '"':
		if t := textOf(raw); t != "" {
			return []message{{role: defaultRole, text: t}}
		}
	}
	return nil
}

// messagesAttr reads a GenAI messages attribute (JSON text or structured).
func messagesAttr(a attrs, key, defaultRole string) []message {
	v := a[key]
	if v == nil {
		return nil
	}
	if raw, ok := a.json(key); ok {
		return parseMessages(raw, defaultRole)
	}
	if t := valueText(v); t != "" {
		return []message{{role: defaultRole, text: t}}
	}
	return nil
}

// systemInstructions reads gen_ai.system_instructions: a list of parts.
func systemInstructions(a attrs) []message {
	raw, ok := a.json("gen_ai.system_instructions")
	if !ok {
		if t := a.str("gen_ai.system_instructions"); t != "" {
			return []message{{role: "system", text: t}}
		}
		return nil
	}
	var parts []rawPart
	if json.Unmarshal(raw, &parts) == nil {
		m := (&rawMessage{Role: "system", Parts: parts}).toMessage("system")
		if m.text == "" {
			return nil
		}
		return []message{m}
	}
	return parseMessages(raw, "system")
}

// flatMessages reads openllmetry's gen_ai.prompt.N.* / gen_ai.completion.N.*
// (and OpenInference's llm.input_messages.N.message.* with msgPrefix
// "message.").
func flatMessages(a attrs, prefix, msgPrefix, defaultRole string) []message {
	var out []message
	for _, g := range a.indexed(prefix) {
		m := message{role: strings.ToLower(g.str(msgPrefix + "role"))}
		if m.role == "" {
			m.role = defaultRole
		}
		m.text = g.str(msgPrefix + "content")
		if m.text != "" {
			if t := strings.TrimSpace(m.text); strings.HasPrefix(t, "[{") {
				if s, ok := blocksText(json.RawMessage(t)); ok {
					m.text = s
				}
			}
		}
		if m.text == "" {
			var texts []string
			for _, c := range g.indexed(msgPrefix + "contents") {
				texts = append(texts, c.first("message_content.text"))
			}
			m.text = strings.Join(nonEmpty(texts), "\n")
		}
		m.callID = g.str(msgPrefix + "tool_call_id")
		m.name = g.str(msgPrefix + "name")
		for _, c := range g.indexed(msgPrefix + "tool_calls") {
			name := c.first("tool_call.function.name", "name")
			args, rawArgs := wire.ArgsFromText(c.first("tool_call.function.arguments", "arguments"))
			if v, ok := c.json("tool_call.function.arguments"); ok && c["tool_call.function.arguments"].GetStringValue() == "" {
				args, rawArgs = wire.DecodeArgs(v)
			}
			m.calls = append(m.calls, probity.ToolCall{ID: c.first("tool_call.id", "id"), Name: name, Args: args, RawArgs: rawArgs})
		}
		if fn := g.str(msgPrefix + "function_call.name"); fn != "" && len(m.calls) == 0 {
			args, rawArgs := wire.ArgsFromText(g.str(msgPrefix + "function_call.arguments"))
			m.calls = append(m.calls, probity.ToolCall{Name: fn, Args: args, RawArgs: rawArgs})
		}
		if fn := g.str(msgPrefix + "function_call_name"); fn != "" && len(m.calls) == 0 {
			args, rawArgs := wire.ArgsFromText(g.str(msgPrefix + "function_call_arguments_json"))
			m.calls = append(m.calls, probity.ToolCall{Name: fn, Args: args, RawArgs: rawArgs})
		}
		out = append(out, m)
	}
	return out
}

// eventMessages reads the GenAI message events (gen_ai.user.message,
// gen_ai.choice, ...) of a span into input and output messages.
func eventMessages(events []*tracepb.Span_Event) (in, out []message) {
	for _, ev := range events {
		a := attrMap(ev.GetAttributes())
		name := ev.GetName()
		switch name {
		case "gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message":
			role := strings.TrimSuffix(strings.TrimPrefix(name, "gen_ai."), ".message")
			in = append(in, eventBody(a, role)...)
		case "gen_ai.choice":
			if ms := eventBody(a, "assistant"); len(ms) > 0 {
				if idx, ok := a.int("index"); !ok || idx == 0 {
					out = append(out, ms[0])
				}
			}
		case "gen_ai.content.prompt":
			in = append(in, messagesAttr(a, "gen_ai.prompt", "user")...)
		case "gen_ai.content.completion":
			out = append(out, messagesAttr(a, "gen_ai.completion", "assistant")...)
		case "gen_ai.client.inference.operation.details":
			in = append(in, systemInstructions(a)...)
			in = append(in, messagesAttr(a, "gen_ai.input.messages", "user")...)
			out = append(out, messagesAttr(a, "gen_ai.output.messages", "assistant")...)
		}
	}
	return in, out
}

// eventBody reads a message event's body, given as attributes (content,
// tool_calls, id, message) or as one JSON attribute gen_ai.event.content.
func eventBody(a attrs, role string) []message {
	if raw, ok := a.json("gen_ai.event.content"); ok {
		return parseMessages(raw, role)
	}
	body := map[string]any{}
	for k, v := range a {
		body[k] = valueGo(v, 0)
	}
	for _, k := range []string{"content", "message"} {
		if s, ok := body[k].(string); ok {
			if t := strings.TrimSpace(s); (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Valid([]byte(t)) {
				if k == "message" {
					body[k] = json.RawMessage(t)
				}
			}
		}
	}
	if s, ok := body["tool_calls"].(string); ok && json.Valid([]byte(s)) {
		body["tool_calls"] = json.RawMessage(s)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil
	}
	return parseMessages(b, role)
}

// anyString is a convenience for building string attributes.
func anyString(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}
