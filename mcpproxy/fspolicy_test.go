package mcpproxy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/probity/probity/guard"
	"github.com/probity/probity/mcpproxy"
	"github.com/probity/probity/policy"
)

const examplePolicy = "../examples/policies/mcp-filesystem.yaml"

// TestExamplePolicyBlocksSecretFiles drives the real filesystem server
// through the proxy with the shipped example policy and tries every way
// issue 10 found to read or overwrite .env: paths the server resolves to it
// (".env/.", "a//.env", "sub/../.env", relative ones), the tools the old
// rule did not list (read_multiple_files, read_media_file), and the two
// ends of move_file. Each is denied, the file is unchanged, and its content
// appears in no answer; ordinary files still work.
func TestExamplePolicyBlocksSecretFiles(t *testing.T) {
	src, err := os.ReadFile(examplePolicy)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const secret = "OPENAI_API_KEY=sk-hunter2-do-not-leak"
	files := map[string]string{".env": secret, "notes.txt": "hello", "sub/readme.md": "sub"}
	for name, content := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cs := hostOver(t, proxyFor(t, dir, string(src), mcpproxy.Options{Run: "secrets"}))
	ctx := context.Background()
	env := filepath.Join(dir, ".env")
	attempts := []struct {
		tool string
		args map[string]any
	}{
		{"read_text_file", map[string]any{"path": env + "/."}},
		{"read_text_file", map[string]any{"path": dir + "//.env"}},
		{"read_text_file", map[string]any{"path": dir + "/sub/../.env"}},
		{"read_text_file", map[string]any{"path": ".env"}}, // relative: the server resolves it against its root
		{"read_text_file", map[string]any{"path": "sub/../.env/"}},
		{"read_file", map[string]any{"path": env}},
		{"read_media_file", map[string]any{"path": env}},
		{"read_multiple_files", map[string]any{"paths": []string{filepath.Join(dir, "notes.txt"), env + "/."}}},
		{"get_file_info", map[string]any{"path": env}},
		{"write_file", map[string]any{"path": env + "/.", "content": "OVERWRITTEN"}},
		{"edit_file", map[string]any{"path": dir + "//.env", "edits": []map[string]string{{"oldText": "hunter2", "newText": "x"}}}},
		{"move_file", map[string]any{"source": env, "destination": filepath.Join(dir, "public.txt")}},
		{"move_file", map[string]any{"source": filepath.Join(dir, "notes.txt"), "destination": env + "/."}},
		{"read_text_file", map[string]any{"path": filepath.Join(dir, ".ENV")}}, // case-insensitive disks
	}
	for _, a := range attempts {
		// A call held for approval (move_file) must not hang the test.
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		res, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: a.tool, Arguments: a.args})
		cancel()
		if err != nil {
			t.Errorf("%s %v: %v, want a denial", a.tool, a.args, err)
			continue
		}
		b, _ := json.Marshal(res)
		if !res.IsError || !strings.Contains(text(res), "Denied by policy rule no-secret-files") || strings.Contains(string(b), "hunter2") {
			t.Errorf("%s %v: %s\nwant denied by no-secret-files, without the secret", a.tool, a.args, b)
		}
	}
	if b, _ := os.ReadFile(env); string(b) != secret {
		t.Errorf(".env now holds %q, want it untouched", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "public.txt")); err == nil {
		t.Error("public.txt exists: .env was moved")
	}

	// What the policy is for still works.
	for _, ok := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"read_text_file", map[string]any{"path": filepath.Join(dir, "notes.txt")}, "hello"},
		{"read_multiple_files", map[string]any{"paths": []string{filepath.Join(dir, "notes.txt"), filepath.Join(dir, "sub/readme.md")}}, "sub"},
		{"write_file", map[string]any{"path": filepath.Join(dir, "new.txt"), "content": "x"}, "Successfully wrote"},
		{"list_directory", map[string]any{"path": dir}, "notes.txt"},
	} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: ok.tool, Arguments: ok.args})
		if err != nil || res.IsError || !strings.Contains(text(res), ok.want) {
			t.Errorf("%s %v: %v %s, want success with %q", ok.tool, ok.args, err, text(res), ok.want)
		}
	}
}

// notPaths are the filesystem server's arguments that are not paths. A new
// argument the server adds must be either recognised by policy.PathLike or
// listed here, after a look at what it is.
var notPaths = []string{"content", "dryRun", "edits", "excludePatterns", "head", "newText", "oldText", "pattern", "sortBy", "tail"}

// TestExamplePolicyCoversServer checks the example policy against the real
// server's tools/list: every tool is in the policy's class list and its
// allow list, with the class the server's own readOnlyHint gives; a tool
// the policy does not know is denied; and every argument that holds a path
// is one the paths variable sees.
func TestExamplePolicyCoversServer(t *testing.T) {
	src, err := os.ReadFile(examplePolicy)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SideEffects map[string]bool `yaml:"side_effects"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	p, err := policy.LoadFile(examplePolicy)
	if err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(guard.Options{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cs := hostOver(t, proxyFor(t, t.TempDir(), string(src), mcpproxy.Options{}))
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, tool := range res.Tools {
		served = append(served, tool.Name)
		readOnly := tool.Annotations != nil && tool.Annotations.ReadOnlyHint
		if class, ok := doc.SideEffects[tool.Name]; !ok || class == readOnly {
			t.Errorf("tool %s: side_effects %v (listed %v), want %v as the server's readOnlyHint says", tool.Name, class, ok, !readOnly)
		}
		v, err := g.Decide(context.Background(), guard.Call{Run: "cover", Tool: tool.Name, Args: json.RawMessage(`{}`)})
		if err != nil || v.Rule == "known-tools-only" {
			t.Errorf("tool %s: %+v %v, want it on the known-tools-only list", tool.Name, v, err)
		}
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		b, _ := json.Marshal(tool.InputSchema)
		json.Unmarshal(b, &schema)
		for _, name := range propertyNames(schema.Properties) {
			if !policy.PathLike(name) && !slices.Contains(notPaths, name) {
				t.Errorf("tool %s: argument %q is neither recognised as a path nor known not to be one", tool.Name, name)
			}
		}
	}
	var listed []string
	for name := range doc.SideEffects {
		listed = append(listed, name)
	}
	sort.Strings(served)
	sort.Strings(listed)
	if strings.Join(served, " ") != strings.Join(listed, " ") {
		t.Errorf("the server offers %v, the policy lists %v", served, listed)
	}
	if v, _ := g.Decide(context.Background(), guard.Call{Run: "cover", Tool: "delete_file", Args: json.RawMessage(`{"path":"x"}`)}); v.Decision != "deny" || v.Rule != "known-tools-only" {
		t.Errorf("a tool the policy does not know: %s by %q, want deny by known-tools-only", v.Decision, v.Rule)
	}
}

// propertyNames lists a JSON schema's property names, with those of array
// items' and nested objects' properties.
func propertyNames(props map[string]json.RawMessage) []string {
	var out []string
	for name, raw := range props {
		out = append(out, name)
		var s struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Items      struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"items"`
		}
		json.Unmarshal(raw, &s)
		out = append(out, propertyNames(s.Properties)...)
		out = append(out, propertyNames(s.Items.Properties)...)
	}
	return out
}
