package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity/analysis"
	"github.com/probity/probity/server"
	"github.com/probity/probity/store/sqlite"
)

// TestEvalRunReportTo runs a suite with --report-to a server running
// in-process: the run file arrives whole, once, under the id the server
// prints, and the run's verdict and exit status are unchanged.
func TestEvalRunReportTo(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, err := server.New(server.Options{Store: db, Analyzer: analysis.New(analysis.Options{}), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background()) }()
	defer func() {
		srv.Stop()
		<-done
	}()

	dir := t.TempDir()
	// The target echoes its request: the input comes back as the output.
	suite := `name: echo
target:
  exec:
    command: [cat]
dataset: cases.jsonl
trials: 3
timeout: 10s
assert:
  - contains: hello
`
	os.WriteFile(filepath.Join(dir, "suite.yaml"), []byte(suite), 0o600)
	os.WriteFile(filepath.Join(dir, "cases.jsonl"), []byte(`{"id":"a","input":"hello"}`+"\n"+`{"id":"b","input":"hello again"}`+"\n"), 0o600)
	runFile := filepath.Join(dir, "run.jsonl")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"eval", "run", filepath.Join(dir, "suite.yaml"), "--out", runFile, "--report-to", "http://" + srv.Addr()}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("eval run exit %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "reported to http://"+srv.Addr()+": eval run ") {
		t.Fatalf("no report line on stderr:\n%s", stderr.String())
	}
	runs, err := db.EvalRuns(t.Context())
	if err != nil || len(runs) != 1 || runs[0].Suite != "echo" || runs[0].Trials != 6 {
		t.Fatalf("stored runs = %+v, %v; want the echo run with 6 trials", runs, err)
	}
	stored, err := db.EvalRun(t.Context(), runs[0].ID)
	want, _ := os.ReadFile(runFile)
	if err != nil || !bytes.Equal(stored.Data, want) {
		t.Errorf("stored run file differs from the one on disk (%v)", err)
	}

	// An unreachable server is a warning that says how to retry.
	stderr.Reset()
	code = Main([]string{"eval", "run", filepath.Join(dir, "suite.yaml"), "--out", runFile + "2", "--report-to", "http://127.0.0.1:9"}, nil, &stdout, &stderr)
	if code != 0 || !strings.Contains(stderr.String(), "retry with: probity push --server http://127.0.0.1:9 "+runFile+"2") {
		t.Errorf("unreachable --report-to: exit %d, stderr:\n%s", code, stderr.String())
	}
}
