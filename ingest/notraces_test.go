package ingest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
)

// TestNoTraces checks that inputs holding no trace are an EINVALID error
// that lists the skipped files, and that a trace among them clears it.
func TestNoTraces(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name":"x"}`)
	write("sub/nums.json", `[1,2]`)
	write("readme.txt", `not json`)

	each := func(args ...string) (int, error) {
		n := 0
		err := ingest.Each(context.Background(), args, ingest.Options{}, func(*probity.Trace) error { n++; return nil })
		return n, err
	}
	n, err := each(dir)
	var nt *ingest.NoTracesError
	if !errors.As(err, &nt) || n != 0 {
		t.Fatalf("Each(junk dir) = %d traces, %v; want a *NoTracesError", n, err)
	}
	if got := probity.ErrorCode(err); got != probity.EINVALID {
		t.Errorf("ErrorCode = %q, want EINVALID", got)
	}
	if len(nt.Skipped) != 2 || nt.Inputs != 2 {
		t.Errorf("Skipped %d of %d inputs, want 2 of 2", len(nt.Skipped), nt.Inputs)
	}
	for _, want := range []string{"package.json: offset 0: JSON of unknown shape", "nums.json: offset 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	if _, err := each(t.TempDir()); !errors.As(err, &nt) || nt.Inputs != 0 || !strings.Contains(err.Error(), "no .json") {
		t.Errorf("Each(empty dir) = %v, want a NoTracesError naming the extensions", err)
	}

	ex, _ := filepath.Abs("../examples/refund-ok.json")
	b, err := os.ReadFile(ex)
	if err != nil {
		t.Fatal(err)
	}
	write("run.json", string(b))
	if n, err := each(dir); err != nil || n != 1 {
		t.Errorf("Each(dir with a trace) = %d, %v; want 1 trace and no error", n, err)
	}
}
