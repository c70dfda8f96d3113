package detectbench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/detect"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/provenance"
)

// speedInputs are the real files the speed benchmark reads.
func speedInputs(tb testing.TB) (args, files []string) {
	dir := shareddata.Dir(tb)
	args = []string{
		filepath.Join(dir, "tau-bench", "gpt-4o-airline.json"),
		filepath.Join(dir, "agentrx-tau-retail", "trajectories.json"),
		filepath.Join(dir, "swebench-gemini3pro", "trajs"),
		filepath.Join(dir, "who-and-when", "algorithm-generated"),
	}
	files, err := ingest.Expand(args)
	if err != nil {
		tb.Fatal(err)
	}
	return args, files
}

// BenchmarkAnalyzeVsDecode measures, in one run, the time `probity analyze`
// spends (import + provenance + every detector) against the time merely to
// JSON-decode the same files into generic values, and reports the ratio
// (goal <= 2.0), the same ratio for import alone, steps per second and
// allocations per step of analysis (import included). The ratio is also
// given in CPU time, which a shared machine's load disturbs less:
//
//	go test ./internal/detectbench -run '^$' -bench AnalyzeVsDecode -benchtime 3x
func BenchmarkAnalyzeVsDecode(b *testing.B) {
	args, files := speedInputs(b)
	ctx := context.Background()
	ds := detect.Default()
	var decode, imp, analyze time.Duration
	var decodeCPU, importCPU, analyzeCPU time.Duration
	var steps int
	var mallocs uint64
	var ms runtime.MemStats
	b.ResetTimer()
	for range b.N {
		t0, c0 := time.Now(), cpuTime()
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
		t1, c1 := time.Now(), cpuTime()
		decodeCPU += c1 - c0
		// Import alone, so the report can say which part costs what.
		if err := ingest.Each(ctx, args, ingest.Options{}, func(*probity.Trace) error { return nil }); err != nil {
			b.Fatal(err)
		}
		tImp, cImp := time.Now(), cpuTime()
		imp += tImp.Sub(t1)
		importCPU += cImp - c1
		t1, c1 = tImp, cImp
		runtime.ReadMemStats(&ms)
		m0 := ms.Mallocs
		err := ingest.Each(ctx, args, ingest.Options{}, func(t *probity.Trace) error {
			steps += len(t.Steps)
			r := detect.Run(t, nil, ds)
			_ = r
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		analyzeCPU += cpuTime() - c1
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - m0
		decode += t1.Sub(t0)
		analyze += t2.Sub(t1)
	}
	b.ReportMetric(analyze.Seconds()/decode.Seconds(), "analyze/decode")
	b.ReportMetric(imp.Seconds()/decode.Seconds(), "import/decode")
	b.ReportMetric(analyzeCPU.Seconds()/decodeCPU.Seconds(), "analyze/decode-cpu")
	b.ReportMetric(importCPU.Seconds()/decodeCPU.Seconds(), "import/decode-cpu")
	b.ReportMetric(float64(steps)/analyze.Seconds(), "steps/s")
	b.ReportMetric(float64(mallocs)/float64(steps), "allocs/step")
}

// BenchmarkDetectors times each detector alone on the same traces, with
// provenance computed beforehand, to show where analysis time goes:
//
//	go test ./internal/detectbench -run '^$' -bench Detectors
func BenchmarkDetectors(b *testing.B) {
	args, _ := speedInputs(b)
	var traces []*probity.Trace
	var provs []*provenance.Analysis
	if err := ingest.Each(context.Background(), args, ingest.Options{}, func(t *probity.Trace) error {
		traces = append(traces, t)
		provs = append(provs, provenance.Analyze(t))
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.Run("provenance", func(b *testing.B) {
		for range b.N {
			for _, t := range traces {
				provenance.Analyze(t)
			}
		}
	})
	for _, d := range detect.Default() {
		b.Run(d.ID(), func(b *testing.B) {
			for range b.N {
				for i, t := range traces {
					d.Detect(&detect.Context{Trace: t, Prov: provs[i]})
				}
			}
		})
	}
}
