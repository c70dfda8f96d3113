package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/probity/probity/internal/cputime"
	"github.com/probity/probity/policy"
	"github.com/probity/probity/store"
	"github.com/probity/probity/store/sqlite"
	"github.com/probity/probity/store/storetest"
)

// BenchmarkAddSpans writes batches of 4096 spans (64 traces of 8 spans of
// about 600 bytes), as the server's group commit does under load.
//
//	go test ./store/sqlite -run '^$' -bench AddSpans -benchtime 20x
func BenchmarkAddSpans(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	res := []byte("service.name=shop-agent telemetry.sdk.language=go")
	data := make([]byte, 600)
	const per = 4096
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	batches := make([][]store.Span, b.N)
	for n := range batches {
		spans := make([]store.Span, per)
		for i := range spans {
			tr, sp := i/8, i%8
			spans[i] = store.Span{TraceID: fmt.Sprintf("%08x%024x", n, tr), SpanID: fmt.Sprintf("%016x", sp+1),
				Start: base.Add(time.Duration(i) * time.Millisecond), End: base.Add(time.Duration(i+1) * time.Millisecond),
				Service: "shop-agent", Resource: res, Data: data}
			if sp > 0 {
				spans[i].ParentID = fmt.Sprintf("%016x", 1)
			}
		}
		batches[n] = spans
	}
	b.ResetTimer()
	cpu0 := cputime.Used()
	for n := 0; n < b.N; n++ {
		if _, err := db.AddSpans(context.Background(), batches[n]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64((cputime.Used()-cpu0).Microseconds())/float64(b.N*per), "cpu_us/span")
}

// BenchmarkGuardReserve is a shared budget's check and charge (two
// budgets, one transaction), beside the in-memory ledger in the same run.
//
//	go test ./store/sqlite -run '^$' -bench GuardReserve -benchtime 2s
func BenchmarkGuardReserve(b *testing.B) {
	b.Run("memory", func(b *testing.B) { storetest.BenchReserve(b, policy.NewMemoryLedger()) })
	b.Run("sqlite", func(b *testing.B) {
		db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		storetest.BenchReserve(b, db.GuardState())
	})
}
