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
		{"github.com/probity/probity/policy", false},
		{"github.com/probity/probity/guard", false},
		{"github.com/probity/probity/ingest", false},
		{"github.com/probity/probity/store", false},
		{"github.com/probity/probity/otlp", false},
		{"github.com/probity/probity/inject", false},
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

// TestProductWithoutSDKs keeps the official model SDKs out of the binary:
// they cost it tens of megabytes and a newcomer's first build minutes. The
// product calls model APIs through internal/wire's client; the SDKs are
// used only in tests, as the real clients that prove compatibility.
func TestProductWithoutSDKs(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/probity").Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/probity: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list found %d packages; the check would prove nothing", len(deps))
	}
	for _, dep := range deps {
		for _, f := range []string{"github.com/openai/openai-go", "github.com/anthropics/anthropic-sdk-go"} {
			if strings.HasPrefix(dep, f) {
				t.Errorf("the probity binary depends on %s; call model APIs through internal/wire", dep)
			}
		}
	}
}
