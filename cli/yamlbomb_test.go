package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// aliasLevels writes YAML lines "<indent><key(i)>: &a<i> [...]" for nine
// levels, each a list of ten aliases of the one before: "billion laughs",
// 10^9 scalars in a few hundred bytes.
func aliasLevels(indent string, key func(i int) string) string {
	var b strings.Builder
	for i := range 9 {
		items := make([]string, 10)
		for j := range items {
			items[j] = "x"
			if i > 0 {
				items[j] = fmt.Sprintf("*a%d", i-1)
			}
		}
		fmt.Fprintf(&b, "%s%s &a%d [%s]\n", indent, key(i), i, strings.Join(items, ", "))
	}
	return b.String()
}

// TestYAMLAliasBombs feeds an alias bomb to every command that reads YAML:
// a policy, a detector configuration, an eval suite, a YAML dataset and a
// vcrpy cassette. Each must stop at once with exit status 2 and say why; a
// vcrpy cassette like this one took 6 GB of memory in a minute of replay.
func TestYAMLAliasBombs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	listItem := func(field string) func(int) string {
		return func(i int) string { return fmt.Sprintf("- name: r%d\n    %s:", i, field) }
	}
	policyFile := write("policy.yaml", "rules:\n"+aliasLevels("  ", listItem("tools")))
	configFile := write("config.yaml", "tools:\n"+aliasLevels("  ", func(i int) string { return fmt.Sprintf("t%d:", i) }))
	caseItem := func(i int) string { return fmt.Sprintf("- id: c%d\n    input:", i) }
	suiteFile := write("suite.yaml", "name: bomb\ntarget: {exec: {command: [\"true\"]}}\nassert: [{type: equals, path: $, value: x}]\ncases:\n"+aliasLevels("  ", caseItem))
	write("cases.yaml", aliasLevels("", func(i int) string { return fmt.Sprintf("- id: c%d\n  input:", i) }))
	dataSuite := write("data-suite.yaml", "name: bomb\ntarget: {exec: {command: [\"true\"]}}\ndataset: cases.yaml\nassert: [{type: equals, path: $, value: x}]\n")
	vcrFile := write("cassette.yaml", "interactions:\n"+aliasLevels("  ", func(i int) string {
		return fmt.Sprintf("- request: {method: POST, uri: 'http://x/v1/chat/completions', headers: {}}\n    response: {status: {code: 200, message: OK}, headers: {}}\n    extra%d:", i)
	})+"version: 1\n")

	tests := []struct {
		name string
		args []string
		file string
	}{
		{"policy", []string{"guard", "check", "--policy", policyFile, "write_file", "{}"}, policyFile},
		{"detector config", []string{"analyze", "--config", configFile, filepath.Join("..", "examples", "refund-ok.json")}, configFile},
		{"eval suite", []string{"eval", "run", suiteFile, "--out", filepath.Join(dir, "run1.jsonl")}, suiteFile},
		{"eval dataset", []string{"eval", "run", dataSuite, "--out", filepath.Join(dir, "run2.jsonl")}, filepath.Join(dir, "cases.yaml")},
		{"vcr cassette", []string{"replay", vcrFile, "--listen", "127.0.0.1:0"}, vcrFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			done := make(chan int, 1)
			go func() { done <- Main(tt.args, strings.NewReader(""), &stdout, &stderr) }()
			select {
			case code := <-done:
				if code != ExitUsage || !strings.Contains(stderr.String(), "likely alias bomb") || !strings.Contains(stderr.String(), tt.file) {
					t.Errorf("probity %s: exit %d, stderr:\n%s\nwant exit 2 naming %s as a likely alias bomb", strings.Join(tt.args, " "), code, stderr.String(), tt.file)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("probity %s still running after 30s: the bomb is being expanded", strings.Join(tt.args, " "))
			}
		})
	}
}
