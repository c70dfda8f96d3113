package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/probity/probity"
	"github.com/probity/probity/proxy/cassette"
)

// denyBoston is the policy of these tests: no weather lookups for Boston.
func denyBoston(_ context.Context, run string, call probity.ToolCall) (bool, string) {
	if strings.Contains(string(call.Args), "Boston") {
		return false, "Boston is out of scope for run " + run
	}
	return true, ""
}

// TestGuard checks that a denied tool call never reaches the agent, in
// streamed and whole responses of all three APIs, that allowed calls are
// untouched, and that the decisions are recorded.
func TestGuard(t *testing.T) {
	const parallel = "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_functions/test_open_ai_function_calls_tools_parallel.yaml"
	const parallelStream = "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_functions/test_open_ai_function_calls_tools_streaming_parallel.yaml"
	const anth = "opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/test_anthropic_tools_legacy.yaml"
	const anthStream = "opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/test_anthropic_tools_streaming_legacy.yaml"
	const resp = "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_responses/test_responses_tool_calls.yaml"

	dir := t.TempDir()
	up := newUpstream(t)
	guard := func(ctx context.Context, run string, call probity.ToolCall) (bool, string) {
		if strings.HasPrefix(run, "deny-all") {
			return false, "no tools today"
		}
		return denyBoston(ctx, run, call)
	}
	p, srv := startProxy(t, Options{Upstream: up.URL, RecordDir: dir, Guard: guard})
	ctx := context.Background()
	oa := func(run string) openai.Client {
		return openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(openaiKey), option.WithMaxRetries(0),
			option.WithHeader(RunHeader, run))
	}
	body := func(c *cassette.Cassette) []byte { b, _ := c.Interactions[0].Request.Body.Bytes(); return b }

	t.Run("chat parallel", func(t *testing.T) {
		c := vcrCassette(t, parallel)
		up.push(c.Interactions[0])
		cl := oa("chat")
		res, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{}, option.WithRequestBody("application/json", body(c)))
		if err != nil {
			t.Fatal(err)
		}
		m := res.Choices[0].Message
		var args []string
		for _, tc := range m.ToolCalls {
			args = append(args, tc.Function.Arguments)
		}
		if len(args) != 1 || !strings.Contains(args[0], "San Francisco") {
			t.Errorf("tool calls after guard = %v, want only San Francisco's", args)
		}
		if !strings.Contains(m.Content, "[probity guard]") || !strings.Contains(m.Content, "Boston is out of scope") {
			t.Errorf("content = %q, want the refusal", m.Content)
		}
	})
	t.Run("chat parallel stream", func(t *testing.T) {
		c := vcrCassette(t, parallelStream)
		up.push(c.Interactions[0])
		cs := oa("chat-stream")
		s := cs.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{}, option.WithRequestBody("application/json", body(c)))
		acc := openai.ChatCompletionAccumulator{}
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		m := acc.Choices[0].Message
		if len(m.ToolCalls) != 1 || !strings.Contains(m.ToolCalls[0].Function.Arguments, "San Francisco") {
			t.Errorf("streamed tool calls after guard = %+v, want only San Francisco's", m.ToolCalls)
		}
		if !strings.Contains(m.Content, "Boston is out of scope") {
			t.Errorf("streamed content = %q, want the refusal", m.Content)
		}
	})
	t.Run("chat stream all denied", func(t *testing.T) {
		c := vcrCassette(t, parallelStream)
		up.push(c.Interactions[0])
		cs := oa("deny-all-stream")
		s := cs.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{}, option.WithRequestBody("application/json", body(c)))
		acc := openai.ChatCompletionAccumulator{}
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if got := acc.Choices[0]; len(got.Message.ToolCalls) != 0 || got.FinishReason != "stop" {
			t.Errorf("all denied: tool calls %d finish %q, want 0 and stop", len(got.Message.ToolCalls), got.FinishReason)
		}
	})
	ant := anthropic.NewClient(aoption.WithBaseURL(srv.URL), aoption.WithAPIKey(anthropicKey), aoption.WithMaxRetries(0),
		aoption.WithHeader(RunHeader, "deny-all-anthropic"))
	t.Run("anthropic", func(t *testing.T) {
		c := vcrCassette(t, anth)
		up.push(c.Interactions[0])
		res, err := ant.Messages.New(ctx, anthropic.MessageNewParams{}, aoption.WithRequestBody("application/json", body(c)))
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, b := range res.Content {
			kinds = append(kinds, string(b.Type))
		}
		if slicesContain(kinds, "tool_use") || res.StopReason != "end_turn" {
			t.Errorf("blocks %v stop %q; want no tool_use and end_turn", kinds, res.StopReason)
		}
	})
	t.Run("anthropic stream", func(t *testing.T) {
		c := vcrCassette(t, anthStream)
		up.push(c.Interactions[0])
		s := ant.Messages.NewStreaming(ctx, anthropic.MessageNewParams{}, aoption.WithRequestBody("application/json", body(c)))
		msg := anthropic.Message{}
		for s.Next() {
			if err := msg.Accumulate(s.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		text := ""
		for _, b := range msg.Content {
			if b.Type == "tool_use" {
				t.Errorf("tool_use %s reached the agent", b.Name)
			}
			text += b.Text
		}
		if !strings.Contains(text, "no tools today") || msg.StopReason != "end_turn" {
			t.Errorf("text %q stop %q; want the refusal and end_turn", text, msg.StopReason)
		}
	})
	t.Run("responses stream and whole", func(t *testing.T) {
		c := vcrCassette(t, resp)
		up.push(c.Interactions[0])
		cl := oa("deny-all-responses")
		res, err := cl.Responses.New(ctx, responses.ResponseNewParams{}, option.WithRequestBody("application/json", body(c)))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Output {
			if it.Type == "function_call" {
				t.Errorf("function_call %s reached the agent", it.Name)
			}
		}
		if !strings.Contains(res.OutputText(), "no tools today") {
			t.Errorf("output text %q, want the refusal", res.OutputText())
		}
	})

	flush(t, p)
	cs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var decisions []string
	for _, c := range cs {
		for _, in := range c.Interactions {
			for _, d := range in.Guard {
				decisions = append(decisions, c.Run+":"+d.Tool+":"+map[bool]string{true: "allow", false: "deny"}[d.Allow])
			}
		}
	}
	// Cassettes load in name order; within one, decisions are in call order.
	want := []string{"chat-stream:get_current_weather:allow", "chat-stream:get_current_weather:deny",
		"chat:get_current_weather:allow", "chat:get_current_weather:deny",
		"deny-all-anthropic:get_weather:deny", "deny-all-anthropic:get_time:deny",
		"deny-all-anthropic:get_weather:deny", "deny-all-anthropic:get_time:deny",
		"deny-all-responses:get_weather:deny", "deny-all-responses:get_weather:deny",
		"deny-all-stream:get_current_weather:deny", "deny-all-stream:get_current_weather:deny"}
	if diff := cmp.Diff(want, decisions); diff != "" {
		t.Errorf("recorded guard decisions (-want +got):\n%s", diff)
	}
	assertNoSecrets(t, dir, openaiKey, anthropicKey)
}

func slicesContain(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

// TestGuardResponsesStream denies the function calls of real recorded
// Responses API streams (an OpenAI Agents SDK workflow): neither the
// item events nor the final response may carry them.
func TestGuardResponsesStream(t *testing.T) {
	c := vcrCassette(t, "opentelemetry-instrumentation-openai-agents/tests/cassettes/test_complete_handoff_with_tools/test_router_analytics_complete_workflow.yaml")
	up := newUpstream(t)
	deny := func(context.Context, string, probity.ToolCall) (bool, string) { return false, "read-only session" }
	_, srv := startProxy(t, Options{Upstream: up.URL, Guard: deny})
	cl := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(openaiKey), option.WithMaxRetries(0))
	streams := 0
	for _, in := range c.Interactions {
		if in.Request.Path != "/v1/responses" || !in.Response.Stream || len(wantToolNames(in)) == 0 {
			continue
		}
		streams++
		up.push(in)
		b, _ := in.Request.Body.Bytes()
		s := cl.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{}, option.WithRequestBody("application/json", b))
		var final responses.Response
		for s.Next() {
			ev := s.Current()
			if ev.Item.Type == "function_call" {
				t.Errorf("event %s carries function_call %s", ev.Type, ev.Item.Name)
			}
			if ev.Type == "response.completed" {
				final = ev.Response
			}
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		for _, it := range final.Output {
			if it.Type == "function_call" {
				t.Errorf("response.completed still lists function_call %s", it.Name)
			}
		}
		if !strings.Contains(final.OutputText(), "read-only session") {
			t.Errorf("final output text %q, want the refusal", final.OutputText())
		}
	}
	if streams == 0 {
		t.Fatal("no streamed function call in the cassette")
	}
}
