package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/probity/probity/internal/wire"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
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

// sdkCase is a real recorded conversation driven through the proxy and then
// the replay server by an official SDK.
type sdkCase struct {
	name string
	file string
	kind string // openai-chat, openai-responses, anthropic
}

var sdkCases = []sdkCase{
	{"chat-tool-calls", "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_chat/test_chat_tool_calls.yaml", "openai-chat"},
	{"chat-tools", "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_chat/test_chat_tools.yaml", "openai-chat"},
	{"chat-parallel-tools", "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_functions/test_open_ai_function_calls_tools_parallel.yaml", "openai-chat"},
	{"chat-parallel-tools-stream", "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_functions/test_open_ai_function_calls_tools_streaming_parallel.yaml", "openai-chat"},
	{"chat-tools-stream", "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_chat/test_chat_tools_streaming.yaml", "openai-chat"},
	{"responses-tool-calls", "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_responses/test_responses_tool_calls.yaml", "openai-responses"},
	{"responses-stream", "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_responses/test_responses_streaming.yaml", "openai-responses"},
	{"responses-history", "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_responses/test_responses_with_input_history.yaml", "openai-responses"},
	{"anthropic-tools", "opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/test_anthropic_tools_legacy.yaml", "anthropic"},
	{"anthropic-tools-history", "opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/test_anthropic_tools_history_legacy.yaml", "anthropic"},
	{"anthropic-tools-stream", "opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/test_anthropic_tools_streaming_legacy.yaml", "anthropic"},
}

// capture is SDK middleware that keeps the bytes of every response body
// the SDK received (after its transport decompressed them).
type capture struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (c *capture) mw(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	resp, err := next(req)
	if err != nil {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.mu.Lock()
	c.bodies = append(c.bodies, b)
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// sdkCall sends in's recorded request body through the official SDK for
// kind, at baseURL, and returns the names of the tool calls the SDK parsed.
func sdkCall(t *testing.T, kind, baseURL, run string, in cassette.Interaction, cap *capture) []string {
	t.Helper()
	ctx := context.Background()
	var body map[string]any
	reqBody, _ := in.Request.Body.Bytes()
	if err := json.Unmarshal(reqBody, &body); err != nil {
		t.Fatalf("recorded request is not JSON: %v", err)
	}
	stream, _ := body["stream"].(bool)
	var names []string
	switch kind {
	case "openai-chat", "openai-responses":
		client := openai.NewClient(option.WithBaseURL(baseURL+"/v1/"), option.WithAPIKey(openaiKey),
			option.WithMaxRetries(0), option.WithHeader(RunHeader, run), option.WithMiddleware(cap.mw))
		opt := option.WithRequestBody("application/json", reqBody)
		if kind == "openai-chat" {
			if stream {
				s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{}, opt)
				acc := openai.ChatCompletionAccumulator{}
				for s.Next() {
					acc.AddChunk(s.Current())
				}
				if err := s.Err(); err != nil {
					t.Fatalf("chat stream: %v", err)
				}
				for _, tc := range acc.Choices[0].Message.ToolCalls {
					names = append(names, tc.Function.Name)
				}
				return names
			}
			res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{}, opt)
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			for _, tc := range res.Choices[0].Message.ToolCalls {
				names = append(names, tc.Function.Name)
			}
			return names
		}
		if stream {
			s := client.Responses.NewStreaming(ctx, responses.ResponseNewParams{}, opt)
			for s.Next() {
				ev := s.Current()
				if ev.Type == "response.output_item.done" && ev.Item.Type == "function_call" {
					names = append(names, ev.Item.Name)
				}
			}
			if err := s.Err(); err != nil {
				t.Fatalf("responses stream: %v", err)
			}
			return names
		}
		res, err := client.Responses.New(ctx, responses.ResponseNewParams{}, opt)
		if err != nil {
			t.Fatalf("responses: %v", err)
		}
		for _, it := range res.Output {
			if it.Type == "function_call" {
				names = append(names, it.Name)
			}
		}
		return names
	case "anthropic":
		client := anthropic.NewClient(aoption.WithBaseURL(baseURL), aoption.WithAPIKey(anthropicKey),
			aoption.WithMaxRetries(0), aoption.WithHeader(RunHeader, run), aoption.WithMiddleware(cap.mw))
		opt := aoption.WithRequestBody("application/json", reqBody)
		if stream {
			s := client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{}, opt)
			msg := anthropic.Message{}
			for s.Next() {
				if err := msg.Accumulate(s.Current()); err != nil {
					t.Fatalf("accumulate: %v", err)
				}
			}
			if err := s.Err(); err != nil {
				t.Fatalf("messages stream: %v", err)
			}
			for _, b := range msg.Content {
				if b.Type == "tool_use" {
					names = append(names, b.Name)
				}
			}
			return names
		}
		res, err := client.Messages.New(ctx, anthropic.MessageNewParams{}, opt)
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		for _, b := range res.Content {
			if b.Type == "tool_use" {
				names = append(names, b.Name)
			}
		}
		return names
	}
	t.Fatalf("unknown kind %q", kind)
	return nil
}

// wantToolNames returns the tool calls in a recorded response.
func wantToolNames(in cassette.Interaction) []string {
	b, _ := in.Response.Body.Bytes()
	a := wire.APIOf(in.Request.Path)
	msgs := wire.DecodeStream(a, b)
	if !in.Response.Stream {
		msgs, _ = wire.DecodeResponse(a, b)
	}
	return callNames(msgs)
}

