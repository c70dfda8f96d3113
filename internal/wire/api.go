package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// API names a model API by the shape of its requests and responses.
type API int

// The model APIs Probity reads.
const (
	APIUnknown   API = iota
	APIChat          // OpenAI Chat Completions (and compatible: Azure, Groq, vLLM, ...)
	APIResponses     // OpenAI Responses
	APIMessages      // Anthropic Messages
)

// String returns the API's name as its endpoint says it.
func (a API) String() string {
	switch a {
	case APIChat:
		return "chat/completions"
	case APIResponses:
		return "responses"
	case APIMessages:
		return "messages"
	}
	return "unknown"
}

// APIOf tells the API from a request path: the endpoint is the path's last
// segments whatever prefix a gateway adds (/v1, /openai/deployments/x).
func APIOf(path string) API {
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return APIChat
	case strings.HasSuffix(path, "/responses"):
		return APIResponses
	case strings.HasSuffix(path, "/messages"):
		return APIMessages
	}
	return APIUnknown
}

// Request is the conversation a model request sends, in the dialect the
// agent spoke: Anthropic messages keep their content blocks (tool_result's
// is_error included), OpenAI Chat messages are as sent, and Responses API
// input items are turned into Chat-shaped messages (assistant tool_calls,
// role "tool" results), the closest shape the importers read.
type Request struct {
	Model string
	// System is the system prompt given beside the messages (Anthropic's
	// "system", the Responses API's "instructions"); nil when none.
	System *Content
	// Messages are the conversation's messages in order.
	Messages []Message
	// PreviousResponseID is the Responses API's link to an earlier
	// response whose history this request does not repeat.
	PreviousResponseID string
}

// ErrUnknownAPI is returned for a path that is none of the known APIs.
var ErrUnknownAPI = errors.New("not a known model API")

// DecodeRequest decodes a request body of API a. It fails for a body that
// is not a JSON object or whose conversation does not have the API's shape.
func DecodeRequest(a API, body []byte) (*Request, error) {
	var req struct {
		Model        string          `json:"model"`
		Messages     []Message       `json:"messages"`
		System       *Content        `json:"system"`
		Instructions *Content        `json:"instructions"`
		Input        json.RawMessage `json:"input"`
		Previous     string          `json:"previous_response_id"`
	}
	if a == APIUnknown {
		return nil, ErrUnknownAPI
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%s request: %w", a, err)
	}
	out := &Request{Model: req.Model, Messages: req.Messages}
	switch a {
	case APIChat:
		if req.Messages == nil {
			return nil, fmt.Errorf("%s request without messages", a)
		}
	case APIMessages:
		if req.Messages == nil {
			return nil, fmt.Errorf("%s request without messages", a)
		}
		if req.System != nil && !req.System.IsZero() {
			out.System = req.System
		}
	case APIResponses:
		out.Messages, out.PreviousResponseID = nil, req.Previous
		if req.Instructions != nil && !req.Instructions.IsZero() {
			out.System = req.Instructions
		}
		in := bytes.TrimSpace(req.Input)
		switch {
		case len(in) == 0 || string(in) == "null":
		case in[0] == '"':
			var s string
			if err := json.Unmarshal(in, &s); err != nil {
				return nil, fmt.Errorf("%s request input: %w", a, err)
			}
			out.Messages = []Message{{Role: "user", Content: Content{Text: s}}}
		default:
			var items []ResponseItem
			if err := json.Unmarshal(in, &items); err != nil {
				return nil, fmt.Errorf("%s request input: %w", a, err)
			}
			out.Messages = ItemMessages(nil, items)
		}
	}
	return out, nil
}

// ResponseItem is one input or output item of the Responses API: a
// message, a function or custom tool call, or its output. Other item types
// (reasoning, web search) are kept by type only.
type ResponseItem struct {
	Type    string   `json:"type"`
	ID      string   `json:"id"`
	Role    string   `json:"role"`
	Content *Content `json:"content"`
	// CallID links a call to its output.
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"` // function_call: a JSON string
	Input     json.RawMessage `json:"input"`     // custom_tool_call: free text
	Output    *Content        `json:"output"`
	// Action is what a built-in local tool (local_shell_call,
	// computer_call, ...) asks the agent to do.
	Action json.RawMessage `json:"action"`
}

