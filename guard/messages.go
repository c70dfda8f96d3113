package guard

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/probity/probity"
)

// Message is one message of a conversation in the OpenAI chat shape, which
// most agent frameworks can produce: a role, text content (a string or a
// list of text parts), the assistant's tool calls, and the id of the call a
// tool message answers.
type Message struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content,omitempty"`
	Name       string          `json:"name,omitempty"`
	ToolCalls  []MessageCall   `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
}

// MessageCall is a tool call inside an assistant message.
type MessageCall struct {
	ID       string `json:"id,omitempty"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// text returns the message's text: a JSON string, or the text parts of a
// list of content parts.
func (m Message) text() (string, error) {
	c := strings.TrimSpace(string(m.Content))
	if c == "" || c == "null" {
		return "", nil
	}
	if c[0] == '"' {
		var s string
		err := json.Unmarshal(m.Content, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return "", fmt.Errorf("content is neither a string nor a list of parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Text != "" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// steps converts message i to trace steps at position i.
func (m Message) steps(i int) ([]probity.Step, error) {
	text, err := m.text()
	if err != nil {
		return nil, probity.Errorf(probity.EINVALID, "messages[%d]: %v", i, err)
	}
	pos := probity.Position{Index: i}
	switch m.Role {
	case "system", "developer":
		return []probity.Step{{Kind: probity.KindSystem, Pos: pos, Content: text}}, nil
	case "user":
		return []probity.Step{{Kind: probity.KindUser, Pos: pos, Content: text}}, nil
	case "tool", "function":
		return []probity.Step{{Kind: probity.KindToolResult, Pos: pos, Content: text,
			Tool: &probity.ToolCall{ID: m.ToolCallID, Name: m.Name}}}, nil
	case "assistant":
		var out []probity.Step
		if strings.TrimSpace(text) != "" {
			out = append(out, probity.Step{Kind: probity.KindAssistant, Pos: pos, Content: text})
		}
		for _, tc := range m.ToolCalls {
			pos.Part = len(out)
			call := &probity.ToolCall{ID: tc.ID, Name: tc.Function.Name}
			if a := strings.TrimSpace(tc.Function.Arguments); a != "" {
				if json.Valid([]byte(a)) {
					call.Args = json.RawMessage(a)
				} else {
					call.RawArgs = a
				}
			}
			out = append(out, probity.Step{Kind: probity.KindToolCall, Pos: pos, Tool: call})
		}
		return out, nil
	}
	return nil, probity.Errorf(probity.EINVALID, "messages[%d]: unknown role %q", i, m.Role)
}

// sync brings the run's history up to date with the client's conversation.
// Clients resend the whole conversation with every call; only messages past
// those already read are appended. A shorter conversation means a new one
// under the same run id, so the history starts again.
func (rs *runState) sync(msgs []Message) error {
	if !rs.external || len(msgs) < rs.messages {
		rs.s = rs.s.Fresh()
		rs.messages, rs.pos, rs.external = 0, 0, true
	}
	var add []probity.Step
	for i := rs.messages; i < len(msgs); i++ {
		st, err := msgs[i].steps(i)
		if err != nil {
			return err
		}
		add = append(add, st...)
	}
	for _, st := range add {
		rs.s.Append(st)
	}
	rs.messages, rs.pos = len(msgs), len(msgs)
	return nil
}
