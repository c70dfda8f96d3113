package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoFixturesInBinary keeps test fixtures out of the product: the demo
// agent lives in examples/agent, and the binary must not link the internal
// test agent (or any other test-only package) to offer it as a command.
func TestNoFixturesInBinary(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		if inCI() {
			t.Fatal("no go command, and CI=true")
		}
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "github.com/probity/probity/cmd/probity").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	fixtures := map[string]string{
		"github.com/probity/probity/internal/testagent":  "a test fixture; the demo agent is examples/agent",
		"github.com/probity/probity/internal/mcptest":    "a test fixture",
		"github.com/probity/probity/internal/shareddata": "reads ../shared/data for tests",
		"github.com/probity/probity/internal/pgtest":     "a test fixture",
		"github.com/probity/probity/internal/judgetest":  "a scripted model for the judge's tests",
	}
	for _, dep := range strings.Fields(string(out)) {
		if why, ok := fixtures[dep]; ok {
			t.Errorf("cmd/probity links %s: %s", dep, why)
		}
	}
}
