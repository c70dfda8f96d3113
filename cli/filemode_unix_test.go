//go:build unix

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestConvertOutputIsPrivate: a converted trace holds the conversation, so
// `convert -o` writes it 0600 under an ordinary umask; it was chmod-ed to
// 0644.
func TestConvertOutputIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	out := filepath.Join(t.TempDir(), "trace.otlp.json")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"convert", "-o", out, filepath.Join("..", "examples", "refund-ok.json")}, strings.NewReader(""), &stdout, &stderr); code != ExitOK {
		t.Fatalf("convert exit %d: %s", code, stderr.String())
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("%s: mode %04o, want 0600", out, got)
	}
}
