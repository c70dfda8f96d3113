//go:build unix

package repro

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/probity/probity/proxy"
)

// TestReproFilesArePrivate: a run's log holds what the agent printed (its
// conversation, sometimes a key), so logs, cassettes and traces are written
// 0600 under an ordinary umask; logs were 0644.
func TestReproFilesArePrivate(t *testing.T) {
	t.Setenv("REPRO_TEST_AGENT", "1")
	t.Setenv("OPENAI_API_KEY", apiKey)
	self, _ := os.Executable()
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if _, err := Run(context.Background(), Options{Command: []string{self}, Runs: 1, Concurrency: 1, Dir: dir,
		Proxy: proxy.Options{Upstream: modelAPI(t).URL}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", p, st.Mode().Perm(), err)
		}
		return nil
	})
	if n < 2 {
		t.Errorf("repro wrote %d files, want a log and a recording", n)
	}
}
