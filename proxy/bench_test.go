package proxy

import (
	"bufio"
	"context"
	"fmt"
	"github.com/probity/probity/internal/wire"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/proxy/cassette"
)

// Benchmarks measure the proxy against direct calls to the same loopback
// upstream in one run, so machine noise hits both sides alike:
//
//	go test ./proxy/ -run '^$' -bench . -benchtime 3000x

const benchChat = "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_chat/test_chat_tool_calls.yaml"
const benchStream = "opentelemetry-instrumentation-openai/tests/traces/cassettes/test_functions/test_open_ai_function_calls_tools_streaming_parallel.yaml"

// fixedUpstream answers every request with in's response.
func fixedUpstream(b *testing.B, in cassette.Interaction) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		writeUpstream(w, in)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func pct(d []time.Duration, q float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1))].Microseconds())
}

// BenchmarkAddedLatency times a real recorded tool-call completion fetched
// directly, through the proxy, and through the recording proxy, taking
// turns so all three see the same conditions. Metrics are microseconds.
func BenchmarkAddedLatency(b *testing.B) {
	c := vcrCassette(b, benchChat)
	in := c.Interactions[0]
	up := fixedUpstream(b, in)
	_, plain := startProxy(b, Options{Upstream: up.URL})
	_, rec := startProxy(b, Options{Upstream: up.URL, RecordDir: b.TempDir()})
	body, _ := in.Request.Body.Bytes()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	get := func(base string) time.Duration {
		start := time.Now()
		req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+openaiKey)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	for _, base := range []string{up.URL, plain.URL, rec.URL} {
		for range 50 { // warm connections
			get(base)
		}
	}
	var direct, proxied, recorded []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		direct = append(direct, get(up.URL))
		proxied = append(proxied, get(plain.URL))
		recorded = append(recorded, get(rec.URL))
	}
	b.StopTimer()
	b.ReportMetric(pct(direct, 0.5), "direct_p50_us")
	b.ReportMetric(pct(direct, 0.99), "direct_p99_us")
	b.ReportMetric(pct(proxied, 0.5), "proxy_p50_us")
	b.ReportMetric(pct(proxied, 0.99), "proxy_p99_us")
	b.ReportMetric(pct(recorded, 0.5), "record_p50_us")
	b.ReportMetric(pct(recorded, 0.99), "record_p99_us")
	b.ReportMetric(pct(proxied, 0.99)-pct(direct, 0.99), "added_p99_us")
	b.ReportMetric(pct(recorded, 0.99)-pct(direct, 0.99), "added_record_p99_us")
}

// BenchmarkStreamTTFB times the first byte of a real recorded streamed
// completion (parallel tool calls), direct and through the proxy, while the
// upstream spaces its events 1 ms apart as a model does.
func BenchmarkStreamTTFB(b *testing.B) {
	c := vcrCassette(b, benchStream)
	in := c.Interactions[0]
	raw, _ := in.Response.Body.Bytes()
	events := wire.SplitEvents(raw)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range events {
			w.Write(ev)
			w.(http.Flusher).Flush()
			time.Sleep(time.Millisecond)
		}
	}))
	defer up.Close()
	_, plain := startProxy(b, Options{Upstream: up.URL, RecordDir: b.TempDir()})
	body, _ := in.Request.Body.Bytes()
	ttfb := func(base string) (time.Duration, time.Duration) {
		start := time.Now()
		resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(string(body)))
		if err != nil {
			b.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if _, err := br.ReadByte(); err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		io.Copy(io.Discard, br)
		resp.Body.Close()
		return first, time.Since(start)
	}
	var dFirst, pFirst, dAll, pAll []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, a := ttfb(up.URL)
		dFirst, dAll = append(dFirst, f), append(dAll, a)
		f, a = ttfb(plain.URL)
		pFirst, pAll = append(pFirst, f), append(pAll, a)
	}
	b.ReportMetric(pct(dFirst, 0.5), "direct_ttfb_p50_us")
	b.ReportMetric(pct(pFirst, 0.5), "proxy_ttfb_p50_us")
	b.ReportMetric(pct(dFirst, 0.99), "direct_ttfb_p99_us")
	b.ReportMetric(pct(pFirst, 0.99), "proxy_ttfb_p99_us")
	b.ReportMetric(pct(dAll, 0.5), "direct_total_p50_us")
	b.ReportMetric(pct(pAll, 0.5), "proxy_total_p50_us")
}

