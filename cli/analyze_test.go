package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAnalyzeExitCodes pins the exit-status contract CI gates rely on:
// 0 report only, 1 findings at or above --fail-on, 2 bad input or usage.
func TestAnalyzeExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cascade := filepath.Join("..", "examples", "refund-cascade.json")
	ok := write("clean.json", `[{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! How can I help?"}]`)
	bad := write("bad.json", `[{"role": "user", "content": `)
	cfg := write("bad.yaml", "tools: [\n")
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"analyze", cascade}, ExitOK},
		{[]string{"analyze", "--fail-on", "none", cascade}, ExitOK},
		{[]string{"analyze", "--fail-on", "high", cascade}, ExitFindings},
		{[]string{"analyze", "--fail-on", "high", "--format", "json", ok}, ExitOK},
		{[]string{"analyze", "--fail-on", "low", ok, cascade}, ExitFindings},
		{[]string{"analyze", ok, bad}, ExitUsage},
		{[]string{"analyze", "--fail-on", "high", cascade, bad}, ExitUsage}, // bad input wins over findings
		{[]string{"analyze", "--config", cfg, ok}, ExitUsage},
		{[]string{"analyze", "--config", filepath.Join(dir, "missing.yaml"), ok}, ExitUsage},
		{[]string{"analyze", "--fail-on", "severe", ok}, ExitUsage},
		{[]string{"analyze"}, ExitUsage},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		got := Main(tt.args, strings.NewReader(""), &stdout, &stderr)
		if got != tt.want {
			t.Errorf("probity %s: exit %d, want %d (stderr: %s)", strings.Join(tt.args, " "), got, tt.want, stderr.String())
		}
	}
}
