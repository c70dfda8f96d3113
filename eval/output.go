package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/probity/probity"
)

// Output is what a target returned for one trial.
type Output struct {
	// Value is the output as generic JSON (what assertions see as "output").
	Value any
	// Trace is the run's trace when the target reported one.
	Trace *probity.Trace
	// CostUSD is what the trial cost, when known.
	CostUSD float64
	// Tokens is the token usage, when known.
	Tokens Usage
	// Latency is the wall time of the trial, retries included.
	Latency time.Duration
}

// Usage counts tokens.
type Usage struct {
	Input  int64 `json:"input,omitempty"`
	Output int64 `json:"output,omitempty"`
}

// Total is input plus output tokens.
func (u Usage) Total() int64 { return u.Input + u.Output }

// TargetError is a trial the target failed to answer: it crashed, hung,
// timed out, returned garbage or an HTTP error. It is recorded as an error,
// never as a failed assertion.
type TargetError struct {
	// Kind is a short stable word: crash, timeout, http, garbage, transport, canceled.
	Kind string
	// Msg says what happened.
	Msg string
}

// Error formats as "kind: message".
func (e *TargetError) Error() string { return e.Kind + ": " + e.Msg }

func targetErr(kind, format string, args ...any) *TargetError {
	return &TargetError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// parseReply turns a target's JSON reply into an Output using the response
// mapping. A reply that is not JSON is garbage: a TargetError.
func parseReply(body []byte, rs ResponseSpec) (*Output, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, targetErr("garbage", "empty reply")
	}
	reply, err := decodeJSON(body)
	if err != nil {
		return nil, targetErr("garbage", "reply is not JSON: %v (starts %q)", err, clip(string(body), 60))
	}
	out := &Output{}
	pick := func(path string, dflt ...string) (any, bool, error) {
		if path != "" {
			p, err := parseJSONPath(path)
			if err != nil {
				return nil, false, err
			}
			v, ok := p.get(reply)
			return v, ok, nil
		}
		m, ok := reply.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		for _, k := range dflt {
			if v, ok := m[k]; ok {
				return v, true, nil
			}
		}
		return nil, false, nil
	}
	v, ok, err := pick(rs.Output, "output")
	if err != nil {
		return nil, err
	}
	if ok {
		out.Value = v
	} else if rs.Output != "" {
		return nil, targetErr("garbage", "reply has nothing at %s", rs.Output)
	} else {
		out.Value = reply
	}
	if tv, ok, _ := pick(rs.Trace, "trace", "messages"); ok && tv != nil {
		tr, err := traceFromJSON(tv)
		if err != nil {
			return nil, targetErr("garbage", "reply trace: %v", err)
		}
		out.Trace = tr
	}
	if cv, ok, _ := pick(rs.Cost, "cost_usd", "cost"); ok {
		if f, ok := number(cv); ok {
			out.CostUSD = f
		}
	}
	if uv, ok, _ := pick(rs.Tokens, "usage"); ok {
		out.Tokens = usageFrom(uv)
	}
	if out.Tokens.Total() == 0 && out.Trace != nil {
		for _, s := range out.Trace.Steps {
			if s.Model != nil {
				out.Tokens.Input += s.Model.InputTokens
				out.Tokens.Output += s.Model.OutputTokens
				if out.CostUSD == 0 {
					out.CostUSD += s.Model.CostUSD
				}
			}
		}
	}
	return out, nil
}

// usageFrom reads OpenAI (prompt/completion) or Anthropic (input/output)
// token counts, or a bare total.
func usageFrom(v any) Usage {
	var u Usage
	if f, ok := number(v); ok {
		u.Input = int64(f)
		return u
	}
	m, ok := v.(map[string]any)
	if !ok {
		return u
	}
	get := func(keys ...string) int64 {
		for _, k := range keys {
			if f, ok := number(m[k]); ok {
				return int64(f)
			}
		}
		return 0
	}
	u.Input = get("prompt_tokens", "input_tokens", "input")
	u.Output = get("completion_tokens", "output_tokens", "output")
	if u.Total() == 0 {
		u.Input = get("total_tokens")
	}
	return u
}

