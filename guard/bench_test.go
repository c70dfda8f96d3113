package guard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/guard"
)

// BenchmarkDecide compares one decision in-process (Guard.Decide) with the
// same decision through the HTTP service on loopback (POST /v1/decide with a
// keep-alive client), and reports p50 and p99 of each; the difference is
// what `probity guard serve` adds:
//
//	go test ./guard -run '^$' -bench Decide -benchmem
func BenchmarkDecide(b *testing.B) {
	g := newGuard(b, testPolicy, guard.Options{})
	call := func(i int) guard.Call {
		return guard.Call{Run: fmt.Sprint("run-", i%100), Tool: "read_file", Args: json.RawMessage(`{"path":"src/main.go"}`)}
	}
	report := func(b *testing.B, lat []time.Duration) {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
	b.Run("in-process", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		for i := range b.N {
			t0 := time.Now()
			v, err := g.Decide(context.Background(), call(i))
			lat = append(lat, time.Since(t0))
			if err != nil || v.Decision != "allow" {
				b.Fatal(v, err)
			}
		}
		report(b, lat)
	})
	b.Run("http-loopback", func(b *testing.B) {
		c := startServer(b, g)
		c.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		for i := range b.N {
			t0 := time.Now()
			v, err := c.Decide(context.Background(), call(i), false)
			lat = append(lat, time.Since(t0))
			if err != nil || v.Decision != "allow" {
				b.Fatal(v, err)
			}
		}
		report(b, lat)
	})
}

// BenchmarkBigArguments sends forty calls with 10 MB arguments to one run
// and reports what stays: the live heap the run's history holds and the
// audit log written (issue 10 measured 786 MB RSS and 420 MB of log before
// the history and audit limits):
//
//	go test ./guard -run '^$' -bench BigArguments -benchtime 1x
func BenchmarkBigArguments(b *testing.B) {
	big, _ := json.Marshal(map[string]string{"path": "notes.txt", "content": strings.Repeat("x", 10<<20)})
	for range b.N {
		auditPath := filepath.Join(b.TempDir(), "audit.jsonl")
		audit, err := guard.OpenAudit(auditPath)
		if err != nil {
			b.Fatal(err)
		}
		g := newGuard(b, historyPolicy, guard.Options{Audit: audit})
		heap := func() uint64 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		before := heap()
		for range 40 {
			if _, err := g.Decide(context.Background(), guard.Call{Run: "r", Tool: "write_file", Args: big}); err != nil {
				b.Fatal(err)
			}
		}
		after := heap()
		runtime.KeepAlive(g)
		st, _ := os.Stat(auditPath)
		b.ReportMetric(float64(int64(after)-int64(before))/(1<<20), "heap-MiB")
		b.ReportMetric(float64(st.Size())/(1<<20), "audit-MiB")
		audit.Close()
	}
}
