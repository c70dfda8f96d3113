package proxy

import (
	"bytes"
	"encoding/json"
	"strings"
)

// api names the model API a request path belongs to.
type api int

const (
	apiUnknown   api = iota
	apiChat          // OpenAI Chat Completions (and compatible: Azure, Groq, vLLM, ...)
	apiResponses     // OpenAI Responses
	apiMessages      // Anthropic Messages
)

func apiOf(path string) api {
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return apiChat
	case strings.HasSuffix(path, "/responses"):
		return apiResponses
	case strings.HasSuffix(path, "/messages"):
		return apiMessages
	}
	return apiUnknown
}

// Message is one message of a conversation in OpenAI Chat Completions
// shape, the one shape traces are written in whatever API the agent used.
type Message struct {
	Role       string         `json:"role"`
	Content    *string        `json:"content"`
	Name       string         `json:"name,omitempty"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

func text(s string) *string { return &s }

func newCall(id, name, args string) chatToolCall {
	c := chatToolCall{ID: id, Type: "function"}
	c.Function.Name, c.Function.Arguments = name, args
	return c
}

// requestConversation returns the model and the messages a request sends,
// converted to Chat Completions shape; ok is false for requests that are
// not a known conversational API or not JSON.
func requestConversation(a api, body []byte) (model string, msgs []Message, ok bool) {
	var req map[string]json.RawMessage
	if a == apiUnknown || json.Unmarshal(body, &req) != nil {
		return "", nil, false
	}
	json.Unmarshal(req["model"], &model)
	switch a {
	case apiChat:
		var raw []map[string]json.RawMessage
		if json.Unmarshal(req["messages"], &raw) != nil {
			return model, nil, false
		}
		for _, m := range raw {
			msgs = append(msgs, chatMessage(m))
		}
	case apiMessages:
		if s := contentText(req["system"]); s != "" {
			msgs = append(msgs, Message{Role: "system", Content: text(s)})
		}
		var raw []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(req["messages"], &raw) != nil {
			return model, nil, false
		}
		for _, m := range raw {
			msgs = append(msgs, anthropicMessage(m.Role, m.Content)...)
		}
	case apiResponses:
		if s := contentText(req["instructions"]); s != "" {
			msgs = append(msgs, Message{Role: "system", Content: text(s)})
		}
		var s string
		if json.Unmarshal(req["input"], &s) == nil {
			msgs = append(msgs, Message{Role: "user", Content: text(s)})
			break
		}
		var items []map[string]json.RawMessage
		if json.Unmarshal(req["input"], &items) != nil {
			return model, nil, false
		}
		msgs = appendResponseItems(msgs, items)
	}
	return model, msgs, true
}

func str(r json.RawMessage) string {
	var s string
	json.Unmarshal(r, &s)
	return s
}

func chatMessage(m map[string]json.RawMessage) Message {
	out := Message{Role: str(m["role"]), Name: str(m["name"]), ToolCallID: str(m["tool_call_id"])}
	if out.Role == "developer" {
		out.Role = "system"
	}
	if c := m["content"]; len(c) > 0 && string(c) != "null" {
		out.Content = text(contentText(c))
	}
	json.Unmarshal(m["tool_calls"], &out.ToolCalls)
	// Legacy function_call.
	var fc struct{ Name, Arguments string }
	if json.Unmarshal(m["function_call"], &fc) == nil && fc.Name != "" {
		out.ToolCalls = append(out.ToolCalls, newCall("", fc.Name, fc.Arguments))
	}
	return out
}

// contentText flattens a string or a list of content parts to text.
func contentText(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	var parts []map[string]json.RawMessage
	if json.Unmarshal(r, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		t := str(p["text"])
		if t == "" {
			if c, ok := p["content"]; ok {
				t = contentText(c)
			}
		}
		if t == "" {
			switch str(p["type"]) {
			case "image", "image_url", "input_image":
				t = "[image]"
			case "document", "input_file", "file":
				t = "[file]"
			}
		}
		if t != "" {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString(t)
		}
	}
	return b.String()
}

func anthropicMessage(role string, content json.RawMessage) []Message {
	var s string
	if json.Unmarshal(content, &s) == nil {
		return []Message{{Role: role, Content: text(s)}}
	}
	var blocks []map[string]json.RawMessage
	json.Unmarshal(content, &blocks)
	return anthropicBlocks(role, blocks)
}

func anthropicBlocks(role string, blocks []map[string]json.RawMessage) []Message {
	var out []Message
	var texts []string
	var calls []chatToolCall
	for _, b := range blocks {
		switch str(b["type"]) {
		case "text":
			texts = append(texts, str(b["text"]))
		case "image", "document":
			texts = append(texts, "["+str(b["type"])+"]")
		case "tool_use", "server_tool_use":
			args := string(b["input"])
			if args == "" {
				args = "{}"
			}
			calls = append(calls, newCall(str(b["id"]), str(b["name"]), args))
		case "tool_result":
			out = append(out, Message{Role: "tool", ToolCallID: str(b["tool_use_id"]), Content: text(contentText(b["content"]))})
		}
	}
	if len(texts) > 0 || len(calls) > 0 {
		m := Message{Role: role, ToolCalls: calls}
		if len(texts) > 0 {
			m.Content = text(strings.Join(texts, "\n"))
		}
		out = append(out, m)
	}
	return out
}

func appendResponseItems(msgs []Message, items []map[string]json.RawMessage) []Message {
	for _, it := range items {
		typ, role := str(it["type"]), str(it["role"])
		switch {
		case typ == "function_call" || typ == "custom_tool_call":
			args := str(it["arguments"])
			if args == "" {
				args = str(it["input"])
			}
			c := newCall(str(it["call_id"]), str(it["name"]), args)
			if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" && msgs[n-1].Content == nil {
				msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, c)
			} else {
				msgs = append(msgs, Message{Role: "assistant", ToolCalls: []chatToolCall{c}})
			}
		case typ == "function_call_output" || typ == "custom_tool_call_output":
			msgs = append(msgs, Message{Role: "tool", ToolCallID: str(it["call_id"]), Content: text(contentText(it["output"]))})
		case role != "":
			if role == "developer" {
				role = "system"
			}
			msgs = append(msgs, Message{Role: role, Content: text(contentText(it["content"]))})
		}
	}
	return msgs
}

// responseMessages returns what the model answered, in Chat Completions
// shape, from a complete response body (JSON, or the SSE stream).
func responseMessages(a api, body []byte, stream bool) []Message {
	if stream {
		return streamMessages(a, parseSSE(body))
	}
	var resp map[string]json.RawMessage
	if json.Unmarshal(body, &resp) != nil {
		return nil
	}
	switch a {
	case apiChat:
		var choices []struct {
			Message map[string]json.RawMessage `json:"message"`
		}
		json.Unmarshal(resp["choices"], &choices)
		if len(choices) > 0 && choices[0].Message != nil {
			m := chatMessage(choices[0].Message)
			if m.Role == "" {
				m.Role = "assistant"
			}
			return []Message{m}
		}
	case apiMessages:
		var blocks []map[string]json.RawMessage
		json.Unmarshal(resp["content"], &blocks)
		return anthropicBlocks("assistant", blocks)
	case apiResponses:
		var items []map[string]json.RawMessage
		json.Unmarshal(resp["output"], &items)
		return appendResponseItems(nil, items)
	}
	return nil
}

func streamMessages(a api, events []sseEvent) []Message {
	switch a {
	case apiChat:
		var content strings.Builder
		hasContent := false
		var calls []chatToolCall
		for _, ev := range events {
			var chunk struct {
				Choices []struct {
					Index int `json:"index"`
					Delta struct {
						Content   *string `json:"content"`
						ToolCalls []struct {
							Index    int    `json:"index"`
							ID       string `json:"id"`
							Function struct {
								Name      string `json:"name"`
								Arguments string `json:"arguments"`
							} `json:"function"`
						} `json:"tool_calls"`
					} `json:"delta"`
				} `json:"choices"`
			}
			if json.Unmarshal(ev.Data, &chunk) != nil {
				continue
			}
			for _, ch := range chunk.Choices {
				if ch.Index != 0 {
					continue
				}
				if ch.Delta.Content != nil {
					content.WriteString(*ch.Delta.Content)
					hasContent = hasContent || *ch.Delta.Content != ""
				}
				for _, tc := range ch.Delta.ToolCalls {
					if !sane(tc.Index) {
						continue
					}
					for len(calls) <= tc.Index {
						calls = append(calls, newCall("", "", ""))
					}
					c := &calls[tc.Index]
					if tc.ID != "" {
						c.ID = tc.ID
					}
					c.Function.Name += tc.Function.Name
					c.Function.Arguments += tc.Function.Arguments
				}
			}
		}
		m := Message{Role: "assistant", ToolCalls: calls}
		if hasContent {
			m.Content = text(content.String())
		}
		if m.Content == nil && len(calls) == 0 {
			return nil
		}
		return []Message{m}
	case apiMessages:
		var blocks []map[string]json.RawMessage
		partial := map[int]*strings.Builder{}
		for _, ev := range events {
			var e struct {
				Type         string                     `json:"type"`
				Index        int                        `json:"index"`
				ContentBlock map[string]json.RawMessage `json:"content_block"`
				Delta        struct {
					Type        string `json:"type"`
					Text        string `json:"text"`
					PartialJSON string `json:"partial_json"`
				} `json:"delta"`
			}
			if json.Unmarshal(ev.Data, &e) != nil {
				continue
			}
			if !sane(e.Index) {
				continue
			}
			switch e.Type {
			case "content_block_start":
				for len(blocks) <= e.Index {
					blocks = append(blocks, map[string]json.RawMessage{})
				}
				if e.ContentBlock != nil {
					blocks[e.Index] = e.ContentBlock
				}
				partial[e.Index] = &strings.Builder{}
			case "content_block_delta":
				if e.Index >= len(blocks) {
					continue
				}
				switch e.Delta.Type {
				case "text_delta":
					t, _ := json.Marshal(str(blocks[e.Index]["text"]) + e.Delta.Text)
					blocks[e.Index]["text"] = t
				case "input_json_delta":
					if sb := partial[e.Index]; sb != nil {
						sb.WriteString(e.Delta.PartialJSON)
					}
				}
			case "content_block_stop":
				if sb := partial[e.Index]; sb != nil && sb.Len() > 0 && e.Index < len(blocks) {
					blocks[e.Index]["input"] = json.RawMessage(sb.String())
				}
			}
		}
		return anthropicBlocks("assistant", blocks)
	case apiResponses:
		for i := len(events) - 1; i >= 0; i-- {
			var e struct {
				Type     string `json:"type"`
				Response struct {
					Output []map[string]json.RawMessage `json:"output"`
				} `json:"response"`
			}
			if json.Unmarshal(events[i].Data, &e) == nil && strings.HasPrefix(e.Type, "response.") && e.Response.Output != nil &&
				(e.Type == "response.completed" || e.Type == "response.incomplete" || e.Type == "response.failed") {
				return appendResponseItems(nil, e.Response.Output)
			}
		}
	}
	return nil
}

// maxIndex bounds the indexes a stream may use for tool calls and content
// blocks: real streams use a handful, and a hostile or broken one must not
// make the proxy allocate without limit.
const maxIndex = 1024

func sane(i int) bool { return i >= 0 && i < maxIndex }

// responseID returns the "id" of a Responses API response, for linking a
// later request's previous_response_id to its run.
func responseID(body []byte, stream bool) string {
	if stream {
		for _, ev := range parseSSE(body) {
			var e struct {
				Response struct {
					ID string `json:"id"`
				} `json:"response"`
			}
			if json.Unmarshal(ev.Data, &e) == nil && e.Response.ID != "" {
				return e.Response.ID
			}
		}
		return ""
	}
	var r struct {
		ID string `json:"id"`
	}
	json.Unmarshal(body, &r)
	return r.ID
}

// fingerprint identifies a message for conversation-prefix grouping.
func fingerprint(m Message) string {
	b, _ := json.Marshal(m)
	return string(bytes.TrimSpace(b))
}