// BenchmarkLongStream sends a 64 MiB event stream through the proxy (not
// recording, and recording with the default 64 MiB cap lowered to 1 MiB)
// and reports the peak heap growth seen while it flows: flat means the
// proxy holds no more than its buffers.
func BenchmarkLongStream(b *testing.B) {
	const total = 64 << 20
	event := []byte("data: " + strings.Repeat("x", 1000) + "\n\n")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for sent := 0; sent < total; sent += len(event) {
			if _, err := w.Write(event); err != nil {
				return
			}
		}
	}))
	defer up.Close()
	for _, mode := range []struct {
		name string
		opts Options
	}{
		{"passthrough", Options{Upstream: up.URL}},
		{"recording-capped", Options{Upstream: up.URL, RecordDir: b.TempDir(), MaxRecordBody: 1 << 20}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			p, srv := startProxy(b, mode.opts)
			var peak uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base := ms.HeapInuse
				resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader("{}"))
				if err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, 64<<10)
				n := 0
				for {
					k, err := resp.Body.Read(buf)
					n += k
					if n%(4<<20) < k { // sample every 4 MiB
						runtime.ReadMemStats(&ms)
						if ms.HeapInuse > base {
							peak = max(peak, ms.HeapInuse-base)
						}
					}
					if err != nil {
						break
					}
				}
				resp.Body.Close()
				if n < total {
					b.Fatalf("got %d bytes, want %d", n, total)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				p.Flush(ctx)
				cancel()
			}
			b.SetBytes(total)
			b.ReportMetric(float64(peak)/(1<<20), "peak_heap_growth_MiB")
			b.ReportMetric(float64(total)/(1<<20), "stream_MiB")
		})
	}
}

// BenchmarkRecordMemory is issue 10 item 7: 100 requests of 1 MB each,
// recorded into one run, must not leave the recording's bytes on the heap.
// It reports the live heap after the recording was flushed (and garbage
// collected) against the heap before the first request:
//
//	go test ./proxy/ -run '^$' -bench RecordMemory -benchtime 1x
func BenchmarkRecordMemory(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	}))
	b.Cleanup(up.Close)
	const calls, size = 100, 1 << 20
	for b.Loop() {
		p, srv := startProxy(b, Options{Upstream: up.URL, RecordDir: b.TempDir()})
		heap := func() float64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return float64(m.HeapAlloc) / (1 << 20)
		}
		before := heap()
		pad := strings.Repeat("x", size)
		for i := range calls {
			body := fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":"%d %s"}]}`, i, pad)
			req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set(RunHeader, "big")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := p.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		after := heap()
		b.ReportMetric(before, "heap_before_MiB")
		b.ReportMetric(after, "heap_after_MiB")
		b.ReportMetric(float64(calls*size)/(1<<20), "recorded_MiB")
	}
}

// BenchmarkReplayLoad is issue 10 item 15: a 64 MB recording held whole
// (Load, as replay did) against indexed (Open). It reports the heap the
// replayer keeps and the time to load, and checks both answer alike:
//
//	go test ./proxy/ -run '^$' -bench ReplayLoad -benchtime 1x
func BenchmarkReplayLoad(b *testing.B) {
	dir := b.TempDir()
	c := cassette.New("big", "http://x", time.Now())
	pad := strings.Repeat("y", 512<<10)
	for i := range 64 {
		body := fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":"%d %s"}]}`, i, pad)
		c.Interactions = append(c.Interactions, cassette.Interaction{Seq: i,
			Request:  cassette.Request{Method: "POST", Path: "/v1/chat/completions", Body: cassette.NewBody([]byte(body))},
			Response: &cassette.Response{Status: 200, Body: cassette.NewBody([]byte(`{"n":` + fmt.Sprint(i) + `,"pad":"` + pad + `"}`))}})
	}
	data, _ := cassette.Marshal(c)
	file := filepath.Join(dir, "big.json")
	os.WriteFile(file, data, 0o600)
	c, data = nil, nil
	heap := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc) / (1 << 20)
	}
	load := map[string]func() (*Replayer, error){
		"whole": func() (*Replayer, error) {
			cs, err := Load(file)
			if err != nil {
				return nil, err
			}
			return NewReplayer(ReplayOptions{Cassettes: cs})
		},
		"indexed": func() (*Replayer, error) {
			ixs, err := Open(file, nil)
			if err != nil {
				return nil, err
			}
			return NewReplayer(ReplayOptions{Recordings: ixs})
		},
	}
	for _, name := range []string{"whole", "indexed"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				before := heap()
				start := time.Now()
				rp, err := load[name]()
				if err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				after := heap()
				b.ReportMetric(after-before, "kept_MiB")
				b.ReportMetric(took.Seconds()*1000, "load_ms")
				b.ReportMetric(float64(len(rp.runs[0].keys)), "calls")
				runtime.KeepAlive(rp)
			}
		})
	}
}
