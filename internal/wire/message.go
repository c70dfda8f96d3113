// Package wire is the one place that knows the wire formats of the model
// APIs agents call: OpenAI Chat Completions, OpenAI Responses and Anthropic
// Messages. It decodes their requests, responses and server-sent event
// streams (tool calls split across chunks included), decodes tool-call
// arguments, turns messages into Steps, filters the tool calls of a
// response through a decision (the proxy's guard), and holds the small
// HTTP client the product uses to call those APIs (eval targets, judges).
//
// It was internal/chatmsg, which knew messages only; the proxy, the guard,
// the importers and otlp each had their own copy of the rest, and the
// copies disagreed (the proxy dropped Anthropic's is_error). Everything
// that reads or writes these formats goes through here; the official SDKs
// are used only in tests, as the real clients that prove compatibility.
//
// The Step rules, so that every Step points at exactly one source message:
//
//   - every message yields at least one Step, all with Pos.Index = the
//     message's 0-based index in its list;
//   - string content is Part 0; content blocks keep their block index as
//     Part; OpenAI tool_calls follow the content (Part 1..N after string
//     content), so an assistant message with text and three calls yields
//     Parts 0..3;
//   - an assistant message with tool calls and no text yields only the calls.
package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/probity/probity"
)

// Message is one chat message in either dialect. Unknown fields are ignored.
// It encodes back to the same dialect, so a conversation the proxy records
// is read by the importers exactly as the agent sent it.
type Message struct {
	Role         string     `json:"role"`
	Name         string     `json:"name,omitempty"`
	Content      Content    `json:"content,omitzero"`
	ToolCalls    []ToolCall `json:"tool_calls,omitempty"`
	FunctionCall *Function  `json:"function_call,omitempty"`
	ToolCallID   string     `json:"tool_call_id,omitempty"`
}

// ToolCall is an OpenAI tool_calls entry: a function call, or a custom
// tool's free-text call.
type ToolCall struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Function Function `json:"function,omitzero"`
	Custom   *Custom  `json:"custom,omitempty"`
}

// Custom is a custom (free-text) tool call of the Chat API.
type Custom struct {
	Name  string `json:"name"`
	Input string `json:"input"`
}

// NameArgs returns the called tool and its arguments as sent, for a
// function or a custom tool alike.
func (tc *ToolCall) NameArgs() (string, json.RawMessage) {
	if tc.Custom != nil && tc.Function.Name == "" {
		in, _ := json.Marshal(tc.Custom.Input)
		return tc.Custom.Name, in
	}
	return tc.Function.Name, tc.Function.Arguments
}

// Function is an OpenAI function call: arguments are usually a JSON string
// that itself holds JSON, sometimes (other providers) an object.
type Function struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// Content is message content: a string, null, or a list of blocks.
type Content struct {
	Text   string
	Blocks []Block
	// IsBlocks is true when the source gave a list of blocks.
	IsBlocks bool
}

// IsZero reports whether c is absent (no text, no blocks), so that
// encoding leaves the key out.
func (c Content) IsZero() bool { return !c.IsBlocks && c.Text == "" }

// MarshalJSON writes the string or the list of blocks, as it was read.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.IsBlocks {
		if c.Blocks == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(c.Blocks)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON accepts a string, null or an array of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = Content{}
		return nil
	case b[0] == '"':
		c.IsBlocks = false
		// The enclosing decoder has validated b already; unquoting it here
		// saves json.Unmarshal's second validation pass over every message.
		if t, ok := unquote(b); ok {
			c.Text = t
			return nil
		}
		return json.Unmarshal(b, &c.Text)
	case b[0] == '[':
		c.IsBlocks = true
		return json.Unmarshal(b, &c.Blocks)
	case b[0] == '{':
		// A single block where a list was expected (seen in some SDK dumps).
		var blk Block
		if err := json.Unmarshal(b, &blk); err != nil {
			return err
		}
		c.IsBlocks, c.Blocks = true, []Block{blk}
		return nil
	}
	return &json.UnmarshalTypeError{Value: kindName(b[0]), Type: reflect.TypeFor[string]()}
}

