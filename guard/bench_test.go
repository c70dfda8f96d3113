package guard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
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
