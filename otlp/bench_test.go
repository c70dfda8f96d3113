package otlp_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/otlp"
)

// BenchmarkConvert measures writing the 200 τ-bench runs as OTLP/JSON and
// reading that back, in MB/s of OTLP/JSON and allocations per step:
//
//	go test ./otlp -run '^$' -bench Convert -benchmem
func BenchmarkConvert(b *testing.B) {
	traces, err := ingest.ReadAll(context.Background(), shareddata.Path(b, "tau-bench", "gpt-4o-airline.json"), ingest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	steps := 0
	for _, t := range traces {
		steps += len(t.Steps)
	}
	var buf bytes.Buffer
	if err := otlp.Write(&buf, traces...); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Run("Write", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if err := otlp.Write(io.Discard, traces...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(steps), "ns/step")
	})
	b.Run("Read", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			err := otlp.Read(context.Background(), "x", bytes.NewReader(data), func(*probity.Trace) error { n++; return nil })
			if err != nil || n != len(traces) {
				b.Fatalf("Read: %d traces, %v", n, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(steps), "ns/step")
	})
}