// traceFromJSON reads a trace a target reported: Probity's own trace JSON
// (an object with "steps"), an object with "messages", or a list of OpenAI
// chat messages.
func traceFromJSON(v any) (*probity.Trace, error) {
	if m, ok := v.(map[string]any); ok {
		if _, ok := m["steps"]; ok {
			b, _ := json.Marshal(m)
			var t probity.Trace
			if err := json.Unmarshal(b, &t); err != nil {
				return nil, fmt.Errorf("probity trace: %w", err)
			}
			for i, s := range t.Steps {
				if !s.Kind.Valid() {
					return nil, fmt.Errorf("step %d: unknown kind %q", i, s.Kind)
				}
			}
			return &t, nil
		}
		if msgs, ok := m["messages"]; ok {
			v = msgs
		}
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("want a probity trace object or a list of OpenAI messages")
	}
	return traceFromMessages(list)
}

// traceFromMessages converts OpenAI chat messages to a Trace, following the
// importers' conventions: Position.Index is the message's index, an
// assistant message with text and tool calls yields several steps that
// differ in Part, and the last assistant message without tool calls is the
// final answer.
func traceFromMessages(list []any) (*probity.Trace, error) {
	t := &probity.Trace{Format: "openai-messages"}
	if len(list) > 0 {
		// At least one step per message: sized once instead of grown by
		// append. (No messages keeps Steps nil, which the run file shows.)
		t.Steps = make([]probity.Step, 0, len(list)+1)
	}
	names := map[string]string{} // tool_call_id → tool name
	lastFinal := -1
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("message %d is not an object", i)
		}
		role, _ := m["role"].(string)
		content := messageText(m["content"])
		switch role {
		case "system", "developer":
			t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindSystem, Actor: "system", Content: content})
		case "user":
			t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindUser, Actor: "user", Content: content})
			if t.Task == "" {
				t.Task = content
			}
		case "assistant":
			part := 0
			calls, _ := m["tool_calls"].([]any)
			if content != "" || len(calls) == 0 {
				t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindAssistant, Actor: "assistant", Content: content})
				part++
				if len(calls) == 0 {
					lastFinal = len(t.Steps) - 1
				}
			}
			for _, c := range calls {
				cm, _ := c.(map[string]any)
				fn, _ := cm["function"].(map[string]any)
				id, _ := cm["id"].(string)
				name, _ := fn["name"].(string)
				tc := &probity.ToolCall{ID: id, Name: name}
				switch a := fn["arguments"].(type) {
				case string:
					if json.Valid([]byte(a)) {
						tc.Args = json.RawMessage(a)
					} else {
						tc.RawArgs = a
					}
				case nil:
				default:
					tc.Args, _ = json.Marshal(a)
				}
				names[id] = name
				t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i, Part: part}, Kind: probity.KindToolCall, Actor: "assistant", Tool: tc})
				part++
			}
		case "tool", "function":
			id, _ := m["tool_call_id"].(string)
			name, _ := m["name"].(string)
			if name == "" {
				name = names[id]
			}
			s := probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindToolResult, Actor: "tool", Content: content,
				Tool: &probity.ToolCall{ID: id, Name: name}}
			if looksLikeToolError(content) {
				s.Error = &probity.ToolError{Message: clip(content, 200)}
			}
			t.Steps = append(t.Steps, s)
		default:
			return nil, fmt.Errorf("message %d: unknown role %q", i, role)
		}
	}
	if lastFinal >= 0 && lastFinal == len(t.Steps)-1 {
		t.Steps[lastFinal].Kind = probity.KindFinal
	}
	return t, nil
}

// looksLikeToolError marks tool results that say they failed: a JSON object
// with an "error" key or text starting with "Error".
func looksLikeToolError(s string) bool {
	s = strings.TrimSpace(s)
	// No letter outside ASCII lower-cases or folds to one of "error", so
	// comparing the first five bytes is the same test as lower-casing the
	// whole result, without copying it.
	if len(s) >= 5 && strings.EqualFold(s[:5], "error") {
		return true
	}
	// The key "error" can only be in the text spelled out or escaped, so a
	// result with neither needs no decoding.
	if strings.HasPrefix(s, "{") && (strings.Contains(s, "error") || strings.ContainsRune(s, '\\')) {
		// Raw values: only the keys matter, so nothing below them is built.
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &m) == nil {
			_, ok := m["error"]
			return ok
		}
	}
	return false
}

func messageText(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case []any:
		var b strings.Builder
		for _, p := range c {
			if pm, ok := p.(map[string]any); ok {
				if s, ok := pm["text"].(string); ok {
					if b.Len() > 0 {
						b.WriteString("\n")
					}
					b.WriteString(s)
				}
			}
		}
		return b.String()
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