// callNames lists the tools called in msgs, in either dialect.
func callNames(msgs []wire.Message) []string {
	var names []string
	for _, m := range msgs {
		for _, b := range m.Content.Blocks {
			if b.Type == "tool_use" {
				names = append(names, b.Name)
			}
		}
		for _, c := range m.ToolCalls {
			names = append(names, c.Function.Name)
		}
	}
	return names
}

// TestSDKRecordAndReplay drives real recorded conversations through the
// proxy with the official OpenAI and Anthropic SDKs, then through the
// replay server with the upstream unused: both must hand the SDK the
// recorded bodies byte for byte, and the SDK must parse the recorded tool
// calls.
func TestSDKRecordAndReplay(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("PROBITY_TEST_KEEP"); d != "" {
		dir = d // to look at what a real recording holds
	}
	up := newUpstream(t)
	p, srv := startProxy(t, Options{Upstream: up.URL, RecordDir: dir})
	toolCalls := 0
	for _, tc := range sdkCases {
		c := vcrCassette(t, tc.file)
		up.push(c.Interactions...)
		cap := &capture{}
		for i, in := range c.Interactions {
			got := sdkCall(t, tc.kind, srv.URL, tc.name, in, cap)
			want := wantToolNames(in)
			toolCalls += len(want)
			if !cmp.Equal(got, want) {
				t.Errorf("%s call %d via proxy: SDK parsed tool calls %v, want %v", tc.name, i, got, want)
			}
			wantBody, _ := in.Response.Body.Bytes()
			if !bytes.Equal(cap.bodies[i], wantBody) {
				t.Errorf("%s call %d via proxy: body differs from the recording:\n got %.300q\nwant %.300q", tc.name, i, cap.bodies[i], wantBody)
			}
		}
		for i, a := range up.auth[len(up.auth)-len(c.Interactions):] {
			if !strings.Contains(a, "SECRET") {
				t.Errorf("%s call %d: upstream got no credential (%q); the proxy must forward it", tc.name, i, a)
			}
		}
	}
	if toolCalls < 10 {
		t.Errorf("the cases hold %d tool calls; want at least 10 so tool calls are really exercised", toolCalls)
	}
	flush(t, p)
	if st := p.Stats(); st.WriteErrors != 0 || st.UpstreamErrors != 0 {
		t.Errorf("stats %+v: want no errors", st)
	}

	// Replay: a fresh server over the recording, with the upstream counted.
	cs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := NewReplayer(ReplayOptions{Cassettes: cs})
	if err != nil {
		t.Fatal(err)
	}
	rsrv := httptest.NewServer(rp)
	defer rsrv.Close()
	before := up.count()
	for _, tc := range sdkCases {
		c := vcrCassette(t, tc.file)
		cap := &capture{}
		for i, in := range c.Interactions {
			got := sdkCall(t, tc.kind, rsrv.URL, tc.name, in, cap)
			if want := wantToolNames(in); !cmp.Equal(got, want) {
				t.Errorf("%s call %d via replay: tool calls %v, want %v", tc.name, i, got, want)
			}
			wantBody, _ := in.Response.Body.Bytes()
			if !bytes.Equal(cap.bodies[i], wantBody) {
				t.Errorf("%s call %d via replay: body differs from the recording:\n got %.300q\nwant %.300q", tc.name, i, cap.bodies[i], wantBody)
			}
		}
	}
	if n := up.count() - before; n != 0 {
		t.Errorf("replay contacted the upstream %d times; want 0 (hermetic)", n)
	}

	// The traces hold the tool calls in the agent's dialect, which analyze
	// reads.
	for _, tc := range []struct{ run, tool string }{
		{"chat-parallel-tools-stream", "get_current_weather"},
		{"anthropic-tools-stream", "get_weather"},
		{"responses-tool-calls", "get_weather"},
	} {
		b, err := os.ReadFile(TracePath(dir, tc.run))
		if err != nil {
			t.Errorf("trace of %s: %v", tc.run, err)
			continue
		}
		var tf TraceFile
		if err := json.Unmarshal(b, &tf); err != nil {
			t.Fatalf("trace of %s: %v", tc.run, err)
		}
		calls := callNames(tf.Messages)
		if len(calls) == 0 || calls[0] != tc.tool {
			t.Errorf("trace of %s has tool calls %v, want %s first", tc.run, calls, tc.tool)
		}
	}
	assertNoSecrets(t, dir, openaiKey, anthropicKey)
}

// FuzzWire feeds the readers of provider bodies (requests, whole responses
// and event streams of the three APIs) mutations of real recorded bodies:
// they run on the proxy's writer and guard paths, so they must never panic.
func FuzzWire(f *testing.F) {
	for _, tc := range sdkCases {
		c := vcrCassette(f, tc.file)
		for _, in := range c.Interactions {
			req, _ := in.Request.Body.Bytes()
			resp, _ := in.Response.Body.Bytes()
			f.Add(in.Request.Path, req, resp, in.Response.Stream)
		}
	}
	f.Add("/v1/chat/completions", []byte(`{}`), []byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":-1}]}}]}\n\n"), true)
	f.Fuzz(func(t *testing.T, path string, req, resp []byte, stream bool) {
		a := wire.APIOf(path)
		wire.DecodeRequest(a, req)
		wire.DecodeResponse(a, resp)
		wire.DecodeStream(a, resp)
		wire.ResponseID(resp, stream)
		g := &guardState{ctx: context.Background(), guard: func(context.Context, string, probity.ToolCall) (bool, string) { return false, "no" }}
		wire.FilterBody(a, resp, g.decide)
		rec := httptest.NewRecorder()
		g.stream(rec, bytes.NewReader(resp), a, nil, g.decide)
	})
}
