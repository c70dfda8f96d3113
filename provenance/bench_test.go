package provenance

import (
	"encoding/json"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
)

// BenchmarkAnalyze measures provenance over real runs against merely
// decoding the same file, in one run:
//
//	go test -run XXX -bench Analyze -benchmem ./provenance
//
// "decode" is encoding/json into generic values; "analyze" is Analyze over
// the already imported traces. The ratio analyze/decode and steps/s are
// reported as metrics.
func BenchmarkAnalyze(b *testing.B) {
	for _, file := range [][]string{{"tau-bench", "gpt-4o-airline.json"}, {"agentrx-tau-retail", "trajectories.json"}} {
		traces := loadTau(b, file...)
		raw, err := os.ReadFile(shareddata.Path(b, file...))
		if err != nil {
			b.Fatal(err)
		}
		steps := 0
		for _, t := range traces {
			steps += len(t.Steps)
		}
		var decodeNs float64
		b.Run(file[0]+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					b.Fatal(err)
				}
			}
			decodeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(file[0]+"/analyze", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				for _, t := range traces {
					Analyze(t)
				}
			}
			perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(steps)/(perOp/1e9), "steps/s")
			if decodeNs > 0 {
				b.ReportMetric(perOp/decodeNs, "x-decode")
			}
		})
	}
}

// BenchmarkAnalyzeHostile measures a step full of unexplained numbers, the
// worst case for the derived-value search.
func BenchmarkAnalyzeHostile(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	var in, out strings.Builder
	for i := 0; i < 2000; i++ {
		in.WriteString(strconv.Itoa(rng.Intn(100000)) + "." + strconv.Itoa(rng.Intn(100)) + " ")
		out.WriteString("$" + strconv.Itoa(rng.Intn(100000)) + " ")
	}
	tr := &probity.Trace{Clock: time.Now(), Steps: []probity.Step{
		{Kind: probity.KindToolResult, Content: in.String()},
		{Kind: probity.KindAssistant, Actor: "a", Content: out.String()},
	}}
	b.ReportAllocs()
	for b.Loop() {
		Analyze(tr)
	}
}