// localCalls are the Responses API's built-in tools that the agent, not
// the API, carries out: each is a call the guard must see. (web_search,
// file_search, code_interpreter and mcp calls run on the provider's side.)
var localCalls = map[string]bool{"local_shell_call": true, "shell_call": true, "computer_call": true, "apply_patch_call": true}

// IsCall reports whether the item asks the agent to run a tool.
func (it *ResponseItem) IsCall() bool {
	return it.Type == "function_call" || it.Type == "custom_tool_call"
}

// CallArgs returns the call's arguments as sent: the function_call's
// arguments, or the custom tool's free-text input.
func (it *ResponseItem) CallArgs() json.RawMessage {
	if len(it.Arguments) > 0 {
		return it.Arguments
	}
	return it.Input
}

// ItemMessages appends the Chat-shaped messages of Responses API items to
// msgs: a call joins the assistant message before it when that message has
// no text, so one model turn stays one message.
func ItemMessages(msgs []Message, items []ResponseItem) []Message {
	for i := range items {
		it := &items[i]
		switch {
		case it.IsCall():
			c := ToolCall{ID: it.CallID, Type: "function", Function: Function{Name: it.Name, Arguments: it.CallArgs()}}
			if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" && msgs[n-1].Content.IsZero() {
				msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, c)
			} else {
				msgs = append(msgs, Message{Role: "assistant", ToolCalls: []ToolCall{c}})
			}
		case it.Type == "function_call_output" || it.Type == "custom_tool_call_output":
			m := Message{Role: "tool", ToolCallID: it.CallID}
			if it.Output != nil {
				m.Content = *it.Output
			}
			msgs = append(msgs, m)
		case it.Role != "":
			m := Message{Role: it.Role}
			if it.Content != nil {
				m.Content = *it.Content
			}
			msgs = append(msgs, m)
		}
	}
	return msgs
}

// ChatResponse is an OpenAI Chat Completions response.
type ChatResponse struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int     `json:"index"`
		Message      Message `json:"message"`
		FinishReason string  `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

// MessagesResponse is an Anthropic Messages response.
type MessagesResponse struct {
	ID         string  `json:"id"`
	Type       string  `json:"type"`
	Role       string  `json:"role"`
	Model      string  `json:"model"`
	Content    []Block `json:"content"`
	StopReason string  `json:"stop_reason"`
	Usage      struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
}

// ResponsesResponse is an OpenAI Responses API response object.
type ResponsesResponse struct {
	ID     string         `json:"id"`
	Model  string         `json:"model"`
	Status string         `json:"status"`
	Output []ResponseItem `json:"output"`
}

// DecodeResponse returns what the model answered in a complete (not
// streamed) response body: the first choice of a Chat response (the one an
// agent continues with), the Anthropic message, or the Responses output
// items as Chat-shaped messages.
func DecodeResponse(a API, body []byte) ([]Message, error) {
	switch a {
	case APIChat:
		var r ChatResponse
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("%s response: %w", a, err)
		}
		if len(r.Choices) == 0 {
			return nil, nil
		}
		m := r.Choices[0].Message
		if m.Role == "" {
			m.Role = "assistant"
		}
		return []Message{m}, nil
	case APIMessages:
		var r MessagesResponse
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("%s response: %w", a, err)
		}
		return []Message{{Role: "assistant", Content: Content{IsBlocks: true, Blocks: r.Content}}}, nil
	case APIResponses:
		var r ResponsesResponse
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("%s response: %w", a, err)
		}
		return ItemMessages(nil, r.Output), nil
	}
	return nil, ErrUnknownAPI
}

// ResponseID returns the id of a Responses API response, complete or
// streamed, for linking a later request's previous_response_id to it.
func ResponseID(body []byte, stream bool) string {
	if stream {
		for _, ev := range ParseSSE(body) {
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
