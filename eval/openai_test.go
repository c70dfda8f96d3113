package eval

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// chatServer is an OpenAI-compatible (and Anthropic-compatible) server on
// loopback with a scripted model: it looks an order up with a tool, then
// answers from the tool's result; as a grader it passes outputs that
// mention a refund. Requests are recorded so tests can check what the
// official clients sent.
type chatServer struct {
	mu       sync.Mutex
	requests []map[string]any
	busy     map[string]bool
}

func (s *chatServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	msgs, _ := req["messages"].([]any)
	var system, user, toolResult string
	if sys, ok := req["system"].([]any); ok && len(sys) > 0 { // Anthropic
		system, _ = sys[0].(map[string]any)["text"].(string)
	}
	for _, m := range msgs {
		mm := m.(map[string]any)
		content := ""
		switch c := mm["content"].(type) {
		case string:
			content = c
		case []any:
			for _, p := range c {
				if t, ok := p.(map[string]any)["text"].(string); ok {
					content += t
				}
			}
		}
		switch mm["role"] {
		case "system":
			system = content
		case "user":
			user = content
		case "tool":
			toolResult = content
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if strings.Contains(system, "grader") {
		verdict := `{"pass": false, "score": 0.1, "reason": "no refund"}`
		if strings.Contains(user, "Agent output:\nRefund") {
			verdict = `{"pass": true, "score": 0.9, "reason": "refund confirmed"}`
		}
		if strings.HasSuffix(r.URL.Path, "/messages") {
			json.NewEncoder(w).Encode(map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": req["model"],
				"content": []any{map[string]any{"type": "text", "text": verdict}}, "stop_reason": "end_turn",
				"usage": map[string]any{"input_tokens": 50, "output_tokens": 10}})
			return
		}
		writeCompletion(w, req, map[string]any{"role": "assistant", "content": verdict})
		return
	}
	if strings.Contains(user, "busy") {
		s.mu.Lock()
		first := !s.busy[user]
		if s.busy == nil {
			s.busy = map[string]bool{}
		}
		s.busy[user] = true
		s.mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error": {"message": "rate limited", "type": "rate_limit"}}`)
			return
		}
	}
	if toolResult == "" {
		id := regexp.MustCompile(`#W\d+`).FindString(user)
		args, _ := json.Marshal(map[string]string{"order_id": id})
		writeCompletion(w, req, map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
			"id": "call_1", "type": "function", "function": map[string]any{"name": "get_order", "arguments": string(args)}}}})
		return
	}
	var order map[string]any
	if err := json.Unmarshal([]byte(toolResult), &order); err != nil || order["total"] == nil {
		writeCompletion(w, req, map[string]any{"role": "assistant", "content": "I could not find the order."})
		return
	}
	writeCompletion(w, req, map[string]any{"role": "assistant", "content": fmt.Sprintf("Refund of $%v issued.", order["total"])})
}

func writeCompletion(w http.ResponseWriter, req map[string]any, msg map[string]any) {
	finish := "stop"
	if msg["tool_calls"] != nil {
		finish = "tool_calls"
	}
	json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": req["model"],
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
	})
}

func startChat(t *testing.T) (*chatServer, string) {
	t.Helper()
	cs := &chatServer{}
	srv := httptest.NewServer(cs)
	t.Cleanup(srv.Close)
	return cs, srv.URL + "/v1/"
}

