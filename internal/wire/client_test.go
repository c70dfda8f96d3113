package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientRetries checks the client against a real server on loopback:
// 429 and 5xx are retried (Retry-After honoured), other errors are not,
// and with no retries the caller gets the status and the wait asked for.
func TestClientRetries(t *testing.T) {
	var calls atomic.Int32
	var failures atomic.Int32
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "bad path or key "+r.URL.Path, 400)
			return
		}
		if failures.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(int(status.Load()))
			io.WriteString(w, `{"error": {"message": "slow down", "type": "rate_limit"}}`)
			return
		}
		io.WriteString(w, `{"id": "c", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi",
			"tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]}}],
			"usage": {"prompt_tokens": 3, "completion_tokens": 2}}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	req := &ChatRequest{Model: "m", Messages: []Message{{Role: "user", Content: Content{Text: "hi"}}}}
	for _, tc := range []struct {
		status, failures, retries int
		wantCalls                 int32
		wantErr                   bool
	}{
		{429, 1, 1, 2, false},
		{503, 2, 2, 3, false},
		{500, 3, 2, 3, true},
		{400, 1, 2, 1, true},
		{429, 1, 0, 1, true},
	} {
		t.Run(fmt.Sprintf("%d×%d retries %d", tc.status, tc.failures, tc.retries), func(t *testing.T) {
			calls.Store(0)
			failures.Store(int32(tc.failures))
			status.Store(int32(tc.status))
			c := &Client{API: APIChat, BaseURL: srv.URL + "/v1", APIKey: "k", MaxRetries: tc.retries}
			resp, err := c.Chat(ctx, req)
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
			if tc.wantErr {
				var he *HTTPError
				if !errors.As(err, &he) || he.Status != tc.status || he.Message != "slow down" {
					t.Fatalf("error %v, want HTTP %d: slow down", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := resp.Choices[0].Message
			if m.Text() != "hi" || m.ToolCalls[0].Function.ArgsText() != `{"a": 1}` || resp.Usage.PromptTokens != 3 {
				t.Errorf("decoded %+v", resp)
			}
		})
	}
}

// TestClientTimeout checks that an attempt's timeout ends a silent call.
func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := &Client{API: APIMessages, BaseURL: srv.URL, Timeout: 50 * time.Millisecond}
	_, err := c.Messages(context.Background(), &MessagesRequest{Model: "m", MaxTokens: 5})
	if err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("error %v, want a timeout", err)
	}
}

// TestClientStream streams an Anthropic answer whose tool input arrives in
// fragments, and checks the headers the Messages API requires.
func TestClientStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req MessagesRequest
		json.NewDecoder(r.Body).Decode(&req)
		if r.URL.Path != "/v1/messages" || r.Header.Get("X-Api-Key") != "k" || r.Header.Get("Anthropic-Version") != AnthropicVersion ||
			!req.Stream || req.System.PlainText() != "sys" {
			http.Error(w, "bad request", 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range []string{
			`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"tu","name":"get","input":{}}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"id\":"}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":" 7}"}}`,
			`{"type":"content_block_stop","index":0}`,
		} {
			fmt.Fprintf(w, "event: x\ndata: %s\n\n", e)
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	c := &Client{API: APIMessages, BaseURL: srv.URL, APIKey: "k"}
	var body strings.Builder
	err := c.Stream(context.Background(), &MessagesRequest{Model: "m", MaxTokens: 5, System: TextBlocks("sys"), Stream: true}, func(ev Event) error {
		body.WriteString("data: " + string(ev.Data) + "\n\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := DecodeStream(APIMessages, []byte(body.String()))
	if len(msgs) != 1 || len(msgs[0].Content.Blocks) != 1 {
		t.Fatalf("decoded %+v", msgs)
	}
	b := msgs[0].Content.Blocks[0]
	if args, _ := DecodeArgs(b.Input); b.Name != "get" || string(args) != `{"id":7}` {
		t.Errorf("tool call %s %s, want get {\"id\":7}", b.Name, args)
	}
}
