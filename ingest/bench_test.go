package ingest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
)

// BenchmarkImport measures import throughput (MB/s of input) and
// allocations per step, on real files and on large generated sets:
//
//	go test ./ingest -run XXX -bench Import -benchtime 5x
//
// Absolute MB/s depends on the machine and its load; taubench-vs-baseline
// interleaves the importer with a naive encoding/json decode of the same
// file and reports the ratio ("speedup"), which is the number to compare.
//
// peak-heap-MB samples the live heap while reading, to show that memory
// follows the largest record rather than the file.
func BenchmarkImport(b *testing.B) {
	dir, err := shareddata.Find()
	cases := []struct {
		name string
		args func(b *testing.B) []string
	}{}
	if err == nil {
		cases = append(cases,
			struct {
				name string
				args func(b *testing.B) []string
			}{"taubench-airline", func(*testing.B) []string { return []string{filepath.Join(dir, "tau-bench", "gpt-4o-airline.json")} }},
			struct {
				name string
				args func(b *testing.B) []string
			}{"whowhen-126", func(*testing.B) []string { return []string{filepath.Join(dir, "who-and-when", "algorithm-generated")} }},
			struct {
				name string
				args func(b *testing.B) []string
			}{"sweagent-99", func(*testing.B) []string { return []string{filepath.Join(dir, "swebench-gemini3pro", "trajs")} }},
		)
	}
	cases = append(cases,
		struct {
			name string
			args func(b *testing.B) []string
		}{"generated-taubench-40MB", func(b *testing.B) []string { return []string{generateTau(b, 40<<20)} }},
		struct {
			name string
			args func(b *testing.B) []string
		}{"generated-chat-jsonl-40MB", func(b *testing.B) []string { return []string{generateChat(b, 40<<20)} }},
	)
	if err == nil {
		// The yardstick for the numbers above, measured in the same run: a
		// naive importer that reads the whole τ-bench file into memory and
		// decodes it into maps with encoding/json. Compare MB/s as a ratio.
		b.Run("baseline-unmarshal-any-taubench", func(b *testing.B) {
			path := filepath.Join(dir, "tau-bench", "gpt-4o-airline.json")
			b.SetBytes(inputSize(b, []string{path}))
			b.ReportAllocs()
			for b.Loop() {
				data, err := os.ReadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				var v any
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if err == nil {
		// The same comparison interleaved, iteration by iteration, so that
		// both sides see the same machine load: speedup is how many times
		// faster than the baseline the importer is.
		b.Run("taubench-vs-baseline", func(b *testing.B) {
			path := filepath.Join(dir, "tau-bench", "gpt-4o-airline.json")
			var ours, base time.Duration
			for b.Loop() {
				t0 := time.Now()
				data, err := os.ReadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				var v any
				if err := json.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := ingest.Each(context.Background(), []string{path}, ingest.Options{}, func(*probity.Trace) error { return nil }); err != nil {
					b.Fatal(err)
				}
				base += t1.Sub(t0)
				ours += time.Since(t1)
			}
			b.ReportMetric(base.Seconds()/ours.Seconds(), "speedup")
		})
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			args := tc.args(b)
			size := inputSize(b, args)
			b.SetBytes(size)
			b.ReportAllocs()
			var steps, traces int
			var peak uint64
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base, mallocs := ms.HeapAlloc, ms.Mallocs
			b.ResetTimer()
			for b.Loop() {
				steps, traces = 0, 0
				err := ingest.Each(context.Background(), args, ingest.Options{}, func(t *probity.Trace) error {
					steps += len(t.Steps)
					traces++
					if traces%200 == 0 {
						var m runtime.MemStats
						runtime.ReadMemStats(&m)
						peak = max(peak, m.HeapAlloc)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			if steps == 0 {
				b.Fatal("no steps")
			}
			b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(b.N)/float64(steps), "allocs/step")
			b.ReportMetric(float64(steps), "steps/op")
			if peak > base {
				b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MB")
			}
		})
	}
}

func inputSize(b *testing.B, args []string) int64 {
	paths, err := ingest.Expand(args)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// generateTau writes a τ-bench-shaped list of synthetic runs of about size
// bytes: 40-message conversations with tool calls and results.
func generateTau(b *testing.B, size int64) string {
	path := filepath.Join(b.TempDir(), "tau-big.json")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("[\n")
	var written int64
	for run := 0; written < size; run++ {
		traj := syntheticMessages(run, 40)
		rec, _ := json.Marshal(map[string]any{
			"task_id": run / 4, "trial": run % 4, "reward": float64(run % 2),
			"info": map[string]any{"task": map[string]any{"instruction": "You are user_" + fmt.Sprint(run), "actions": []any{}}},
			"traj": traj,
		})
		if run > 0 {
			w.WriteString(",\n")
		}
		n, _ := w.Write(rec)
		written += int64(n)
	}
	w.WriteString("\n]\n")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}

// generateChat writes JSON Lines, one OpenAI request body per line.
func generateChat(b *testing.B, size int64) string {
	path := filepath.Join(b.TempDir(), "chat-big.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	var written int64
	for i := 0; written < size; i++ {
		rec, _ := json.Marshal(map[string]any{"model": "gpt-4o", "temperature": 0, "messages": syntheticMessages(i, 40)})
		n, _ := w.Write(rec)
		w.WriteByte('\n')
		written += int64(n) + 1
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}

func syntheticMessages(seed, n int) []any {
	msgs := []any{map[string]any{"role": "system", "content": "The current time is 2024-05-15 15:00:00 EST. You are a support agent."}}
	for i := 1; len(msgs) < n; i++ {
		id := fmt.Sprintf("call_%d_%d", seed, i)
		msgs = append(msgs,
			map[string]any{"role": "user", "content": fmt.Sprintf("Please check order #W%07d for me, it has not arrived.", seed*100+i)},
			map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"id": id, "type": "function",
				"function": map[string]any{"name": "get_order_details", "arguments": fmt.Sprintf(`{"order_id": "#W%07d"}`, seed*100+i)}}}},
			map[string]any{"role": "tool", "tool_call_id": id, "name": "get_order_details",
				"content": fmt.Sprintf(`{"order_id": "#W%07d", "status": "delivered", "items": [{"name": "Desk Lamp", "price": 153.23}], "address": {"city": "Austin", "zip": "78750"}}`, seed*100+i)},
			map[string]any{"role": "assistant", "content": "Your order was delivered to Austin, 78750. Is there anything else?"},
		)
	}
	return msgs
}
