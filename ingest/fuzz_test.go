package ingest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/internal/shareddata"
)

// FuzzEach feeds arbitrary bytes through detection and every importer, as
// a file: whatever the input, the result is traces or an EINVALID error
// naming the file, never a panic. Seeds are the good and bad testdata and
// the heads of the real files.
func FuzzEach(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*")
	if dir, err := shareddata.Find(); err == nil {
		seeds = append(seeds,
			filepath.Join(dir, "tau-bench", "gpt-4o-airline.json"),
			filepath.Join(dir, "agentrx-tau-retail", "trajectories.json"),
			filepath.Join(dir, "who-and-when", "algorithm-generated", "1.json"),
			filepath.Join(dir, "swebench-gemini3pro", "trajs", "astropy__astropy-12907", "astropy__astropy-12907.traj.json"))
	}
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:min(len(b), 16<<10)])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "in.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		err := ingest.Each(context.Background(), []string{path}, ingest.Options{MaxRecordBytes: 1 << 20}, func(tr *probity.Trace) error {
			if tr.Source != path || tr.Format == "" {
				t.Fatalf("trace %q: source %q format %q", tr.ID, tr.Source, tr.Format)
			}
			for _, s := range tr.Steps {
				if !s.Kind.Valid() {
					t.Fatalf("step %+v has kind %q", s.Pos, s.Kind)
				}
			}
			return nil
		})
		if err == nil {
			return
		}
		var fe *ingest.FileErrors
		if !errors.As(err, &fe) || len(fe.Errs) != 1 || fe.Errs[0].File != path || fe.Errs[0].Code != probity.EINVALID {
			t.Fatalf("Each = %v, want one EINVALID error naming the file", err)
		}
	})
}