// Block is a content block: OpenAI parts (text, image_url, input_text) and
// Anthropic blocks (text, tool_use, tool_result, thinking, image).
type Block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   *Content        `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
}

// PlainText returns the text of c: the string, or the text blocks joined by
// newlines (nested tool_result content included).
func (c *Content) PlainText() string {
	if !c.IsBlocks {
		return c.Text
	}
	var sb strings.Builder
	for i := range c.Blocks {
		t := c.Blocks[i].text()
		if t == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(t)
	}
	return sb.String()
}

func (b *Block) text() string {
	switch b.Type {
	case "text", "input_text", "output_text", "":
		if b.Text != "" {
			return b.Text
		}
		if b.Content != nil {
			return b.Content.PlainText()
		}
	case "tool_result":
		if b.Content != nil {
			return b.Content.PlainText()
		}
	}
	return ""
}

// Converter turns messages into steps. It remembers call ids so that a
// result without a tool name (Anthropic tool_result, OpenAI role "tool"
// without "name") is labelled with the tool that was called.
type Converter struct {
	names map[string]string
}

// Steps appends the steps of message m, the index-th in its list, to out.
// It returns an error for a message without a role.
func (c *Converter) Steps(out []probity.Step, index int, m *Message) ([]probity.Step, error) {
	role := strings.ToLower(m.Role)
	mk := func(part int, kind probity.Kind, actor string) probity.Step {
		return probity.Step{Pos: probity.Position{Index: index, Part: part}, Kind: kind, Actor: actor}
	}
	switch role {
	case "":
		return out, fmt.Errorf("message %d has no role", index)
	case "system", "developer":
		s := mk(0, probity.KindSystem, "system")
		s.Content = m.Content.PlainText()
		return append(out, s), nil
	case "tool", "function":
		s := mk(0, probity.KindToolResult, "tool")
		name := m.Name
		if name == "" {
			name = c.names[m.ToolCallID]
		}
		s.Tool = &probity.ToolCall{ID: m.ToolCallID, Name: name}
		s.Content = m.Content.PlainText()
		return append(out, s), nil
	}

	kind, actor := probity.KindUser, "user"
	if role == "assistant" || role == "model" {
		kind, actor = probity.KindAssistant, "assistant"
	} else if role != "user" {
		actor = role
	}
	if m.Name != "" {
		actor = m.Name
	}
	n0 := len(out)
	next := 1 // the part after the content
	if !m.Content.IsBlocks {
		if m.Content.Text != "" || (len(m.ToolCalls) == 0 && m.FunctionCall == nil) {
			s := mk(0, kind, actor)
			s.Content = m.Content.Text
			out = append(out, s)
		}
	} else {
		next = len(m.Content.Blocks)
		for i := range m.Content.Blocks {
			b := &m.Content.Blocks[i]
			switch b.Type {
			case "tool_use", "server_tool_use":
				s := mk(i, probity.KindToolCall, actor)
				s.Tool = &probity.ToolCall{ID: b.ID, Name: b.Name, Args: compactArgs(b.Input)}
				c.remember(b.ID, b.Name)
				out = append(out, s)
			case "tool_result":
				s := mk(i, probity.KindToolResult, "tool")
				s.Tool = &probity.ToolCall{ID: b.ToolUseID, Name: c.names[b.ToolUseID]}
				if b.Content != nil {
					s.Content = b.Content.PlainText()
				}
				if b.IsError {
					s.Error = &probity.ToolError{}
				}
				out = append(out, s)
			default:
				if t := b.text(); t != "" {
					s := mk(i, kind, actor)
					s.Content = t
					out = append(out, s)
				}
			}
		}
	}
	for i := range m.ToolCalls {
		tc := &m.ToolCalls[i]
		s := mk(next+i, probity.KindToolCall, actor)
		name, args := tc.NameArgs()
		s.Tool = &probity.ToolCall{ID: tc.ID, Name: name}
		s.Tool.Args, s.Tool.RawArgs = DecodeArgs(args)
		c.remember(tc.ID, name)
		out = append(out, s)
	}
	if fc := m.FunctionCall; fc != nil {
		s := mk(next+len(m.ToolCalls), probity.KindToolCall, actor)
		s.Tool = &probity.ToolCall{Name: fc.Name}
		s.Tool.Args, s.Tool.RawArgs = DecodeArgs(fc.Arguments)
		out = append(out, s)
	}
	if len(out) == n0 {
		// Every message yields a step, even an empty one, so positions stay
		// complete.
		out = append(out, mk(0, kind, actor))
	}
	return out, nil
}

func (c *Converter) remember(id, name string) {
	if id == "" {
		return
	}
	if c.names == nil {
		c.names = map[string]string{}
	}
	c.names[id] = name
}

// DecodeArgs turns tool-call arguments as found (an object, a JSON string
// holding JSON, the OpenAI convention, or plain text) into structured
// JSON. An object is kept, a string holding JSON is unwrapped, and a string
// that is not JSON is returned as raw text. JSON is compacted so that the
// same arguments compare equal whoever wrote them.
func DecodeArgs(raw json.RawMessage) (args json.RawMessage, rawText string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, ""
	}
	if raw[0] != '"' {
		return compactArgs(raw), ""
	}
	s, ok := unquote(raw)
	if !ok {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, string(raw)
		}
	}
	return ArgsFromText(s)
}

// ArgsFromText is DecodeArgs for arguments given as text (a span
// attribute, a stream's concatenated fragments): JSON text is structured,
// other text raw, blank text nothing.
func ArgsFromText(s string) (args json.RawMessage, rawText string) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, ""
	}
	if json.Valid([]byte(t)) {
		return compactArgs([]byte(t)), ""
	}
	return nil, s
}

// compactArgs returns raw compacted, or nil for null. The bytes are copied
// so the step does not pin a whole record.
func compactArgs(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if json.Compact(&buf, raw) != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return buf.Bytes()
}

func kindName(c byte) string {
	switch c {
	case 't', 'f':
		return "boolean"
	case '{':
		return "object"
	}
	return "number"
}

// unquote decodes a JSON string literal that is known to be valid. It
// returns false for anything it does not handle, and the caller falls back
// to encoding/json.
func unquote(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	b = b[1 : len(b)-1]
	i := bytes.IndexByte(b, '\\')
	if i < 0 {
		return string(b), true
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:i]...)
	for i < len(b) {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return "", false
		}
		switch b[i+1] {
		case '"', '\\', '/':
			out = append(out, b[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b[i+2:])
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if v, ok := hex4(b[i+2:]); ok {
						r2 = v
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
