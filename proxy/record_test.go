package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/proxy/cassette"
)

// echoUpstream answers a chat request with an assistant message that
// repeats the last message's content, echoing credentials into error
// bodies the way some providers' 401s do.
func echoUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(string(body), "bad key") {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s"}}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			return
		}
		n := strings.Count(string(body), `"role"`)
		fmt.Fprintf(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"answer %d"},"finish_reason":"stop"}],"customer_email":"jo@example.com"}`, n)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func chat(t *testing.T, base string, msgs ...string) {
	t.Helper()
	var parts []string
	for i, m := range msgs {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		parts = append(parts, fmt.Sprintf(`{"role":%q,"content":%q}`, role, m))
	}
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","customer_email":"jo@example.com","messages":[`+strings.Join(parts, ",")+`]}`))
	req.Header.Set("Authorization", "Bearer "+openaiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestGroupingByConversation checks that, without run headers, requests
// are grouped into runs by shared history even when two agents interleave.
func TestGroupingByConversation(t *testing.T) {
	dir := t.TempDir()
	up := echoUpstream(t)
	p, srv := startProxy(t, Options{Upstream: up.URL, RecordDir: dir, RedactFields: []string{"customer_email"}})
	chat(t, srv.URL, "book a flight")                                                  // A1
	chat(t, srv.URL, "cancel my order")                                                // B1
	chat(t, srv.URL, "book a flight", "answer 1", "to Paris")                          // A2
	chat(t, srv.URL, "cancel my order", "answer 1", "order #W1")                       // B2
	chat(t, srv.URL, "book a flight", "answer 1", "to Paris", "answer 3", "on Monday") // A3
	embed, _ := http.Post(srv.URL+"/v1/embeddings", "application/json", strings.NewReader(`{"input":"Paris"}`))
	embed.Body.Close()          // not a conversation: joins the latest run, A
	chat(t, srv.URL, "bad key") // C: a 401
	flush(t, p)
	cs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range cs {
		got[c.Run] = len(c.Interactions)
	}
	want := map[string]int{"run-0001": 4, "run-0002": 2, "run-0003": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs and their calls (-want +got):\n%s", diff)
	}
	tr, err := ingest.ReadAll(context.Background(), TracePath(dir, "run-0001"), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tr[0].Steps); n != 6 {
		t.Errorf("run-0001's trace, read as probity analyze reads it, has %d steps, want 6 (3 user, 3 assistant)", n)
	}
	// Configured fields and echoed keys are gone from everything written.
	assertNoSecrets(t, dir, openaiKey, "jo@example.com")
	b, _ := os.ReadFile(CassettePath(dir, "run-0003"))
	if !strings.Contains(string(b), "Incorrect API key provided: REDACTED") {
		t.Errorf("the echoed key was not scrubbed from the 401 body:\n%s", b)
	}
}

// TestCompressedPassthrough checks that gzip and brotli bodies reach the
// agent compressed as the upstream sent them, and are stored decoded.
func TestCompressedPassthrough(t *testing.T) {
	const text = `{"choices":[{"index":0,"message":{"role":"assistant","content":"compressed hello"}}]}`
	var br bytes.Buffer
	bw := brotli.NewWriter(&br)
	bw.Write([]byte(text))
	bw.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "br")
		w.Write(br.Bytes())
	}))
	defer up.Close()
	dir := t.TempDir()
	p, srv := startProxy(t, Options{Upstream: up.URL, RecordDir: dir})
	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Accept-Encoding", "br")
	req.Header.Set(RunHeader, "br")
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, br.Bytes()) || resp.Header.Get("Content-Encoding") != "br" {
		t.Errorf("agent got %q (%s), want the brotli bytes untouched", got, resp.Header.Get("Content-Encoding"))
	}
	flush(t, p)
	c := readCassette(t, dir, "br")
	b := c.Interactions[0].Response.Body
	if b.Text != text || b.DecodedFrom != "br" {
		t.Errorf("stored body %+v, want the decoded text, decoded_from br", b)
	}
	// Replay serves it decoded, without the encoding header.
	srv2 := replayServer(t, ReplayOptions{Cassettes: []*cassette.Cassette{c}})
	resp, err = http.Post(srv2.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != text || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("replay gave %q (%q), want the text without Content-Encoding", got, resp.Header.Get("Content-Encoding"))
	}
}

// routeRecorder is a transport that answers every request itself and
// remembers which host it was meant for: the only way to see where the
// auto upstream sends requests without reaching the internet.
type routeRecorder struct{ hosts []string }

func (rr *routeRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	rr.hosts = append(rr.hosts, r.URL.Host+" "+r.Host)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{}`)), Request: r}, nil
}

func TestAutoUpstream(t *testing.T) {
	rr := &routeRecorder{}
	_, srv := startProxy(t, Options{Upstream: AutoUpstream, Transport: rr})
	for _, c := range []struct{ path, hdr string }{
		{"/v1/chat/completions", ""}, {"/v1/messages", ""}, {"/v1/threads/t1/messages", ""}, {"/v1/complete", "2023-06-01"},
	} {
		req, _ := http.NewRequest("POST", srv.URL+c.path, strings.NewReader(`{}`))
		if c.hdr != "" {
			req.Header.Set("Anthropic-Version", c.hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{"api.openai.com api.openai.com", "api.anthropic.com api.anthropic.com",
		"api.openai.com api.openai.com", "api.anthropic.com api.anthropic.com"}
	if diff := cmp.Diff(want, rr.hosts); diff != "" {
		t.Errorf("upstream hosts (-want +got):\n%s", diff)
	}
}
