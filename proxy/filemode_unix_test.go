//go:build unix

package proxy

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRecordingsArePrivate: cassettes and traces hold conversations, so
// they are written 0600 whatever the umask allows (and never more than it
// allows); they were chmod-ed to 0644 even under umask 077.
func TestRecordingsArePrivate(t *testing.T) {
	for _, umask := range []int{0o022, 0o077} {
		old := syscall.Umask(umask)
		dir := t.TempDir()
		up := echoUpstream(t)
		p, srv := startProxy(t, Options{Upstream: up.URL, RecordDir: dir})
		chat(t, srv.URL, "hello")
		flush(t, p)
		syscall.Umask(old)
		checkPrivate(t, dir, 2)
	}
}

// checkPrivate fails unless dir holds at least min files, each mode 0600.
func checkPrivate(t *testing.T, dir string, min int) {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		st, err := os.Stat(p)
		if err != nil {
			t.Error(err)
			return nil
		}
		if got := st.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", p, got)
		}
		return nil
	})
	if n < min {
		t.Errorf("%s holds %d files, want at least %d", dir, n, min)
	}
}
