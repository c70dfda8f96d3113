package eval

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity/internal/testagent"
)

// TestMain lets the test binary act as a real exec-target subprocess: with
// PROBITY_TESTAGENT_EXEC set it answers one request as the test agent.
func TestMain(m *testing.M) {
	if os.Getenv("PROBITY_TESTAGENT_EXEC") != "" {
		var seed uint64
		var delta float64
		fmt.Sscan(os.Getenv("PROBITY_AGENT_SEED"), &seed)
		fmt.Sscan(os.Getenv("PROBITY_AGENT_DELTA"), &delta)
		a := &testagent.Agent{Seed: seed, Delta: delta}
		if err := a.RunExec(context.Background(), os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	if os.Getenv("PROBITY_TESTAGENT_SERVE") != "" {
		serveAgentProcess()
	}
	os.Exit(m.Run())
}

// serveAgentProcess serves the test agent over HTTP on loopback, prints its
// URL, and exits when stdin closes: benchmarks run the target in its own
// process so the harness's CPU time is measured alone.
func serveAgentProcess() {
	var latency time.Duration
	if d, err := time.ParseDuration(os.Getenv("PROBITY_TESTAGENT_LATENCY")); err == nil {
		latency = d
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("http://%s/\n", ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	srv := &http.Server{Handler: &testagent.Agent{Seed: 1, Latency: latency}}
	srv.Serve(ln)
	os.Exit(0)
}

// startAgent serves a on a real loopback HTTP server for the test's life.
func startAgent(t testing.TB, a *testagent.Agent) string {
	t.Helper()
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv.URL
}

// writeFiles writes name → content into a fresh directory and returns it.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runSuite loads the suite at path, runs it to a fresh run file and reads
// the file back.
func runSuite(t testing.TB, path string, opts Options) (*Run, *RunResult) {
	t.Helper()
	s, err := LoadSuite(path)
	if err != nil {
		t.Fatalf("LoadSuite: %v", err)
	}
	cases, err := s.LoadCases()
	if err != nil {
		t.Fatalf("LoadCases: %v", err)
	}
	r, err := NewRunner(s, cases, opts)
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	out := filepath.Join(t.TempDir(), "run.jsonl")
	w, err := CreateRun(out, r.Header())
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), w, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	run, err := ReadRun(out)
	if err != nil {
		t.Fatalf("ReadRun: %v", err)
	}
	return run, res
}

// jsonlCases renders cases as JSON Lines.
func jsonlCases(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
