package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/wire"
)

// openaiTarget drives a chat model with tools through the wire client (the
// official SDK is the real client in the tests, not in the product).
// Every tool call is answered from the case's fixtures, so a trial touches
// nothing but the model: the run is hermetic and repeatable.
type openaiTarget struct {
	spec   *OpenAITargetSpec
	client *wire.Client
	tools  []wire.Tool
}

// toolDef is an OpenAI tool definition as found in tools.json: either
// {"type": "function", "function": {...}} or the bare function.
type toolDef struct {
	Type     string       `json:"type"`
	Function *functionDef `json:"function"`
	functionDef
}

type functionDef struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
}

func newOpenAITarget(s *Suite, opts Options) (Target, error) {
	spec := s.Target.OpenAI
	// No retries here: the runner retries 429 and 503 itself, with the
	// trial's budget.
	client := &wire.Client{API: wire.APIChat, BaseURL: spec.BaseURL, APIKey: os.Getenv(spec.APIKeyEnv),
		HTTP: withSameOriginRedirects(opts.HTTPClient)}
	t := &openaiTarget{spec: spec, client: client}
	if spec.Tools != "" {
		path := s.resolve(spec.Tools)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: "tools file", Err: err}
		}
		var defs []toolDef
		if err := json.Unmarshal(b, &defs); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "want a JSON list of OpenAI tool definitions", Err: err}
		}
		for i, d := range defs {
			f := d.functionDef
			if d.Function != nil {
				f = *d.Function
			}
			if f.Name == "" {
				return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("record %d", i+1), Message: "tool has no name"}
			}
			t.tools = append(t.tools, wire.Tool{Type: "function",
				Function: wire.FunctionTool{Name: f.Name, Description: f.Description, Parameters: f.Parameters}})
		}
	}
	return t, nil
}

func (t *openaiTarget) Run(ctx context.Context, req Request) (*Output, error) {
	input, _ := decodeJSON(req.Case.Input)
	fixtures, _ := decodeJSON(req.Case.Fixtures)
	user := text(input)
	if m, ok := input.(map[string]any); ok {
		// A case input {"message": "..."} or {"question": "..."} is the
		// user's words; any other shape is sent as JSON.
		for _, k := range []string{"message", "question", "prompt", "instruction"} {
			if s, ok := m[k].(string); ok {
				user = s
				break
			}
		}
	}
	var msgs []wire.Message
	var trace []any // the conversation as OpenAI JSON messages, for the trace
	if t.spec.System != "" {
		msgs = append(msgs, wire.Message{Role: "system", Content: wire.Content{Text: t.spec.System}})
		trace = append(trace, map[string]any{"role": "system", "content": t.spec.System})
	}
	msgs = append(msgs, wire.Message{Role: "user", Content: wire.Content{Text: user}})
	trace = append(trace, map[string]any{"role": "user", "content": user})
	out := &Output{}
	for turn := 0; turn < t.spec.MaxTurns; turn++ {
		p := &wire.ChatRequest{Model: t.spec.Model, Messages: msgs, Tools: t.tools, Temperature: t.spec.Temperature}
		resp, err := t.client.Chat(ctx, p)
		if err != nil {
			return nil, openaiError(ctx, err)
		}
		out.Tokens.Input += resp.Usage.PromptTokens
		out.Tokens.Output += resp.Usage.CompletionTokens
		if len(resp.Choices) == 0 {
			return nil, targetErr("garbage", "model returned no choices")
		}
		msg := resp.Choices[0].Message
		msg.Role = "assistant"
		msgs = append(msgs, msg)
		content := msg.Text()
		am := map[string]any{"role": "assistant", "content": content}
		if len(msg.ToolCalls) == 0 {
			trace = append(trace, am)
			out.Value = finalValue(content)
			t.finish(out, trace)
			return out, nil
		}
		var calls []any
		for _, tc := range msg.ToolCalls {
			calls = append(calls, map[string]any{"id": tc.ID, "type": "function",
				"function": map[string]any{"name": tc.Function.Name, "arguments": tc.Function.ArgsText()}})
		}
		am["tool_calls"] = calls
		trace = append(trace, am)
		for _, tc := range msg.ToolCalls {
			result := fixtureResult(fixtures, tc.Function.Name, tc.Function.ArgsText())
			msgs = append(msgs, wire.Message{Role: "tool", ToolCallID: tc.ID, Content: wire.Content{Text: result}})
			trace = append(trace, map[string]any{"role": "tool", "tool_call_id": tc.ID, "name": tc.Function.Name, "content": result})
		}
	}
	// Out of turns: the agent never answered. That is the agent's failure
	// (a loop), so it is an output for assertions, not a target error.
	out.Value = nil
	t.finish(out, trace)
	return out, nil
}

func (t *openaiTarget) finish(out *Output, trace []any) {
	tr, err := traceFromMessages(trace)
	if err == nil {
		tr.Format = "openai"
		out.Trace = tr
	}
	if pr := t.spec.Price; pr != nil {
		out.CostUSD = (float64(out.Tokens.Input)*pr.Input + float64(out.Tokens.Output)*pr.Output) / 1e6
	}
}

// finalValue is the model's last message: JSON when it is JSON, else text.
func finalValue(content string) any {
	s := strings.TrimSpace(content)
	if strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
		if v, err := decodeJSON([]byte(s)); err == nil {
			return v
		}
	}
	return content
}

// fixtureResult answers a tool call from the case's fixtures: a fixture is
// the result itself, or a list of {args, result} alternatives where the
// first whose args are a subset of the call's arguments wins (an entry
// without args matches any call). A missing fixture answers with an error
// the model can see, as a real tool would.
func fixtureResult(fixtures any, name, rawArgs string) string {
	m, _ := fixtures.(map[string]any)
	f, ok := m[name]
	if !ok {
		return fmt.Sprintf(`{"error": "no fixture for tool %s"}`, name)
	}
	if alts, ok := f.([]any); ok && len(alts) > 0 && isAlternatives(alts) {
		args, _ := decodeJSON([]byte(rawArgs))
		for _, a := range alts {
			am := a.(map[string]any)
			want, has := am["args"]
			if !has || subsetMatch(want, args) {
				return text(am["result"])
			}
		}
		return fmt.Sprintf(`{"error": "no fixture for %s with arguments %s"}`, name, clip(rawArgs, 200))
	}
	return text(f)
}

func isAlternatives(l []any) bool {
	for _, x := range l {
		m, ok := x.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["result"]; !ok {
			return false
		}
	}
	return true
}

// openaiError classifies a client error: 429 and 503 are retryable with
// their Retry-After, other statuses and transport failures are errors.
func openaiError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	var ae *wire.HTTPError
	if errors.As(err, &ae) {
		te := targetErr("http", "HTTP %d: %s", ae.Status, clip(ae.Message, 200))
		if ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusServiceUnavailable {
			return &retryable{TargetError: te, after: ae.RetryAfter}
		}
		return te
	}
	return targetErr("transport", "%v", err)
}
