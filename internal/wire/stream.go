package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ChatChunk is one event of an OpenAI Chat Completions stream.
type ChatChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created json.RawMessage   `json:"created"`
	Model   string            `json:"model"`
	Choices []ChatChunkChoice `json:"choices"`
}

// ChatChunkChoice is one choice's part of a chunk; n > 1 streams several.
type ChatChunkChoice struct {
	Index        int       `json:"index"`
	Delta        ChatDelta `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
}

// ChatDelta is what one chunk adds to a choice's message.
type ChatDelta struct {
	Role      string          `json:"role"`
	Content   *string         `json:"content"`
	ToolCalls []ToolCallDelta `json:"tool_calls"`
	// FunctionCall is the legacy single call, still sent by some
	// compatible servers and by old models asked with "functions".
	FunctionCall *FunctionDelta `json:"function_call"`
}

// HasCall reports whether the delta carries (part of) a tool call.
func (d *ChatDelta) HasCall() bool { return len(d.ToolCalls) > 0 || d.FunctionCall != nil }

// ToolCallDelta is a piece of one tool call: the id and name come first,
// the arguments in fragments across later chunks, all at the same Index.
type ToolCallDelta struct {
	Index    int           `json:"index"`
	ID       string        `json:"id"`
	Type     string        `json:"type"`
	Function FunctionDelta `json:"function"`
}

// FunctionDelta is a fragment of a function's name and arguments.
type FunctionDelta struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// StreamCall is a tool call assembled from stream fragments. Args are the
// arguments' text as the model wrote it (for OpenAI, the string's
// content; for Anthropic, the input object's JSON).
type StreamCall struct {
	ID, Name, Args string
	// Legacy marks an OpenAI function_call rather than a tool_calls entry.
	Legacy bool
}

// maxIndex bounds the indexes a stream may use for choices, tool calls and
// content blocks: real streams use a handful, and a hostile or broken one
// must not make a reader allocate without limit.
const maxIndex = 1024

// CallBuilder assembles the tool calls of one choice from chunk deltas.
type CallBuilder struct {
	Calls []StreamCall
}

// Add merges one delta. It fails for an index no real stream uses, so a
// caller deciding on calls never skips one silently.
func (b *CallBuilder) Add(d *ChatDelta) error {
	for _, tc := range d.ToolCalls {
		if tc.Index < 0 || tc.Index >= maxIndex {
			return fmt.Errorf("tool call index %d out of range", tc.Index)
		}
		for len(b.Calls) <= tc.Index {
			b.Calls = append(b.Calls, StreamCall{})
		}
		c := &b.Calls[tc.Index]
		if tc.ID != "" {
			c.ID = tc.ID
		}
		c.Name += tc.Function.Name
		c.Args += tc.Function.Arguments
	}
	if fc := d.FunctionCall; fc != nil {
		// The legacy call has no index: it is the one call of the message,
		// kept after the tool_calls entries.
		n := len(b.Calls)
		if n == 0 || !b.Calls[n-1].Legacy {
			b.Calls = append(b.Calls, StreamCall{Legacy: true})
			n++
		}
		b.Calls[n-1].Name += fc.Name
		b.Calls[n-1].Args += fc.Arguments
	}
	return nil
}

// ToolCall returns c as a Chat tool_calls entry.
func (c StreamCall) ToolCall() ToolCall {
	args, _ := json.Marshal(c.Args)
	return ToolCall{ID: c.ID, Type: "function", Function: Function{Name: c.Name, Arguments: args}}
}

// MessagesEvent is one event of an Anthropic Messages stream.
type MessagesEvent struct {
	Type         string `json:"type"`
	Index        int    `json:"index"`
	ContentBlock *Block `json:"content_block"`
	Delta        struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Message *MessagesResponse `json:"message"`
}

// ResponsesEvent is one event of an OpenAI Responses stream.
type ResponsesEvent struct {
	Type        string             `json:"type"`
	OutputIndex *int               `json:"output_index"`
	Item        *ResponseItem      `json:"item"`
	Response    *ResponsesResponse `json:"response"`
}

// DecodeStream returns what the model answered in a complete event stream
// body: the first choice's message (Chat), the message's content blocks
// (Anthropic) or the final response's output items (Responses). Events it
// cannot read are skipped: a recording keeps what it can.
func DecodeStream(a API, body []byte) []Message {
	events := ParseSSE(body)
	switch a {
	case APIChat:
		var content strings.Builder
		var calls CallBuilder
		for _, ev := range events {
			var c ChatChunk
			if json.Unmarshal(ev.Data, &c) != nil {
				continue
			}
			for i := range c.Choices {
				ch := &c.Choices[i]
				if ch.Index != 0 {
					continue
				}
				if ch.Delta.Content != nil {
					content.WriteString(*ch.Delta.Content)
				}
				calls.Add(&ch.Delta)
			}
		}
		m := Message{Role: "assistant", Content: Content{Text: content.String()}}
		for _, c := range calls.Calls {
			if c.Legacy {
				tc := c.ToolCall()
				m.FunctionCall = &tc.Function
				continue
			}
			m.ToolCalls = append(m.ToolCalls, c.ToolCall())
		}
		if m.Content.IsZero() && len(m.ToolCalls) == 0 && m.FunctionCall == nil {
			return nil
		}
		return []Message{m}
	case APIMessages:
		var blocks []Block
		partial := map[int]*strings.Builder{}
		for _, ev := range events {
			var e MessagesEvent
			if json.Unmarshal(ev.Data, &e) != nil || e.Index < 0 || e.Index >= maxIndex {
				continue
			}
			switch e.Type {
			case "content_block_start":
				for len(blocks) <= e.Index {
					blocks = append(blocks, Block{})
				}
				if e.ContentBlock != nil {
					blocks[e.Index] = *e.ContentBlock
				}
				partial[e.Index] = &strings.Builder{}
			case "content_block_delta":
				if e.Index >= len(blocks) {
					continue
				}
				switch e.Delta.Type {
				case "text_delta":
					blocks[e.Index].Text += e.Delta.Text
				case "input_json_delta":
					if sb := partial[e.Index]; sb != nil {
						sb.WriteString(e.Delta.PartialJSON)
					}
				}
			case "content_block_stop":
				if sb := partial[e.Index]; sb != nil && sb.Len() > 0 && e.Index < len(blocks) {
					blocks[e.Index].Input = json.RawMessage(sb.String())
				}
			}
		}
		if len(blocks) == 0 {
			return nil
		}
		return []Message{{Role: "assistant", Content: Content{IsBlocks: true, Blocks: blocks}}}
	case APIResponses:
		for i := len(events) - 1; i >= 0; i-- {
			var e ResponsesEvent
			if json.Unmarshal(events[i].Data, &e) == nil && e.Response != nil && e.Response.Output != nil &&
				(e.Type == "response.completed" || e.Type == "response.incomplete" || e.Type == "response.failed") {
				return ItemMessages(nil, e.Response.Output)
			}
		}
	}
	return nil
}

// isDone reports whether an event's data is the Chat stream's end marker.
func isDone(data []byte) bool { return bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) }