// TestOpenAITarget drives the scripted model through the official openai-go
// client: the tool call is answered from the case's fixtures, the trace
// records it, the judge (also through openai-go, and through the Anthropic
// SDK) grades the answer, and a 429 is retried.
func TestOpenAITarget(t *testing.T) {
	cs, base := startChat(t)
	dir := writeFiles(t, map[string]string{
		"tools.json": `[{"type": "function", "function": {"name": "get_order", "description": "Look an order up", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]`,
		"s.yaml": `name: chat
target:
  openai: {base_url: '` + base + `', model: scripted-1, tools: tools.json, system: You help with refunds., price: {input: 1, output: 2}}
trials: 2
cases:
  - id: found
    input: {message: "Please refund order #W100"}
    expected: {total: 12.5}
    fixtures:
      get_order:
        - {args: {order_id: "#W100"}, result: {order_id: "#W100", total: 12.5}}
        - {result: {error: not found}}
  - id: missing
    input: {message: "Please refund order #W999"}
    fixtures: {get_order: [{args: {order_id: "#W100"}, result: {total: 12.5}}, {result: {error: not found}}]}
  - id: busy
    input: {message: "busy: refund order #W100"}
    fixtures: {get_order: {order_id: "#W100", total: 3}}
assert:
  - {type: arguments-match, tool: get_order, args: {order_id: "#W100"}}
  - {regex: '^Refund of \$'}
  - {type: judge, name: judge-openai, rubric: The agent must confirm a refund., model: grader-1, base_url: '` + base + `', repeat: 3}
  - {type: judge, name: judge-anthropic, provider: anthropic, rubric: The agent must confirm a refund., model: claude-x, base_url: '` + strings.TrimSuffix(base, "v1/") + `'}
  - {type: max-cost, max: 0.001}
`,
	})
	run, _ := runSuite(t, filepath.Join(dir, "s.yaml"), Options{})
	byCase := map[string][]TrialRecord{}
	for _, tr := range run.Trials {
		byCase[tr.Case] = append(byCase[tr.Case], tr)
	}
	for _, tr := range byCase["found"] {
		if tr.Status != StatusPass {
			t.Fatalf("found trial %d: %s %+v %+v", tr.Trial, tr.Status, tr.Error, tr.Assertions)
		}
		if got, want := string(tr.Output), `"Refund of $12.5 issued."`; got != want {
			t.Errorf("output = %s, want %s", got, want)
		}
		var kinds []string
		for _, s := range tr.Trace.Steps {
			kinds = append(kinds, string(s.Kind))
		}
		if got, want := strings.Join(kinds, ","), "system,user,tool_call,tool_result,final"; got != want {
			t.Errorf("trace kinds = %s, want %s", got, want)
		}
		if got := tr.Trace.Steps[3].Content; !strings.Contains(got, `"total":12.5`) {
			t.Errorf("tool result = %s, want the fixture", got)
		}
		if a := tr.Assertions[2]; a.Agreement == nil || *a.Agreement != 1 || a.Score == nil || *a.Score != 0.9 {
			t.Errorf("judge result = %+v, want agreement 1 and score 0.9", a)
		}
		// 2 model calls × 120 tokens at $1/$2 per million: 200·1 + 40·2 = 280e-6.
		if got := tr.CostUSD; got < 279e-6 || got > 281e-6 {
			t.Errorf("cost = %v, want 0.00028", got)
		}
	}
	if ag := Summarize(run, nil).Suite.JudgeAgreement; ag == nil || *ag != 1 {
		t.Errorf("suite judge agreement = %v, want 1", ag)
	}
	for _, tr := range byCase["missing"] {
		if tr.Status != StatusFail {
			t.Errorf("missing trial %d: %s, want fail", tr.Trial, tr.Status)
		}
		if got := tr.Trace.Steps[3]; got.Error == nil || !strings.Contains(got.Content, "not found") {
			t.Errorf("missing: tool result %+v, want the not-found fixture marked as an error", got)
		}
	}
	attempts := 0
	for _, tr := range byCase["busy"] {
		attempts += tr.Attempts
		if tr.Status != StatusPass {
			t.Errorf("busy trial %d: %s after %d attempts: %+v", tr.Trial, tr.Status, tr.Attempts, tr.Error)
		}
	}
	// The first request of the case got a 429 and was retried once.
	if attempts != 3 {
		t.Errorf("busy attempts = %d over two trials, want 3", attempts)
	}
	// The client sent the tool definitions from tools.json.
	cs.mu.Lock()
	defer cs.mu.Unlock()
	tools, _ := cs.requests[0]["tools"].([]any)
	if len(tools) != 1 || !strings.Contains(fmt.Sprint(tools[0]), "get_order") {
		t.Errorf("first request tools = %v", cs.requests[0]["tools"])
	}
}

// TestJudgeFailureIsAnError: a judge endpoint that fails makes the trial an
// error, not a failed assertion.
func TestJudgeFailureIsAnError(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }))
	defer dead.Close()
	s, err := ParseSuite("s.yaml", []byte(`name: j
target: {http: {url: 'http://127.0.0.1:1'}}
cases: [{id: a}]
assert:
  - {type: judge, rubric: r, model: m, base_url: '`+dead.URL+`/v1/'}
`))
	if err != nil {
		t.Fatal(err)
	}
	as, err := CompileAssertions(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := as[0].Check(t.Context(), &Check{Output: &Output{Value: "Refund"}})
	if r.Error == "" || r.Pass {
		t.Errorf("judge against a failing endpoint = %+v, want an error", r)
	}
}
