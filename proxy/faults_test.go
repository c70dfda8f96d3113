package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/probity/probity/proxy/cassette"
)

const chatBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`

// post sends a chat request through the proxy with a deadline, so a hang
// fails the test instead of stalling it.
func post(t *testing.T, url, run string) (int, http.Header, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", strings.NewReader(chatBody))
	req.Header.Set("Authorization", "Bearer "+openaiKey)
	req.Header.Set(RunHeader, run)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// readCassette reads the recorded run and fails if the file is not a
// valid cassette.
func readCassette(t *testing.T, dir, run string) *cassette.Cassette {
	t.Helper()
	f, err := os.Open(CassettePath(dir, run))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := cassette.Read(f, f.Name())
	if err != nil {
		t.Fatalf("cassette of %s is corrupt: %v", run, err)
	}
	return c
}

func TestFaults(t *testing.T) {
	dir := t.TempDir()
	// A port with nothing listening: take one and close it.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := ln.Addr().String()
	ln.Close()

	var mu sync.Mutex
	upstreamGone := map[string]bool{}
	h := http.NewServeMux()
	h.HandleFunc("/slow/", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	h.HandleFunc("/reset/", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.(*net.TCPConn).SetLinger(0) // close with RST
		conn.Close()
	})
	h.HandleFunc("/midreset/", func(w http.ResponseWriter, r *http.Request) {
		conn, bw, _ := http.NewResponseController(w).Hijack()
		fmt.Fprint(bw, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		fmt.Fprint(bw, "1c\r\ndata: {\"choices\":[]}\n\n\r\n")
		bw.Flush()
		time.Sleep(50 * time.Millisecond)
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	})
	h.HandleFunc("/stall/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	h.HandleFunc("/malformed/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"choices":[{"message":{"role":"assistant","tool_calls":[{"function":{"name":`)
	})
	h.HandleFunc("/ratelimit/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
	})
	h.HandleFunc("/endless/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i); err != nil {
				break
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(5 * time.Millisecond):
			case <-r.Context().Done():
				mu.Lock()
				upstreamGone["endless"] = true
				mu.Unlock()
				return
			}
		}
	})
	up := httptest.NewServer(h)
	defer up.Close()

	cases := []struct {
		name       string
		upstream   string
		wantStatus int
		wantCode   string // X-Probity-Error, for errors the proxy made
		wantErr    string // in the cassette's Error
	}{
		{"down", "http://" + deadAddr, 502, "probity_upstream_unreachable", "probity_upstream_unreachable"},
		{"slow", up.URL + "/slow", 504, "probity_upstream_timeout", "timeout"},
		{"reset", up.URL + "/reset", 502, "probity_upstream_unreachable", "probity_upstream_unreachable"},
		{"midreset", up.URL + "/midreset", 200, "", "upstream body cut"},
		{"stall", up.URL + "/stall", 200, "", "upstream sent nothing for"},
		{"malformed", up.URL + "/malformed", 200, "", ""},
		{"ratelimit", up.URL + "/ratelimit", 429, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, srv := startProxy(t, Options{Upstream: tc.upstream, RecordDir: dir,
				ResponseTimeout: 300 * time.Millisecond, StreamIdleTimeout: 300 * time.Millisecond})
			status, hdr, body, err := post(t, srv.URL, tc.name)
			if err != nil && status == 0 {
				t.Fatalf("request failed instead of getting an answer: %v", err)
			}
			if status != tc.wantStatus {
				t.Errorf("status %d, want %d (body %s)", status, tc.wantStatus, body)
			}
			if got := hdr.Get("X-Probity-Error"); got != tc.wantCode {
				t.Errorf("X-Probity-Error %q, want %q", got, tc.wantCode)
			}
			if tc.wantCode != "" {
				var e struct {
					Error struct{ Type, Message string }
				}
				if json.Unmarshal(body, &e) != nil || e.Error.Type != tc.wantCode || e.Error.Message == "" {
					t.Errorf("error body %s, want JSON with error.type %s", body, tc.wantCode)
				}
			}
			if tc.name == "ratelimit" && (hdr.Get("Retry-After") != "7" || !strings.Contains(string(body), "rate_limit_exceeded")) {
				t.Errorf("429 not passed through unchanged: %v %s", hdr, body)
			}
			flush(t, p)
			c := readCassette(t, dir, tc.name)
			if len(c.Interactions) != 1 {
				t.Fatalf("%d interactions recorded, want 1", len(c.Interactions))
			}
			got := c.Interactions[0].Error
			if (tc.wantErr == "") != (got == "") || !strings.Contains(got, tc.wantErr) {
				t.Errorf("recorded error %q, want one containing %q", got, tc.wantErr)
			}
		})
	}

	t.Run("client disconnects mid-stream", func(t *testing.T) {
		p, srv := startProxy(t, Options{Upstream: up.URL + "/endless", RecordDir: dir})
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions", strings.NewReader(chatBody))
		req.Header.Set(RunHeader, "gone")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		for i := 0; i < 3; i++ {
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		resp.Body.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			gone := upstreamGone["endless"]
			mu.Unlock()
			if gone {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the upstream request was not cancelled after the client left")
			}
			time.Sleep(10 * time.Millisecond)
		}
		flush(t, p)
		c := readCassette(t, dir, "gone")
		if e := c.Interactions[0].Error; !strings.Contains(e, "client went away") && !strings.Contains(e, "canceled") {
			t.Errorf("recorded error %q, want the client's departure", e)
		}
	})

	t.Run("full disk", func(t *testing.T) {
		fdir := t.TempDir()
		fs := &failingFS{}
		cup := newUpstream(t)
		p, srv := startProxy(t, Options{Upstream: cup.URL, RecordDir: fdir, FS: fs})
		ok := cassette.Interaction{Response: &cassette.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: cassette.NewBody([]byte(`{"choices":[{"message":{"role":"assistant","content":"hello"}}]}`))}}
		cup.push(ok, ok, ok)
		if st, _, _, _ := post(t, srv.URL, "disk"); st != 200 {
			t.Fatalf("status %d, want 200", st)
		}
		flush(t, p)
		first := readCassette(t, fdir, "disk")
		fs.fail(true)
		if st, _, body, _ := post(t, srv.URL, "disk"); st != 200 || !strings.Contains(string(body), "hello") {
			t.Fatalf("with a full disk the agent got %d %s; want its answer", st, body)
		}
		flush(t, p)
		if p.Stats().WriteErrors == 0 {
			t.Errorf("no write error counted with a full disk")
		}
		if c := readCassette(t, fdir, "disk"); len(c.Interactions) != len(first.Interactions) {
			t.Errorf("cassette changed during the failed write: %d interactions, want %d", len(c.Interactions), len(first.Interactions))
		}
		fs.fail(false)
		post(t, srv.URL, "disk")
		flush(t, p)
		if c := readCassette(t, fdir, "disk"); len(c.Interactions) != 3 {
			t.Errorf("after the disk recovered the cassette has %d interactions, want all 3", len(c.Interactions))
		}
		assertNoSecrets(t, fdir, openaiKey)
	})
	assertNoSecrets(t, dir, openaiKey)
}

// failingFS writes through the OS but can be switched to fail every
// write with ENOSPC, as a full disk does.
type failingFS struct {
	mu     sync.Mutex
	broken bool
}

func (f *failingFS) fail(b bool) { f.mu.Lock(); f.broken = b; f.mu.Unlock() }

func (f *failingFS) MkdirAll(dir string) error { return OSFS{}.MkdirAll(dir) }

func (f *failingFS) WriteAtomic(name string, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	return f.WriteFileAtomic(name, buf.Bytes())
}

func (f *failingFS) WriteFileAtomic(name string, data []byte) error {
	f.mu.Lock()
	broken := f.broken
	f.mu.Unlock()
	if broken {
		// Half a file, as a full disk leaves it: OSFS must not let it show.
		return fmt.Errorf("write %s: %w", name, errors.Join(syscall.ENOSPC))
	}
	return OSFS{}.WriteFileAtomic(name, data)
}
