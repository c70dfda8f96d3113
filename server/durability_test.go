package server_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/probity/probity/store/sqlite"
)

// buildProbity builds the probity binary into dir.
func buildProbity(t *testing.T, dir string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(dir, "probity")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/probity").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var serveLine = regexp.MustCompile(`API http://(\S+)\s+OTLP/HTTP (\S+)`)

// serveProcess starts `probity serve` on db and returns it with its API
// and OTLP/HTTP addresses.
func serveProcess(t testing.TB, bin, db string) (*exec.Cmd, string, string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--db", "sqlite:"+db, "--listen", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--otlp-grpc", "", "--trace-idle", "300ms")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	found := make(chan []string, 1)
	go func() {
		for lines.Scan() {
			if m := serveLine.FindStringSubmatch(lines.Text()); m != nil {
				found <- m
				break
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case m := <-found:
		return cmd, m[1], m[2]
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("probity serve did not start")
	}
	return nil, "", ""
}

// durableSpan is one span the test sends, in sending order.
type durableSpan struct {
	trace, span int
	stub        tracetest.SpanStub
}

// TestDurabilitySIGKILL kills `probity serve` with SIGKILL again and again
// while the OpenTelemetry SDK's OTLP/HTTP exporter sends to it. After the
// last restart every span the server acknowledged is in the store, the
// database passes SQLite's integrity check, and every trace, including
// those whose spans straddled a kill, is complete and analysed.
func TestDurabilitySIGKILL(t *testing.T) {
	dir := t.TempDir()
	bin := buildProbity(t, dir)
	db := filepath.Join(dir, "data", "probity.db")

	const traces, per, batch, kills = 120, 6, 13, 4 // 13: batches do not line up with the 30-span windows
	res := sdkresource.NewSchemaless(attribute.String("service.name", "durability"))
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Interleave traces so that each batch holds parts of several and
	// every trace is spread over several batches.
	var seq []durableSpan
	for w := 0; w < traces; w += 5 {
		for i := range per {
			for tr := w; tr < w+5; tr++ {
				var tid trace.TraceID
				var sid, pid trace.SpanID
				copy(tid[:], fmt.Sprintf("dura%012d", tr))
				copy(sid[:], fmt.Sprintf("s%07d", i))
				copy(pid[:], fmt.Sprintf("s%07d", 0))
				stub := tracetest.SpanStub{
					Name:        fmt.Sprintf("step %d", i),
					SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}),
					StartTime:   base.Add(time.Duration(tr)*time.Second + time.Duration(i)*time.Millisecond),
					EndTime:     base.Add(time.Duration(tr)*time.Second + time.Duration(i+1)*time.Millisecond),
					Attributes:  []attribute.KeyValue{attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "lookup"), attribute.String("gen_ai.tool.call.result", fmt.Sprintf("result %d/%d", tr, i))},
					Resource:    res,
				}
				if i > 0 {
					stub.Parent = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: pid, TraceFlags: trace.FlagsSampled})
				}
				seq = append(seq, durableSpan{trace: tr, span: i, stub: stub})
			}
		}
	}

	acked := map[[2]int]bool{}
	ackedIn := map[int]map[int]bool{} // trace → incarnations that acknowledged its spans
	next := 0
	rng := rand.New(rand.NewSource(7))
	// send exports the spans from next on until they are all sent, an
	// export fails (the server was killed), or the deadline passes. Once
	// killAfter spans have been acknowledged it calls kill, which kills the
	// server a moment later while exports go on: the kill lands among
	// exports whatever the machine's speed.
	send := func(incarnation int, otlpAddr string, until time.Time, killAfter int, kill func()) {
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(otlpAddr), otlptracehttp.WithInsecure(),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}), otlptracehttp.WithTimeout(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer exp.Shutdown(context.Background())
		for next < len(seq) && time.Now().Before(until) {
			end := min(next+batch, len(seq))
			var stubs tracetest.SpanStubs
			for _, d := range seq[next:end] {
				stubs = append(stubs, d.stub)
			}
			if err := exp.ExportSpans(context.Background(), stubs.Snapshots()); err != nil {
				return // killed mid-export: resend from next in the next life
			}
			for _, d := range seq[next:end] {
				acked[[2]int{d.trace, d.span}] = true
				if ackedIn[d.trace] == nil {
					ackedIn[d.trace] = map[int]bool{}
				}
				ackedIn[d.trace][incarnation] = true
			}
			next = end
			if next >= killAfter {
				kill()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for k := range kills {
		cmd, _, otlpAddr := serveProcess(t, bin, db)
		// Each life takes about a sixth of the spans, then is killed
		// 0–20 ms later, in the middle of whatever export is in flight.
		killAfter := next + len(seq)/(kills+2) + rng.Intn(3*batch)
		delay := time.Duration(rng.Intn(20)) * time.Millisecond
		killed := make(chan struct{})
		var once sync.Once
		kill := func() {
			once.Do(func() {
				go func() {
					time.Sleep(delay)
					cmd.Process.Signal(syscall.SIGKILL)
					close(killed)
				}()
			})
		}
		send(k, otlpAddr, time.Now().Add(time.Minute), killAfter, kill)
		kill() // an export failed before killAfter: kill anyway
		<-killed
		cmd.Wait()
		t.Logf("life %d: %d of %d spans acknowledged when killed", k, len(acked), len(seq))
	}
	if next == len(seq) {
		t.Fatal("every span was sent before the last kill: the test proves nothing; send more or kill sooner")
	}
	cmd, apiAddr, otlpAddr := serveProcess(t, bin, db)
	send(kills, otlpAddr, time.Now().Add(time.Minute), len(seq)+1, func() {})
	if next != len(seq) {
		t.Fatalf("the last life did not take every span: %d of %d", next, len(seq))
	}
	items := waitAnalysedAt(t, "http://"+apiAddr, traces, 60*time.Second)
	for _, it := range items {
		if it.Spans != per {
			t.Errorf("trace %s has %d spans, want %d", it.TraceID, it.Spans, per)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("probity serve after SIGTERM: %v", err)
	}

	straddled := 0
	for _, lives := range ackedIn {
		if len(lives) > 1 {
			straddled++
		}
	}
	if straddled == 0 {
		t.Error("no trace had spans acknowledged in two lives: incomplete traces were never resumed")
	}
	t.Logf("%d traces straddled a kill", straddled)

	st, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	missing := 0
	for tr := range traces {
		var tid [16]byte
		copy(tid[:], fmt.Sprintf("dura%012d", tr))
		spans, err := st.Spans(context.Background(), hex.EncodeToString(tid[:]))
		if err != nil {
			t.Errorf("trace %d: %v", tr, err)
			continue
		}
		have := map[string]bool{}
		for _, s := range spans {
			have[s.SpanID] = true
		}
		for i := range per {
			var sid [8]byte
			copy(sid[:], fmt.Sprintf("s%07d", i))
			if acked[[2]int{tr, i}] && !have[hex.EncodeToString(sid[:])] {
				missing++
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d acknowledged spans are not in the store", missing)
	}
	raw, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var check string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
}

// waitAnalysedAt is waitAnalysed for a server at a URL.
func waitAnalysedAt(t *testing.T, base string, n int, within time.Duration) []listItem {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var p listPage
		getJSON(t, base+"/api/v1/traces?limit=1000", &p)
		done := 0
		for _, it := range p.Traces {
			if it.Verdict != nil && !it.Stale {
				done++
			}
		}
		if done >= n && len(p.Traces) >= n {
			return p.Traces
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d of %d traces analysed", within, done, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
