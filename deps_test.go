package probity_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeanPackages keeps the packages an agent imports at run time lean: the
// domain model uses only the standard library, and the analysis and guard
// packages never pull in the CLI, the servers' SDKs or the eval harness. A
// dependency added by accident fails here, not in a user's go.sum.
func TestLeanPackages(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	forbidden := []string{
		"github.com/spf13/cobra",
		"github.com/openai/openai-go",
		"github.com/anthropics/anthropic-sdk-go",
		"github.com/modelcontextprotocol/go-sdk",
		"github.com/probity/probity/cli",
		"github.com/probity/probity/eval",
		"github.com/probity/probity/proxy",
		// the store's domain and the importers know no database, server
		// or metrics library: only store/sqlite, store/postgres and
		// server do
		"github.com/jackc/pgx",
		"modernc.org/sqlite",
		"github.com/prometheus",
		"github.com/probity/probity/server",
	}
	cases := []struct {
		pkg     string
		stdOnly bool
	}{
		{"github.com/probity/probity", true},
		{"github.com/probity/probity/provenance", false},
		{"github.com/probity/probity/detect", false},
		{"github.com/probity/probity/localize", false},
		{"github.com/probity/probity/analysis", false},
		{"github.com/probity/probity/policy", false},
		{"github.com/probity/probity/guard", false},
		{"github.com/probity/probity/ingest", false},
		{"github.com/probity/probity/store", false},
		{"github.com/probity/probity/otlp", false},
	}
	for _, c := range cases {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", c.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", c.pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == c.pkg {
				continue
			}
			if c.stdOnly && dep != "github.com/probity/probity" {
				t.Errorf("%s imports %s; the domain model must use only the standard library", c.pkg, dep)
			}
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s pulls in %s, which it must not", c.pkg, dep)
				}
			}
		}
	}
}
