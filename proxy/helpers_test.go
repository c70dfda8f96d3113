package proxy

import (
	"bytes"
	"context"
	"github.com/probity/probity/internal/wire"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/proxy/cassette"
	"github.com/probity/probity/proxy/vcr"
)

// The secrets every test sends; no file the proxy writes may contain them.
const (
	openaiKey    = "sk-proj-SECRETopenai0d7f3b9a61c2"
	anthropicKey = "sk-ant-SECRETanthropic4e8a2c6b"
)

// vcrCassette reads one real vcrpy cassette from the shared data.
func vcrCassette(t testing.TB, rel string) *cassette.Cassette {
	t.Helper()
	p := shareddata.Path(t, append([]string{"cassettes", "openllmetry", "packages"}, strings.Split(rel, "/")...)...)
	c, err := vcr.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// upstream is a loopback model API that answers each request with the next
// queued real recorded response, exactly as the provider sent it
// (compressed bodies compressed, streams event by event).
type upstream struct {
	*httptest.Server
	mu     sync.Mutex
	queue  []cassette.Interaction
	hits   int
	bodies [][]byte
	auth   []string
	delay  time.Duration
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) push(ins ...cassette.Interaction) {
	u.mu.Lock()
	u.queue = append(u.queue, ins...)
	u.mu.Unlock()
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.hits++
	u.bodies = append(u.bodies, body)
	u.auth = append(u.auth, r.Header.Get("Authorization")+r.Header.Get("X-Api-Key"))
	if len(u.queue) == 0 {
		u.mu.Unlock()
		http.Error(w, "test upstream: nothing queued", http.StatusTeapot)
		return
	}
	in := u.queue[0]
	u.queue = u.queue[1:]
	delay := u.delay
	u.mu.Unlock()
	time.Sleep(delay)
	writeUpstream(w, in)
}

// writeUpstream sends in's response as the provider did.
func writeUpstream(w http.ResponseWriter, in cassette.Interaction) {
	raw, _ := vcr.RawResponseBody(in)
	for k, vs := range in.Response.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		w.Header()[http.CanonicalHeaderKey(k)] = vs
	}
	if in.Response.Body.DecodedFrom == "gzip" {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(in.Response.Status)
	if !in.Response.Stream || in.Response.Body.DecodedFrom != "" {
		w.Write(raw)
		return
	}
	for _, ev := range wire.SplitEvents(raw) {
		w.Write(ev)
		w.(http.Flusher).Flush()
	}
}

// startProxy serves a recording proxy in front of up.
func startProxy(t testing.TB, opts Options) (*Proxy, *httptest.Server) {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return p, srv
}

func flush(t testing.TB, p *Proxy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// assertNoSecrets fails when any file under dir contains a secret.
func assertNoSecrets(t testing.TB, dir string, secrets ...string) {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, _ := os.ReadFile(p)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains the secret %q", p, s)
			}
		}
		return nil
	})
	if n == 0 {
		t.Errorf("no file written under %s", dir)
	}
}
