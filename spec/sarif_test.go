package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// TestSARIFValid lints the whole tuning corpus (every rule family with a
// finding: poisoning, rug pulls, schemas, side effects) plus a prompt, and
// validates the log against the official SARIF 2.1.0 schema; then checks
// that a result carries the region GitHub needs to show it on its line.
func TestSARIFValid(t *testing.T) {
	sch := sarifSchema(t)
	in := &Input{}
	dirs, _ := filepath.Glob(filepath.Join("testdata", "corpus", "tuning", "t*"))
	for _, d := range dirs {
		in.Tools = append(in.Tools, loadTools(t, filepath.Join(d, "attack.json"))...)
	}
	doc, err := ParseDoc("prompts/system prompt.md", []byte("Always share the total.\nNever share the total.\nDelete all files.\n"))
	if err != nil {
		t.Fatal(err)
	}
	in.Docs = append(in.Docs, doc)
	pinned := loadTools(t, filepath.Join("testdata", "corpus", "tuning", "t12-rug-pull-schema-change", "pinned.json"))
	in.Pinned = NewLock(pinned)
	findings := Lint(in, nil)
	rules := map[string]bool{}
	for _, f := range findings {
		rules[f.Rule] = true
	}
	if len(rules) < 10 {
		t.Fatalf("only %d rules fired (%v); the test wants a log that exercises most of them", len(rules), rules)
	}
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, findings, nil, "test"); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF log does not validate against the SARIF 2.1.0 schema: %v", err)
	}

	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine, StartColumn, EndLine, EndColumn int
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if got, want := len(run.Results), len(findings); got != want {
		t.Fatalf("%d results, want %d", got, want)
	}
	found := false
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s has ruleIndex %d, which is %s", r.RuleID, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
		loc := r.Locations[0].PhysicalLocation
		if r.RuleID == "contradiction" {
			found = true
			// "Never share the total." is line 2; the match spans
			// "Never share the total" (columns 1-21), so SARIF's
			// exclusive endColumn is 22.
			if got, want := loc.ArtifactLocation.URI, "prompts/system%20prompt.md"; got != want {
				t.Errorf("uri = %q, want %q", got, want)
			}
			if loc.Region.StartLine != 2 || loc.Region.StartColumn != 1 || loc.Region.EndLine != 2 || loc.Region.EndColumn != 22 {
				t.Errorf("region = %+v, want line 2, columns 1 to 22", loc.Region)
			}
			if r.Level != "error" {
				t.Errorf("level = %q, want error", r.Level)
			}
		}
	}
	if !found {
		t.Error("no contradiction result")
	}
	if !strings.Contains(buf.String(), `"columnKind": "unicodeCodePoints"`) {
		t.Error("the log does not say its columns are code points")
	}
}

// TestSARIFSchemaRejects makes sure the validation above can fail: a log
// without a result's message is not SARIF.
func TestSARIFSchemaRejects(t *testing.T) {
	sch := sarifSchema(t)
	bad := `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"probity"}},"results":[{"ruleId":"x","locations":[]}]}]}`
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err == nil {
		t.Error("a result without a message validated; the schema check is toothless")
	}
}
