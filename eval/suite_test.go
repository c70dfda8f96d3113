package eval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
)

const minimalSuite = `name: s
target:
  http: {url: http://127.0.0.1:1/run}
cases:
  - {id: a, input: {p: 1}}
assert:
  - cel: 'true'
`

func TestParseSuiteDefaults(t *testing.T) {
	s, err := ParseSuite("s.yaml", []byte(minimalSuite))
	if err != nil {
		t.Fatal(err)
	}
	if s.Trials != DefaultTrials || s.Concurrency != DefaultConcurrency || s.Timeout != DefaultTimeout || s.Stop.Mode != StopFixed {
		t.Errorf("defaults = trials %d, concurrency %d, timeout %v, stop %q", s.Trials, s.Concurrency, s.Timeout, s.Stop.Mode)
	}
	if got, want := s.Assert[0].Type, AssertCEL; got != want {
		t.Errorf("shorthand type = %q, want %q", got, want)
	}
	if got, want := s.Target.HTTP.Method, "POST"; got != want {
		t.Errorf("method = %q, want %q", got, want)
	}
}

func TestParseSuiteExpandsURL(t *testing.T) {
	t.Setenv("PROBITY_TEST_AGENT_URL", "http://127.0.0.1:4242/run")
	s, err := ParseSuite("s.yaml", []byte(strings.Replace(minimalSuite, "http://127.0.0.1:1/run", "'${PROBITY_TEST_AGENT_URL}'", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Target.HTTP.URL, "http://127.0.0.1:4242/run"; got != want {
		t.Errorf("url = %q, want %q", got, want)
	}
}

func TestParseSuiteSequentialDefaults(t *testing.T) {
	src := strings.Replace(minimalSuite, "assert:", "stop: sequential\ntrials: 100\ngate: {min_pass_rate: 0.7}\nassert:", 1)
	s, err := ParseSuite("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := StopSpec{Mode: StopSequential, P0: 0.7, P1: 0.85, Alpha: 0.05, Beta: 0.2}
	if s.Stop.Mode != want.Mode || s.Stop.P0 != want.P0 || abs(s.Stop.P1-want.P1) > 1e-12 || s.Stop.Alpha != want.Alpha || s.Stop.Beta != want.Beta {
		t.Errorf("stop = %+v, want %+v", s.Stop, want)
	}
}

// TestParseSuiteErrors checks that every mistake names the file, the line
// and column, and what was wrong.
func TestParseSuiteErrors(t *testing.T) {
	tests := []struct {
		name, src, where, msg string
	}{
		{"bad yaml", "name: s\ntarget: [\n", "line 2", ""},
		{"unknown top key", minimalSuite + "trails: 3\n", "line 8, column 1", `unknown field "trails"`},
		{"unknown nested key", strings.Replace(minimalSuite, "{url:", "{urll: x, url:", 1), "line 3, column 10", `unknown field "urll"`},
		{"unknown assertion key", minimalSuite + "  - {type: tool-called, tol: x}\n", "line 8, column 25", `unknown field "tol"`},
		{"key of another type", minimalSuite + "  - {type: tool-called, tool: a, pattern: x}\n", "line 8, column 34", `"pattern" does not apply to a tool-called assertion`},
		{"unknown assertion type", minimalSuite + "  - type: nope\n", "line 8, column 5", `unknown assertion type "nope"`},
		{"bad regex", minimalSuite + "  - regex: '(['\n", "line 8, column 10", "bad regular expression"},
		{"bad cel", minimalSuite + "  - cel: 'output.'\n", "", ""},
		{"wrong type", strings.Replace(minimalSuite, "name: s", "name: s\ntrials: many", 1), "line 2, column 9", ""},
		{"no target", "name: s\ncases: [{id: a}]\nassert: [{cel: 'true'}]\n", "", "suite needs a target"},
		{"two targets", strings.Replace(minimalSuite, "target:\n", "target:\n  exec: {command: [x]}\n", 1), "line 2, column 1", "exactly one of http, exec or openai"},
		{"bad url", strings.Replace(minimalSuite, "http://127.0.0.1:1/run", "127.0.0.1", 1), "line 3, column 10", "must start with http://"},
		{"bad stop", strings.Replace(minimalSuite, "assert:", "stop: sometimes\nassert:", 1), "line 6", "stop must be fixed or sequential"},
		{"bad gate", minimalSuite + "gate: {min_pass_rate: 1.5}\n", "line 8, column 8", "min_pass_rate must be in [0, 1]"},
		{"pass_hat_k beyond trials", minimalSuite + "trials: 3\ngate: {pass_hat_k: {k: 4, min: 0.5}}\n", "line 9", "between 1 and trials"},
		{"no assertions", "name: s\ntarget: {http: {url: 'http://x'}}\ncases: [{id: a}]\n", "", "no assertions"},
		{"not a mapping", "- a\n- b\n", "line 1", "want a mapping"},
		{"duplicate key", minimalSuite + "name: t\n", "line 8, column 1", `"name" already defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSuite("suite.yaml", []byte(tt.src))
			if err == nil && tt.name == "bad cel" {
				_, err = CompileAssertions(s, Options{})
			}
			if err == nil {
				t.Fatalf("ParseSuite succeeded, want an error")
			}
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.Code != probity.EINVALID {
				t.Fatalf("error %v (%T) is not an EINVALID *probity.Error", err, err)
			}
			if !strings.Contains(err.Error(), "suite.yaml") {
				t.Errorf("error %q does not name the file", err)
			}
			if !strings.Contains(pe.Where, tt.where) {
				t.Errorf("where = %q, want it to contain %q (error %q)", pe.Where, tt.where, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

// TestExampleSuitesMatchSchema keeps the published schema and the loader in
// step: every suite the loader accepts validates against the schema, and a
// typo the loader rejects the schema rejects too.
func TestExampleSuitesMatchSchema(t *testing.T) {
	doc, err := decodeJSON(SuiteSchema)
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	sch, err := compileJSONSchema("suite.schema.json", doc)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	paths, _ := filepath.Glob("../examples/eval/*.yaml")
	more, _ := filepath.Glob("testdata/suites/*.yaml")
	paths = append(paths, more...)
	for _, p := range paths {
		if strings.HasSuffix(p, "cases.yaml") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseSuite(p, b); err != nil {
			t.Errorf("ParseSuite(%s): %v", p, err)
		}
		j, err := yamlToJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := decodeJSON(j)
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s does not match the schema: %v", p, err)
		}
	}
	bad, _ := decodeJSON([]byte(`{"name": "s", "target": {"http": {"url": "http://x"}}, "cases": [{"id": "a"}], "assert": [{"cel": "true"}], "trails": 3}`))
	if err := sch.Validate(bad); err == nil {
		t.Errorf("schema accepts the unknown key trails")
	}
}

func TestLoadDataset(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"c.jsonl":    `{"id": "a", "input": {"q": 1}, "expected": {"answer": "x"}, "tags": ["t1", "t2"]}` + "\n\n" + `{"id": 7, "input": "hi", "tags": "u v"}` + "\n",
		"c.csv":      "id,input,expected,tags\na,\"{\"\"q\"\": 1}\",x,\"t1,t2\"\nb,hello,42,\n",
		"c.yaml":     "cases:\n  - id: a\n    input: {q: 1}\n    expected: {answer: x}\n  - {id: b, input: hi}\n",
		"bad.jsonl":  `{"id": "a"}` + "\n" + `{"id": "b", "expect": 1}` + "\n",
		"dup.jsonl":  `{"id": "a"}` + "\n" + `{"id": "a"}` + "\n",
		"bad.csv":    "id,inptu\na,b\n",
		"noid.jsonl": `{"input": 1}` + "\n",
	})
	tests := []struct {
		file    string
		ids     []string
		input0  string
		tags0   []string
		errWant string
	}{
		{file: "c.jsonl", ids: []string{"a", "7"}, input0: `{"q": 1}`, tags0: []string{"t1", "t2"}},
		{file: "c.csv", ids: []string{"a", "b"}, input0: `{"q": 1}`, tags0: []string{"t1", "t2"}},
		{file: "c.yaml", ids: []string{"a", "b"}, input0: `{"q":1}`},
		{file: "bad.jsonl", errWant: `line 2: bad case: json: unknown field "expect"`},
		{file: "dup.jsonl", errWant: `record 2: duplicate case id "a"`},
		{file: "bad.csv", errWant: `line 1, column 2: unknown column "inptu"`},
		{file: "noid.jsonl", errWant: "line 1: case has no id"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cases, err := LoadDataset(filepath.Join(dir, tt.file), FormatAuto)
			if tt.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errWant) {
					t.Fatalf("LoadDataset error = %v, want it to contain %q", err, tt.errWant)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range cases {
				ids = append(ids, c.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
				t.Errorf("ids = %v, want %v", ids, tt.ids)
			}
			if got := string(cases[0].Input); got != tt.input0 {
				t.Errorf("input = %s, want %s", got, tt.input0)
			}
			if strings.Join(cases[0].Tags, ",") != strings.Join(tt.tags0, ",") {
				t.Errorf("tags = %v, want %v", cases[0].Tags, tt.tags0)
			}
		})
	}
}

// TestLoadTauBench reads real τ-bench results: 200 runs of 50 tasks give 50
// cases whose expected actions are the task's.
func TestLoadTauBench(t *testing.T) {
	path := shareddata.Path(t, "tau-bench", "gpt-4o-airline.json")
	cases, err := LoadDataset(path, FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cases), 50; got != want {
		t.Fatalf("cases = %d, want %d", got, want)
	}
	in, _ := decodeJSON(cases[0].Input)
	exp, _ := decodeJSON(cases[0].Expected)
	if s, _ := in.(map[string]any)["instruction"].(string); !strings.HasPrefix(s, "You are ") {
		t.Errorf("instruction = %q", s)
	}
	if acts, _ := exp.(map[string]any)["actions"].([]any); len(acts) == 0 {
		t.Errorf("expected actions missing: %s", cases[0].Expected)
	}
}

// TestSuiteAliases: spellings users reach for are accepted.
func TestSuiteAliases(t *testing.T) {
	src := strings.Replace(minimalSuite, "assert:\n  - cel: 'true'\n", `trials: 4
assert:
  - {type: sequence, tools: [a, b], order_insensitive: true}
  - {type: max-cost, value: 0.5}
  - {type: tool_called, tool: a}
gate:
  pass^k: {k: 2, min: 0.5}
`, 1)
	s, err := ParseSuite("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	seq, _ := s.Assert[0].Config.(*SequenceSpec)
	limit, _ := s.Assert[1].Config.(*MaxCostSpec)
	if seq == nil || !seq.AnyOrder || limit == nil || limit.Max == nil || s.Assert[2].Type != AssertToolCalled || s.Gate.PassHatK == nil || s.Gate.PassHatK.K != 2 {
		t.Errorf("aliases not applied: %+v %+v %+v gate %+v", s.Assert[0].Config, s.Assert[1].Config, s.Assert[2], s.Gate)
	}
}
