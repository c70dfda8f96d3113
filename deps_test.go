package probity_test

import (
	"os/exec"
	"slices"
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

const module = "github.com/probity/probity"

// formats are the packages that read one foreign format each into the
// trace model.
var formats = []string{"taubench", "whowhen", "sweagent", "chatlog", "otlp"}

// fixtures are packages that exist for tests: fakes, real-data loaders,
// benchmarks and demo agents. The product binary must not link them.
var fixtures = []string{"internal/testagent", "internal/detectbench", "internal/mcptest", "internal/pgtest",
	"internal/shareddata", "internal/blindinject", "internal/judgetest", "store/storetest", "monitor/monitortest"}

// badDeps are the forbidden edges of the architecture, in the manner of
// tailscale's deptest: from (a package of the module, "" for the root)
// must not depend on to, directly or through another package, for the
// reason given. Paths are relative to the module.
func badDeps() []struct{ from, to, why string } {
	type edge = struct{ from, to, why string }
	out := []edge{
		{"policy", "detect", "tool classes live in toolclass; the policy language and the detectors both read provenance and neither builds on the other"},
		{"provenance", "detect", "data flows one way: detectors read provenance, never the reverse"},
		{"provenance", "policy", "data flows one way: policies read provenance, never the reverse"},
		{"toolclass", "provenance", "tool classes sit below provenance, which asks them which tools are calculators"},
		{"detect", "policy", "detectors and policies are siblings over provenance"},
		{"detect", "guard", "detectors sit below the runtime guard"},
		{"detect", "eval", "detectors sit below the eval harness, which calls them"},
		{"detect", "store", "findings flow into the store, not out of it"},
		{"guard", "detect", "the guard is linked into agents; it decides with the policy alone"},
		{"guard", "eval", "the guard is linked into agents; the eval harness and its model SDKs stay out"},
		{"guard", "proxy", "the proxy calls the guard (ProxyHook), not the reverse"},
		{"store", "store/sqlite", "the store's domain names no backend; backends implement it"},
		{"store", "store/postgres", "the store's domain names no backend; backends implement it"},
		{"stats", "eval", "statistics are a library the eval harness uses"},
		{"analysis", "judge", "the deterministic analysis makes no model call; the judge runs beside it, sampled, and never replaces it"},
		{"localize", "judge", "the deterministic localisation never asks a model; the judge reads its result, not the reverse"},
		{"detect", "judge", "detectors are deterministic and cheap; the judge reads their findings"},
		{"judge", "proxy", "the judge calls models through internal/wire; the recording proxy is for agents, and tests replay the judge through it"},
		{"judge", "eval", "the judge is a tier of analyze, not of the eval harness"},
	}
	for _, f := range formats {
		for _, g := range formats {
			if f != g {
				out = append(out, edge{f, g, "a foreign format stops at its own boundary; formats share wire decoding through internal/wire, never each other"})
			}
		}
		for _, up := range []string{"provenance", "detect", "policy", "guard", "eval", "store", "server", "cli"} {
			out = append(out, edge{f, up, "formats → trace model → provenance → detectors/policies → reports: a format reads into the trace model and knows nothing above it"})
		}
	}
	for _, from := range []string{"cli", "cmd/probity"} {
		for _, fx := range fixtures {
			out = append(out, edge{from, fx, "test fixtures do not ship in the product binary"})
		}
	}
	return out
}

// knownBadDeps are forbidden edges that exist today, each with the issue
// that removes it. The test fails when one of them is gone, so the list
// cannot outlive the edge.
var knownBadDeps = map[[2]string]string{}

// TestForbiddenEdges enforces the layering the README describes, with the
// reason for each edge, so a change that breaks it fails here and says why.
func TestForbiddenEdges(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps=false", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		deps[rel(f[0])] = f[1:]
	}
	seen := map[[2]string]bool{}
	for _, e := range badDeps() {
		d, ok := deps[e.from]
		if !ok {
			t.Errorf("rule %s → %s names a package that does not exist", e.from, e.to)
			continue
		}
		if !slices.Contains(d, module+"/"+e.to) {
			continue
		}
		key := [2]string{e.from, e.to}
		if _, known := knownBadDeps[key]; known {
			seen[key] = true
			continue
		}
		t.Errorf("%s depends on %s, which it must not: %s", e.from, e.to, e.why)
	}
	for key, why := range knownBadDeps {
		if !seen[key] {
			t.Errorf("%s no longer depends on %s (%s): remove it from knownBadDeps", key[0], key[1], why)
		}
	}
	// The lowest layers name what they may import, not what they may not.
	allowed := map[string][]string{
		"toolclass":  {},
		"provenance": {"", "toolclass"},
	}
	for _, f := range formats {
		allowed[f] = []string{"", "internal/wire", "internal/jsonx"}
	}
	for pkg, ok := range allowed {
		for _, d := range deps[pkg] {
			if d != module && !strings.HasPrefix(d, module+"/") {
				continue
			}
			if !slices.Contains(ok, rel(d)) {
				t.Errorf("%s depends on %s; it may import only %q of this module", pkg, rel(d), ok)
			}
		}
	}
}

func rel(pkg string) string {
	return strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
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
