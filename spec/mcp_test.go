package spec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/mcptest"
)

// TestReferenceServers starts the official MCP reference servers for real
// (npm packages pinned in internal/mcptest), lints their tools and compares
// every finding with the list a reviewer checked. Each expected finding
// carries the reviewer's verdict; a new finding fails the test until it is
// reviewed and added here (and to the report in docs/spec-lint.md).
func TestReferenceServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	dir := t.TempDir()
	cases := []struct {
		server string
		args   []string
		want   []string // "severity rule tool": verdict in the comment
	}{
		{"filesystem", []string{dir}, []string{
			// Agree: write, edit, move and mkdir change files and no policy
			// was given; write/edit/move destroy data (high).
			"high unguarded-side-effect edit_file",
			"high unguarded-side-effect move_file",
			"high unguarded-side-effect write_file",
			"medium unguarded-side-effect create_directory",
			// Agree, low value: the paths a side-effecting tool writes to
			// are free strings; the server confines them to its allowed
			// directories at run time, so the fix is a policy rule.
			"low weak-schema-free-string create_directory",
			"low weak-schema-free-string edit_file",
			"low weak-schema-free-string move_file",
			"low weak-schema-free-string move_file",
			"low weak-schema-free-string write_file",
		}},
		{"memory", nil, []string{
			// Agree: the knowledge graph is changed (create, add) or
			// destroyed (delete) with no guard.
			"high unguarded-side-effect delete_entities",
			"high unguarded-side-effect delete_observations",
			"high unguarded-side-effect delete_relations",
			"medium unguarded-side-effect add_observations",
			"medium unguarded-side-effect create_entities",
			"medium unguarded-side-effect create_relations",
		}},
		{"everything", []string{"stdio"}, []string{
			// Agree, trivially: the server itself says these are not
			// read-only (readOnlyHint: false); they change server state
			// (a stored resource, logging, subscriptions), hence low.
			"low unguarded-side-effect gzip-file-as-resource",
			"low unguarded-side-effect toggle-simulated-logging",
			"low unguarded-side-effect toggle-subscriber-updates",
		}},
		{"sequential-thinking", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.server, func(t *testing.T) {
			cmd := mcptest.ReferenceServer(t, c.server, c.args...)
			t.Setenv("MEMORY_FILE_PATH", dir+"/memory.jsonl")
			source, raw, err := ListMCPTools(context.Background(), cmd, 60*time.Second, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			tools, err := ParseTools(source, raw)
			if err != nil {
				t.Fatalf("ParseTools(%s): %v", source, err)
			}
			if len(tools) == 0 {
				t.Fatalf("%s listed no tools", source)
			}
			var got []string
			for _, f := range Lint(&Input{Tools: tools}, nil) {
				got = append(got, fmt.Sprintf("%s %s %s", f.Severity, f.Rule, f.Tool))
				if f.Span.File != source || f.Span.Line < 2 {
					t.Errorf("finding %s points at %+v, want a line of %s", f.Rule, f.Span, source)
				}
			}
			sort.Strings(got)
			want := append([]string(nil), c.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: findings (-reviewed +got):\n%s", source, diff)
			}
			t.Logf("%s: %d tools, %d findings", source, len(tools), len(got))
			if c.server != "filesystem" {
				return
			}
			// With the example policy for this server every write is
			// counted by a budget and moves need approval: nothing is
			// unguarded and every rule names a real tool.
			pol, err := LoadPolicy("../examples/policies/mcp-filesystem.yaml")
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range Lint(&Input{Tools: tools, Policy: pol}, nil) {
				if f.Rule != "weak-schema-free-string" {
					t.Errorf("with mcp-filesystem.yaml: %s %s: %s", f.Rule, f.Tool, f.Message)
				}
			}
		})
	}
}

// TestListMCPToolsBadServers: a server that is not there, exits, answers
// garbage or never answers is an error naming it, and never a hang.
func TestListMCPToolsBadServers(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cases := []struct {
		name string
		cmd  []string
		code string
	}{
		{"missing command", []string{"/nonexistent/mcp-server"}, probity.EINVALID},
		{"exits at once", []string{sh, "-c", "exit 3"}, probity.EINVALID},
		{"answers garbage", []string{sh, "-c", "echo 'this is not JSON-RPC'; sleep 30"}, ""},
		{"never answers", []string{sh, "-c", "sleep 30"}, probity.ETIMEOUT},
		// An error for a request the client never made: the client waits
		// for its own answer, and the timeout ends it.
		{"answers out of turn", []string{sh, "-c", `read line; echo '{"jsonrpc":"2.0","id":99,"error":{"code":-32600,"message":"go away"}}'; sleep 30`}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, _, err := ListMCPTools(context.Background(), c.cmd, 2*time.Second, io.Discard)
			took := time.Since(start)
			var pe *probity.Error
			if !errors.As(err, &pe) {
				t.Fatalf("ListMCPTools = %v, want a *probity.Error", err)
			}
			if !strings.HasPrefix(pe.File, "mcp:") {
				t.Errorf("error names %q, want the server command", pe.File)
			}
			if c.code != "" && pe.Code != c.code {
				t.Errorf("code = %s, want %s (%v)", pe.Code, c.code, err)
			}
			// 2 s for the exchange, 2 s for terminating the process, and
			// slack for a loaded machine: what matters is that it ends.
			if took > 20*time.Second {
				t.Errorf("took %s: a bad server must not hang the linter", took)
			}
			t.Logf("%s: %v (%s)", c.name, err, took.Round(time.Millisecond))
		})
	}
}
