package proxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/probity/probity/proxy/cassette"
)

// The secrets of issue 10 item 9, each a distinct value so a leak names
// its case.
const (
	echoedKey    = "echo-key-7c1e55a0f9b24d1c"   // sent as Authorization, echoed in a response header
	zstdSecret   = "zstd-secret-a8d03b66e2f1"    // field in a zstd response body
	gzipCutKey   = "sk-proj-GzipCut0123456789ab" // in a gzip body cut off mid-stream
	unknownSec   = "unknown-enc-secret-4b2d9e"   // in a body with an unknown encoding
	wsField      = "ws-field-secret-90c2a1e3"    // --redact-field in a body with leading whitespace
	gzReqField   = "gz-req-field-secret-5e7f31"  // --redact-field in a gzip request body
	heliconeAuth = "helicone-auth-value-31a9c7"
	apiKeyUnder  = "api-key-underscore-0d4e8b"
	xSecretKey   = "x-secret-key-value-7f2a61"
	tokenHeader  = "token-header-value-c93e07"
	xAccessKey   = "x-access-key-value-18b4d2"
	functionsKey = "x-functions-key-value-66e0"
	authParam    = "auth-query-param-4c8e21"
	amzSig       = "x-amz-signature-e0b9f7c3a1"
	upstreamPass = "upstream-password-2f9d7e"
	upstreamKey  = "upstream-query-key-81c5a4"
	bodySK       = "sk-ant-api03-BodyPasted0123456789abcdef"
	bodyAKIA     = "AKIAQWERTYUIOPASDFGH"
)

