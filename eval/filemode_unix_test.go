//go:build unix

package eval

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/probity/probity/internal/testagent"
)

// TestRunFilesArePrivate: run files and the output cache hold every
// target's answers (conversation text), so they are written 0600 under an
// ordinary umask; run files were 0644.
func TestRunFilesArePrivate(t *testing.T) {
	url := startAgent(t, &testagent.Agent{Seed: 1})
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := writeFiles(t, map[string]string{"s.yaml": "name: modes\ntrials: 1\ncache: cache\ntarget: {http: {url: '" + url + "'}}\ncases: [{id: a, input: {answer: ok, p: 1}, expected: {answer: ok}}]\nassert: [{type: equals, path: $.answer}]\n"})
	s, err := LoadSuite(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cases, _ := s.LoadCases()
	r, err := NewRunner(s, cases, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run.jsonl")
	w, err := CreateRun(out, r.Header())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(t.Context(), w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	files := []string{out}
	filepath.WalkDir(filepath.Join(dir, "cache"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if len(files) < 2 {
		t.Fatalf("files written: %v, want the run file and a cache entry", files)
	}
	for _, p := range files {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", p, st.Mode().Perm(), err)
		}
	}
}
