package eval

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/probity/probity/internal/testagent"
	"github.com/probity/probity/stats"
)

// startAgentProcess runs the test agent as an HTTP server in a child
// process with a fixed latency and returns its URL.
func startAgentProcess(b *testing.B, latency time.Duration) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROBITY_TESTAGENT_SERVE=1", "PROBITY_TESTAGENT_LATENCY="+latency.String())
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("agent process: %v", err)
	}
	return strings.TrimSpace(line)
}

// heapSampler records the peak of live heap bytes while a run goes on.
type heapSampler struct {
	peak atomic.Uint64 // heap objects, live or not yet collected
	live atomic.Uint64 // live heap as of the last GC: what the run retains
	stop chan struct{}
	done chan struct{}
}

func sampleHeap() *heapSampler {
	runtime.GC()
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	go func() {
		defer close(h.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			if v := s[1].Value.Uint64(); v > h.live.Load() {
				h.live.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 { close(h.stop); <-h.done; return h.peak.Load() }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type loadResult struct {
	makespan, ideal time.Duration
	cpuPerTrial     time.Duration
	peakHeap        uint64
	peakLive        uint64
}

// runLoad runs cases × trials against url at concurrency and measures it.
func runLoad(b *testing.B, url string, cases, trials, concurrency int, latency time.Duration) loadResult {
	b.Helper()
	var lines []string
	for i := range cases {
		lines = append(lines, fmt.Sprintf(`{"id": "case-%03d", "input": {"answer": "ok", "p": 0.9, "tools": ["lookup", "refund"]}, "expected": {"answer": "ok"}}`, i))
	}
	dir := writeFiles(b, map[string]string{
		"s.yaml": fmt.Sprintf("name: load\ntarget: {http: {url: '%s'}}\ndataset: cases.jsonl\ntrials: %d\nconcurrency: %d\nassert:\n  - {type: equals, path: $.answer}\n  - {type: tool-called, tool: refund}\n  - cel: 'output.answer == expected.answer'\n",
			url, trials, concurrency),
		"cases.jsonl": jsonlCases(lines...),
	})
	s, err := LoadSuite(filepath.Join(dir, "s.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	cs, _ := s.LoadCases()
	r, err := NewRunner(s, cs, Options{})
	if err != nil {
		b.Fatal(err)
	}
	w, err := CreateRun(filepath.Join(dir, "run.jsonl"), r.Header())
	if err != nil {
		b.Fatal(err)
	}
	h := sampleHeap()
	cpu0 := cpuTime()
	start := time.Now()
	res, err := r.Run(context.Background(), w, nil)
	makespan := time.Since(start)
	cpu := cpuTime() - cpu0
	peak := h.Stop()
	live := h.live.Load()
	w.Close()
	if err != nil || res.Done != cases*trials || res.Errors != 0 {
		b.Fatalf("run: %v, %d done, %d errors", err, res.Done, res.Errors)
	}
	n := cases * trials
	ideal := time.Duration(math.Ceil(float64(n)/float64(concurrency))) * latency
	return loadResult{makespan: makespan, ideal: ideal, cpuPerTrial: cpu / time.Duration(n), peakHeap: peak, peakLive: live}
}

// BenchmarkLoad10k: 10,000 trials against a loopback target with a fixed
// 50 ms latency at concurrency 256 (100 cases × 100 trials), and the same
// suite with 2,000 trials (100 × 20) to show memory does not grow with the
// number of trials. Reproduce with:
//
//	go test ./eval -run '^$' -bench BenchmarkLoad10k -benchtime 1x
func BenchmarkLoad10k(b *testing.B) {
	const latency = 50 * time.Millisecond
	url := startAgentProcess(b, latency)
	runLoad(b, url, 10, 26, 256, latency) // warm connections and code paths
	for range b.N {
		small := runLoad(b, url, 100, 20, 256, latency)
		big := runLoad(b, url, 100, 100, 256, latency)
		b.ReportMetric(big.makespan.Seconds()/big.ideal.Seconds(), "makespan/ideal")
		b.ReportMetric(big.makespan.Seconds(), "makespan-s")
		b.ReportMetric(float64(big.cpuPerTrial.Microseconds()), "cpu-µs/trial")
		b.ReportMetric(float64(big.peakHeap)/(1<<20), "peak-heap-MiB-10k")
		b.ReportMetric(float64(small.peakHeap)/(1<<20), "peak-heap-MiB-2k")
		b.ReportMetric(float64(big.peakHeap)/float64(small.peakHeap), "heap-10k/2k")
		b.ReportMetric(float64(big.peakLive)/(1<<20), "live-heap-MiB-10k")
		b.ReportMetric(float64(small.peakLive)/(1<<20), "live-heap-MiB-2k")
		b.ReportMetric(float64(big.peakLive)/float64(small.peakLive), "live-10k/2k")
	}
}

// BenchmarkSequentialVsFixed runs cases with known pass rates through the
// runner with sequential stopping (SPRT between p0 = 0.8 and p1 = 0.9,
// α = 0.05, β = 0.2, cap 4 × 82) and reports the mean trials per case
// against the fixed-n test with the same error rates (n = 82), and the
// observed error rates. Reproduce with:
//
//	go test ./eval -run '^$' -bench BenchmarkSequentialVsFixed -benchtime 1x
func BenchmarkSequentialVsFixed(b *testing.B) {
	n, _, err := stats.FixedNDesign(0.8, 0.9, 0.05, 0.8)
	if err != nil {
		b.Fatal(err)
	}
	url := startAgent(b, &testagent.Agent{Seed: 21})
	rates := []float64{0.8, 0.85, 0.9, 0.95}
	const per = 200
	for range b.N {
		var lines []string
		for _, p := range rates {
			for i := range per {
				lines = append(lines, caseLine(fmt.Sprintf("p%.2f-%03d", p, i), p))
			}
		}
		path := suiteFile(b, url, fmt.Sprintf("trials: %d\nstop: {mode: sequential, p0: 0.8, p1: 0.9}\n", 4*n), lines)
		run, _ := runSuite(b, path, Options{})
		sum := Summarize(run, nil)
		used := map[string]float64{}
		passed := map[string]float64{}
		for _, c := range sum.Cases {
			k := c.ID[1:5]
			if c.Stopped != nil {
				used[k] += float64(c.Stopped.Trials)
				if c.Stopped.Decision == StatusPass {
					passed[k]++
				}
			} else {
				used[k] += float64(c.Trials)
			}
		}
		for _, p := range rates {
			k := fmt.Sprintf("%.2f", p)
			b.ReportMetric(used[k]/per, "trials@"+k)
			b.ReportMetric(used[k]/per/float64(n), "vs-fixed@"+k)
			b.ReportMetric(passed[k]/per, "P(pass)@"+k)
		}
		b.ReportMetric(float64(n), "fixed-n")
	}
}
