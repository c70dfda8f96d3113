package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/proxy/cassette"
	"github.com/probity/probity/proxy/vcr"
)

const queryKey = "AIzaSECRETgoogle7c1e5d9f3b"

// sendRecorded replays in's request as the recording client sent it (its
// headers, body and query), with our secrets added, to base.
func sendRecorded(t *testing.T, client *http.Client, base, run string, in cassette.Interaction) (*http.Response, []byte) {
	t.Helper()
	body, _ := in.Request.Body.Bytes()
	q, _ := url.ParseQuery(in.Request.Query)
	q.Set("key", queryKey)
	req, err := http.NewRequest(in.Request.Method, base+in.Request.Path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range in.Request.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Connection", "Authorization", "X-Api-Key":
			continue
		}
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	req.Header.Set("Authorization", "Bearer "+openaiKey)
	req.Header.Set("X-Api-Key", anthropicKey)
	req.Header.Set("Cookie", "session="+anthropicKey)
	req.Header.Set(RunHeader, run)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", in.Request.Method, in.Request.Path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}

// TestEveryRecordedInteraction sends every real interaction in the shared
// vcrpy cassettes (OpenAI, Anthropic, Azure, Groq, Cohere, Bedrock, Ollama,
// vector stores, ...) through the proxy, then through replay. Through the
// proxy the client must receive the provider's exact bytes (gzip still
// gzip); through replay the same decoded bytes, with no upstream contact.
func TestEveryRecordedInteraction(t *testing.T) {
	if testing.Short() {
		t.Skip("sweep of every recorded interaction")
	}
	root := shareddata.Path(t, "cassettes", "openllmetry")
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return err
	})
	dir := t.TempDir()
	up := newUpstream(t)
	p, srv := startProxy(t, Options{Upstream: up.URL, RecordDir: dir})
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	type sent struct {
		run string
		in  cassette.Interaction
	}
	var all []sent
	streams, gz := 0, 0
	for i, f := range files {
		c, err := vcr.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		run := fmt.Sprintf("c%03d", i)
		for _, in := range c.Interactions {
			up.push(in)
			resp, got := sendRecorded(t, raw, srv.URL, run, in)
			want, _ := vcr.RawResponseBody(in)
			if resp.StatusCode != in.Response.Status || !bytes.Equal(got, want) {
				t.Errorf("%s call %d via proxy: status %d body %.200q; want %d %.200q", f, in.Seq, resp.StatusCode, got, in.Response.Status, want)
			}
			if in.Response.Stream {
				streams++
			}
			if in.Response.Body.DecodedFrom == "gzip" {
				gz++
				if resp.Header.Get("Content-Encoding") != "gzip" {
					t.Errorf("%s call %d: Content-Encoding %q, want gzip passed through", f, in.Seq, resp.Header.Get("Content-Encoding"))
				}
			}
			all = append(all, sent{run, in})
		}
	}
	if len(all) < 1500 || streams < 50 || gz < 300 {
		t.Errorf("swept %d interactions, %d streams, %d gzip; want at least 1500, 50, 300", len(all), streams, gz)
	}
	flush(t, p)
	if st := p.Stats(); st.WriteErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	assertNoSecrets(t, dir, openaiKey, anthropicKey, queryKey)

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
	for _, s := range all {
		resp, got := sendRecorded(t, raw, rsrv.URL, s.run, s.in)
		want, _ := s.in.Response.Body.Bytes()
		// Replay serves what was recorded, and the recording holds no
		// secrets: tokens and presigned AWS credentials in real answers
		// are REDACTED.
		want = p.Redactor().Bytes(want)
		if resp.StatusCode != s.in.Response.Status || !bytes.Equal(got, want) {
			t.Errorf("run %s call %d via replay: status %d body %.200q; want %d %.200q", s.run, s.in.Seq, resp.StatusCode, got, s.in.Response.Status, want)
		}
	}
	if n := up.count() - before; n != 0 {
		t.Errorf("replay contacted the upstream %d times; want 0", n)
	}

	// Replay straight from the vcrpy files works too (no proxy involved).
	direct, err := Load(files[0])
	if err != nil || len(direct[0].Interactions) == 0 {
		t.Fatalf("Load(%s) = %v, %v", files[0], direct, err)
	}
}
