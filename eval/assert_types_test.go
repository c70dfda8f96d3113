package eval

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
)

// TestSchemaCoversAssertionTypes keeps suite.schema.json and the registry of
// assertion types in step: the schema's type enum is exactly the registered
// names and aliases, and its assertion keys are exactly the keys the types'
// specs take (plus type, name and not), so neither can gain a key the other
// lacks.
func TestSchemaCoversAssertionTypes(t *testing.T) {
	doc, err := decodeJSON(SuiteSchema)
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	item := dig(t, doc, "properties", "assert", "items")
	props := dig(t, item, "properties").(map[string]any)

	var enum []string
	for _, e := range dig(t, props, "type", "enum").([]any) {
		enum = append(enum, e.(string))
	}
	want := assertTypeNames()
	for alias, canon := range assertAliases {
		if _, ok := assertionTypeOf(canon); !ok {
			t.Errorf("alias %q names unregistered type %q", alias, canon)
		}
		want = append(want, alias)
	}
	slices.Sort(enum)
	slices.Sort(want)
	if !slices.Equal(enum, want) {
		t.Errorf("schema type enum = %v\nregistry names and aliases = %v", enum, want)
	}

	keys := slices.Sorted(maps.Keys(props))
	wantKeys := append(slices.Collect(maps.Keys(assertKeys())), "type", "name", "not")
	slices.Sort(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("schema assertion keys = %v\nregistry keys = %v", keys, wantKeys)
	}
}

// TestAssertionTypesDecodeTheirKeys: every type decodes each of its keys
// into its own spec, and validation of that spec, not of a shared one,
// fills its defaults.
func TestAssertionTypesDecodeTheirKeys(t *testing.T) {
	tests := []struct {
		yaml string
		want AssertConfig
	}{
		{"{type: tool-called, tool: a, min: 2, max: 3}", &ToolCalledSpec{Tool: "a", Min: ptr(2), Max: 3}},
		{"{regex: '^a'}", &RegexSpec{Regex: "^a"}},
		{"{type: max-latency, value: 2s}", &MaxLatencySpec{Max: "2s"}},
		{"{type: judge, rubric: r, model: m}", &JudgeSpec{Rubric: "r", Model: "m", Provider: "openai", Repeat: 1, Threshold: 0.5}},
		{"{type: no_findings}", &NoFindingsSpec{Severity: "high"}},
		{"{type: regex, pattern: x, ignore_case: false}", &RegexSpec{Pattern: "x"}},
	}
	for _, tt := range tests {
		s, err := ParseSuite("s.yaml", []byte("name: s\ntarget: {http: {url: 'http://x'}}\ncases: [{id: a}]\nassert:\n  - "+tt.yaml+"\n"))
		if err != nil {
			t.Errorf("ParseSuite(%s): %v", tt.yaml, err)
			continue
		}
		got := s.Assert[0].Config
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(tt.want)
		if string(gb) != string(wb) || fmt.Sprintf("%T", got) != fmt.Sprintf("%T", tt.want) {
			t.Errorf("ParseSuite(%s).Config = %T %+v, want %T %+v", tt.yaml, got, got, tt.want, tt.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func dig(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("schema: %q is not under an object", k)
		}
		v = m[k]
	}
	return v
}
