package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordHistory records the real Anthropic tool-use conversation with
// history through the proxy and returns the recording directory and the
// request body that was sent.
func recordHistory(t *testing.T) (dir string, body string, up *upstream) {
	t.Helper()
	c := vcrCassette(t, "opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/test_anthropic_tools_history_legacy.yaml")
	dir = t.TempDir()
	up = newUpstream(t)
	p, srv := startProxy(t, Options{Upstream: up.URL, RecordDir: dir})
	up.push(c.Interactions[0])
	b, _ := c.Interactions[0].Request.Body.Bytes()
	if st, _, _ := send(t, srv.URL, "/v1/messages", string(b), nil); st != 200 {
		t.Fatalf("recording: status %d", st)
	}
	flush(t, p)
	return dir, string(b), up
}

func send(t *testing.T, base, path, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", anthropicKey)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func replayServer(t *testing.T, opts ReplayOptions) *httptest.Server {
	rp, err := NewReplayer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

func TestReplayDivergence(t *testing.T) {
	dir, body, _ := recordHistory(t)
	cs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := replayServer(t, ReplayOptions{Cassettes: cs})

	// Volatile fields and headers do not matter.
	var m map[string]any
	json.Unmarshal([]byte(body), &m)
	m["metadata"] = map[string]any{"user_id": "someone-else"}
	m["stream_options"] = map[string]any{"include_usage": true}
	vol, _ := json.Marshal(m)
	if st, hdr, _ := send(t, srv.URL, "/v1/messages", string(vol), map[string]string{"User-Agent": "other/1.0"}); st != 200 ||
		hdr.Get("X-Probity-Replay") == "" {
		t.Errorf("request differing only in volatile fields: status %d, want 200 from the recording", st)
	}

	changed := strings.Replace(body, "Sunny and 65 degrees Fahrenheit", "Rainy and 50 degrees", 1)
	cases := []struct {
		name, body string
		want       Divergence
	}{
		{"tool result changed", changed, Divergence{Run: "run-0001", Call: 0, Message: ptr(2),
			Path: "$.body.messages[2].content[0].content", Recorded: "Sunny and 65 degrees Fahrenheit", Received: "Rainy and 50 degrees"}},
		{"model changed", strings.Replace(body, "claude-3-5-haiku-20241022", "claude-opus-4", 1), Divergence{Run: "run-0001", Call: 0,
			Path: "$.body.model", Recorded: "claude-3-5-haiku-20241022", Received: "claude-opus-4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, hdr, b := send(t, srv.URL, "/v1/messages", tc.body, nil)
			if st != http.StatusConflict || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %s, want 409 JSON", st, hdr.Get("Content-Type"))
			}
			var e struct {
				Error struct {
					Type       string
					Message    string
					Divergence Divergence
				}
			}
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatal(err)
			}
			e.Error.Divergence.Reason = ""
			if diff := cmp.Diff(tc.want, e.Error.Divergence); diff != "" {
				t.Errorf("divergence (-want +got):\n%s", diff)
			}
			if !strings.Contains(e.Error.Message, tc.want.Path) {
				t.Errorf("message %q does not name the field", e.Error.Message)
			}
		})
	}

	// The recording holds one call; it was answered above, so the same
	// request again is a retry (answered again), but a new one is past the end.
	if st, _, _ := send(t, srv.URL, "/v1/messages", body, nil); st != 200 {
		t.Errorf("retry of a recorded request: status %d, want 200", st)
	}
	st, _, b := send(t, srv.URL, "/v1/messages", `{"model":"x","messages":[]}`, nil)
	if st != http.StatusConflict || !strings.Contains(string(b), "all were answered") {
		t.Errorf("call past the recording: %d %s; want 409 saying the recording is exhausted", st, b)
	}
}

func ptr(i int) *int { return &i }

func TestReplayForkAt(t *testing.T) {
	dir, body, up := recordHistory(t)
	cs, _ := Load(dir)
	fork, err := New(Options{Upstream: up.URL, RecordDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fork.Close(context.Background()) })
	srv := replayServer(t, ReplayOptions{Cassettes: cs, ForkAt: 1, Fork: fork})
	before := up.count()
	if st, hdr, _ := send(t, srv.URL, "/v1/messages", body, nil); st != 200 || hdr.Get("X-Probity-Replay") == "" {
		t.Fatalf("call 0: status %d, replay header %q; want it from the recording", st, hdr.Get("X-Probity-Replay"))
	}
	if n := up.count() - before; n != 0 {
		t.Fatalf("call 0 reached the upstream")
	}
	c := vcrCassette(t, "opentelemetry-instrumentation-anthropic/tests/cassettes/test_messages/test_anthropic_tools_legacy.yaml")
	up.push(c.Interactions[0])
	st, hdr, _ := send(t, srv.URL, "/v1/messages", `{"model":"claude","messages":[{"role":"user","content":"new"}]}`, nil)
	if st != 200 || hdr.Get("X-Probity-Replay") != "" || up.count()-before != 1 {
		t.Errorf("call 1: status %d, replay header %q, upstream calls %d; want it forwarded", st, hdr.Get("X-Probity-Replay"), up.count()-before)
	}
}
