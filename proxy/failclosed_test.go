package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/probity/probity"
)

// danger is in the arguments of every call the test guard denies: the
// agent must never see it.
const danger = "rm -rf /"

func gz(b string) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	io.WriteString(w, b)
	w.Close()
	return buf.Bytes()
}

func zl(b string) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	io.WriteString(w, b)
	w.Close()
	return buf.Bytes()
}

func rawDeflate(b string) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	io.WriteString(w, b)
	w.Close()
	return buf.Bytes()
}

func br(b string) []byte {
	var buf bytes.Buffer
	w := brotli.NewWriter(&buf)
	io.WriteString(w, b)
	w.Close()
	return buf.Bytes()
}

func sse(events ...string) string {
	var sb strings.Builder
	for _, e := range events {
		sb.WriteString(e)
		sb.WriteString("\n\n")
	}
	return sb.String()
}

var (
	chatDenied = `{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,
		"tool_calls":[{"id":"call_1","type":"function","function":{"name":"shell","arguments":"{\"cmd\":\"rm -rf /\"}"}}]},"finish_reason":"tool_calls"}]}`
	chatStreamSplit = sse(
		`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"sh","arguments":""}}]},"finish_reason":null}]}`,
		`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"ell","arguments":"{\"cmd\":\"rm "}}]},"finish_reason":null}]}`,
		`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"-rf /\"}"}}]},"finish_reason":null}]}`,
		`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`data: [DONE]`)
)

// TestGuardFailsClosed reproduces each way a denied call used to reach the
// agent through `proxy --policy` (issue 10, item 1), with a small upstream
// on loopback. Each response is either read, with the call replaced by a
// refusal, or refused whole with an error naming the reason; the denied
// call's arguments never reach the agent.
func TestGuardFailsClosed(t *testing.T) {
	type resp struct {
		status int
		ctype  string
		enc    string
		body   []byte
	}
	js := func(s string) resp { return resp{200, "application/json", "", []byte(s)} }
	stream := func(s string) resp { return resp{200, "text/event-stream", "", []byte(s)} }
	cases := []struct {
		name string
		path string
		resp resp
		// refused: the response cannot be checked and is refused (502
		// or an error event); otherwise the call is replaced.
		refused bool
	}{
		{"chat json", "/v1/chat/completions", js(chatDenied), false},
		{"status 201", "/v1/chat/completions", resp{201, "application/json", "", []byte(chatDenied)}, false},
		{"status 203 gzip", "/v1/chat/completions", resp{203, "application/json", "gzip", gz(chatDenied)}, false},
		{"zlib deflate json", "/v1/chat/completions", resp{200, "application/json", "deflate", zl(chatDenied)}, false},
		{"raw deflate json", "/v1/chat/completions", resp{200, "application/json", "deflate", rawDeflate(chatDenied)}, false},
		{"brotli json", "/v1/chat/completions", resp{200, "application/json", "br", br(chatDenied)}, false},
		{"zstd json", "/v1/chat/completions", resp{200, "application/json", "zstd", []byte("(\xb5/\xfd opaque")}, true},
		{"zstd stream", "/v1/chat/completions", resp{200, "text/event-stream", "zstd", []byte("(\xb5/\xfd opaque")}, true},
		{"corrupt gzip json", "/v1/chat/completions", resp{200, "application/json", "gzip", append(gz(chatDenied)[:20], "garbage"...)}, true},
		{"gzip stream split call", "/v1/chat/completions", resp{200, "text/event-stream", "gzip", gz(chatStreamSplit)}, false},
		{"stream split call", "/v1/chat/completions", stream(chatStreamSplit), false},
		{"not json", "/v1/chat/completions", js(`<html>` + danger + `</html>`), true},
		{"legacy function_call", "/v1/chat/completions", js(`{"choices":[{"index":0,"message":{"role":"assistant",
			"function_call":{"name":"shell","arguments":"{\"cmd\":\"rm -rf /\"}"}},"finish_reason":"function_call"}]}`), false},
		{"legacy function_call stream", "/v1/chat/completions", stream(sse(
			`data: {"choices":[{"index":0,"delta":{"role":"assistant","function_call":{"name":"shell","arguments":""}}}]}`,
			`data: {"choices":[{"index":0,"delta":{"function_call":{"arguments":"{\"cmd\":\"rm -rf /\"}"}}}]}`,
			`data: {"choices":[{"index":0,"delta":{},"finish_reason":"function_call"}]}`,
			`data: [DONE]`)), false},
		{"n=2 second choice", "/v1/chat/completions", js(`{"choices":[
			{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"},
			{"index":1,"message":{"role":"assistant","tool_calls":[{"id":"c2","type":"function","function":{"name":"shell","arguments":"{\"cmd\":\"rm -rf /\"}"}}]},"finish_reason":"tool_calls"}]}`), false},
		{"n=2 stream second choice", "/v1/chat/completions", stream(sse(
			`data: {"choices":[{"index":0,"delta":{"content":"hello"}}]}`,
			`data: {"choices":[{"index":1,"delta":{"tool_calls":[{"index":0,"id":"c2","function":{"name":"shell","arguments":"{\"cmd\":\"rm -rf /\"}"}}]}}]}`,
			`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
			`data: [DONE]`)), false},
		{"stream without finish", "/v1/chat/completions", stream(sse(
			`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c2","function":{"name":"shell","arguments":"{\"cmd\":\"rm -rf /\"}"}}]}}]}`)), false},
		{"stream garbage event", "/v1/chat/completions", stream(sse(
			`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c2","function":{"name":"shell","arguments":"{\"cmd\":\"rm -rf /\"}"}}]}}]}`,
			`data: {not json`,
			`data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`)), true},
		{"stream huge index", "/v1/chat/completions", stream(sse(
			`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":5000,"id":"c2","function":{"name":"shell","arguments":"{\"cmd\":\"rm -rf /\"}"}}]}}]}`,
			`data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`)), true},
		{"responses function_call", "/v1/responses", js(`{"id":"r","object":"response","output":[
			{"type":"function_call","id":"fc_1","call_id":"call_1","name":"shell","arguments":"{\"cmd\":\"rm -rf /\"}"}]}`), false},
		{"responses local shell", "/v1/responses", js(`{"id":"r","object":"response","output":[
			{"type":"local_shell_call","id":"lsc_1","call_id":"call_1","action":{"type":"exec","command":["rm -rf /"]}}]}`), false},
		{"responses stream only completed", "/v1/responses", stream(sse(
			`event: response.completed` + "\n" + `data: {"type":"response.completed","response":{"id":"r","output":[{"type":"function_call","id":"fc_1","call_id":"call_1","name":"shell","arguments":"{\"cmd\":\"rm -rf /\"}"}]}}`)), false},
		{"responses stream cut inside call", "/v1/responses", stream(sse(
			`event: response.output_item.added`+"\n"+`data: {"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"shell","arguments":""}}`,
			`event: response.function_call_arguments.delta`+"\n"+`data: {"type":"response.function_call_arguments.delta","output_index":0,"delta":"{\"cmd\":\"rm -rf /\"}"}`)), true},
		{"anthropic json", "/v1/messages", js(`{"type":"message","role":"assistant","stop_reason":"tool_use","content":[
			{"type":"tool_use","id":"tu_1","name":"shell","input":{"cmd":"rm -rf /"}}]}`), false},
		{"anthropic stream cut inside call", "/v1/messages", stream(sse(
			`event: content_block_start`+"\n"+`data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"tu_1","name":"shell","input":{}}}`,
			`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"cmd\":\"rm -rf /\"}"}}`)), true},
		{"anthropic stream gzip", "/v1/messages", resp{200, "text/event-stream", "gzip", gz(sse(
			`event: content_block_start`+"\n"+`data: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"tu_1","name":"shell","input":{}}}`,
			`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"cmd\":\"rm -rf /\"}"}}`,
			`event: content_block_stop`+"\n"+`data: {"type":"content_block_stop","index":0}`,
			`event: message_delta`+"\n"+`data: {"type":"message_delta","delta":{"stop_reason":"tool_use"}}`))}, false},
	}
	var mu sync.Mutex
	var current resp
	var acceptEnc string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		rs := current
		acceptEnc = r.Header.Get("Accept-Encoding")
		mu.Unlock()
		w.Header().Set("Content-Type", rs.ctype)
		if rs.enc != "" {
			w.Header().Set("Content-Encoding", rs.enc)
		}
		w.WriteHeader(rs.status)
		w.Write(rs.body)
	}))
	defer up.Close()
	var refusals []string
	guard := func(_ context.Context, _ string, c probity.ToolCall) (bool, string) {
		return c.Name != "shell" && c.Name != "local_shell", "shell is not allowed"
	}
	refused := func(_ context.Context, _ string, reason string) {
		mu.Lock()
		refusals = append(refusals, reason)
		mu.Unlock()
	}
	_, srv := startProxy(t, Options{Upstream: up.URL, Guard: guard, Refused: refused})
	// The agent's client asks for no compression: Go's transport would
	// otherwise decode gzip itself and hide what the proxy sent.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			current, refusals = tc.resp, nil
			mu.Unlock()
			req, _ := http.NewRequest("POST", srv.URL+tc.path, strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}],"input":"hi"}`))
			req.Header.Set("Accept-Encoding", "gzip, zstd, br")
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if enc := res.Header.Get("Content-Encoding"); enc != "" {
				t.Errorf("the agent got Content-Encoding %q; the guard sends what it checked, decoded", enc)
			}
			if bytes.Contains(body, []byte(danger)) || bytes.Contains(body, []byte(`rm -rf /`)) {
				t.Errorf("the denied call reached the agent (status %d):\n%s", res.StatusCode, body)
			}
			mu.Lock()
			got := append([]string(nil), refusals...)
			ae := acceptEnc
			mu.Unlock()
			if ae != guardedEncodings {
				t.Errorf("upstream was asked for Accept-Encoding %q, want %q", ae, guardedEncodings)
			}
			if tc.refused {
				if len(got) == 0 {
					t.Errorf("no refusal reported (audit hook); status %d body %s", res.StatusCode, body)
				}
				if !bytes.Contains(body, []byte(RefusedCode)) {
					t.Errorf("the agent's error does not name %s (status %d):\n%s", RefusedCode, res.StatusCode, body)
				}
				if res.StatusCode/100 == 2 && !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
					t.Errorf("status %d for a refused response", res.StatusCode)
				}
				return
			}
			if len(got) != 0 {
				t.Errorf("refused %v; want the response read and the call replaced", got)
			}
			if !bytes.Contains(body, []byte("[probity guard]")) {
				t.Errorf("no refusal text in what the agent got (status %d):\n%s", res.StatusCode, body)
			}
			if res.StatusCode != tc.resp.status {
				t.Errorf("status %d, want the upstream's %d", res.StatusCode, tc.resp.status)
			}
		})
	}
}