// secretUpstream answers each test request in the way that used to leak.
func secretUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", "you sent "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		switch r.URL.Query().Get("case") {
		case "zstd":
			w.Header().Set("Content-Encoding", "zstd")
			zw, _ := zstd.NewWriter(w)
			fmt.Fprintf(zw, `{"choices":[],"account_secret":%q}`, zstdSecret)
			zw.Close()
		case "gzip-cut":
			var buf bytes.Buffer
			gw := gzip.NewWriter(&buf)
			fmt.Fprintf(gw, `{"note":"your key is %s", "pad":"%s"}`, gzipCutKey, strings.Repeat("x", 4000))
			gw.Close()
			cut := buf.Bytes()[:buf.Len()-12] // no trailer: the stream ends early
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(cut)
		case "unknown":
			w.Header().Set("Content-Encoding", "x-custom")
			fmt.Fprintf(w, `{"secret":%q}`, unknownSec)
		default:
			fmt.Fprint(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSecretsNeverReachDisk sends every secret of issue 10 item 9 through
// a recording proxy and greps every file it wrote for each.
func TestSecretsNeverReachDisk(t *testing.T) {
	up := secretUpstream(t)
	u, _ := url.Parse(up.URL)
	u.User = url.UserPassword("bob", upstreamPass)
	u.RawQuery = "key=" + upstreamKey
	dir := t.TempDir()
	p, srv := startProxy(t, Options{Upstream: u.String(), RecordDir: dir,
		RedactFields: []string{"account_secret", "customer_note"}})

	send := func(query string, h http.Header, body []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions?"+query, bytes.NewReader(body))
		req.Header = h
		req.Header.Set("Authorization", "Bearer "+echoedKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultTransport.RoundTrip(req) // no transparent gzip: see the bytes as sent
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	chatBody := func(note string) []byte {
		return []byte(fmt.Sprintf(`{"model":"m","customer_note":%q,"messages":[{"role":"user","content":"hi %s"}]}`, note, note))
	}
	send("case=zstd", http.Header{}, chatBody("a"))
	send("case=gzip-cut", http.Header{}, chatBody("b"))
	send("case=unknown", http.Header{}, chatBody("c"))
	send("", http.Header{}, append([]byte(" \n\t"), chatBody(wsField)...))
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(chatBody(gzReqField))
	gw.Close()
	send("", http.Header{"Content-Encoding": {"gzip"}}, gz.Bytes())
	send("auth="+authParam+"&x-amz-signature="+amzSig, http.Header{
		"Helicone-Auth": {"Bearer " + heliconeAuth}, "api_key": {apiKeyUnder}, "X-Secret-Key": {xSecretKey},
		"Token": {tokenHeader}, "X-Access-Key": {xAccessKey}, "X-Functions-Key": {functionsKey}}, chatBody("d"))

	// An agent on the official SDK pastes keys into its messages.
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(openaiKey), option.WithMaxRetries(0))
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("my keys: " + bodySK + " and " + bodyAKIA)}})
	if err != nil {
		t.Fatal(err)
	}
	flush(t, p)
	if st := p.Stats(); st.WriteErrors != 0 || st.Recorded == 0 {
		t.Fatalf("stats %+v", st)
	}
	assertNoSecrets(t, dir, echoedKey, zstdSecret, gzipCutKey, unknownSec, wsField, gzReqField, heliconeAuth,
		apiKeyUnder, xSecretKey, tokenHeader, xAccessKey, functionsKey, authParam, amzSig, upstreamPass, upstreamKey,
		bodySK, bodyAKIA, openaiKey)

	// What was decodable is kept (scrubbed), and what was not is said.
	cs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []cassette.Interaction
	for _, c := range cs {
		if strings.Contains(c.Upstream, upstreamPass) || !strings.Contains(c.Upstream, "bob:REDACTED@") {
			t.Errorf("cassette upstream %q, want the password redacted", c.Upstream)
		}
		all = append(all, c.Interactions...)
	}
	if len(all) != 7 {
		t.Fatalf("recorded %d interactions, want 7", len(all))
	}
	if b := all[0].Response.Body; b.DecodedFrom != "zstd" || !strings.Contains(b.Text, `"account_secret":"REDACTED"`) {
		t.Errorf("zstd body = %+v, want it decoded with the field redacted", b)
	}
	if b := all[1].Response.Body; b.DecodedFrom != "gzip" || !b.Truncated || !strings.Contains(b.Text, "your key is REDACTED") {
		t.Errorf("cut gzip body = %+v, want its decoded beginning, scrubbed, marked truncated", b)
	}
	if b := all[2].Response.Body; b.Withheld == "" || b.Text != "" || b.Base64 != "" {
		t.Errorf("unknown-encoding body = %+v, want it withheld", b)
	}
	if b := all[4].Request.Body; b.DecodedFrom != "gzip" || !strings.Contains(b.Text, `"customer_note":"REDACTED"`) {
		t.Errorf("gzip request body = %+v, want it decoded with the field redacted", b)
	}
	if h := all[0].Response.Header.Get("X-Echo"); h != "you sent REDACTED" {
		t.Errorf("echoing response header = %q, want the key scrubbed", h)
	}

	// Replay still matches requests whose secrets the recording scrubbed,
	// and serves a withheld body empty, without its encoding.
	rp, err := NewReplayer(ReplayOptions{Cassettes: cs, IgnoreFields: []string{"account_secret", "customer_note"}})
	if err != nil {
		t.Fatal(err)
	}
	rsrv := httptest.NewServer(rp)
	defer rsrv.Close()
	rc := openai.NewClient(option.WithBaseURL(rsrv.URL+"/v1"), option.WithAPIKey(openaiKey), option.WithMaxRetries(0))
	if _, err := rc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("my keys: " + bodySK + " and " + bodyAKIA)}}); err != nil {
		t.Errorf("replay of a request with pasted keys: %v", err)
	}
	req, _ := http.NewRequest("POST", rsrv.URL+"/v1/chat/completions?case=unknown", bytes.NewReader(chatBody("c")))
	req.Header.Set("Authorization", "Bearer "+echoedKey)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(got) != 0 || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("replayed withheld body: %d %q (encoding %q), want 200, empty, no encoding", resp.StatusCode, got, resp.Header.Get("Content-Encoding"))
	}
}

// TestClientGoneMidStream checks that an agent hanging up during a stream
// is recorded as the client going away, not as an upstream cut.
func TestClientGoneMidStream(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hel\"}}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer up.Close()
	defer close(release)
	dir := t.TempDir()
	p, srv := startProxy(t, Options{Upstream: up.URL, RecordDir: dir})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	io.ReadAtLeast(resp.Body, buf, 1)
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Recorded == 0 && time.Now().Before(deadline) {
		flush(t, p)
		time.Sleep(10 * time.Millisecond)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "cassettes", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cassettes %v, want 1", files)
	}
	f, _ := os.Open(files[0])
	c, err := cassette.Read(f, files[0])
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Interactions[0].Error; !strings.HasPrefix(e, "client went away") {
		t.Errorf("recorded error %q, want it to say the client went away", e)
	}
}
