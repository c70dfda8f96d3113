package eval

import (
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
)

// assertionType is one kind of assertion: its name and a constructor for
// its spec. The spec's YAML keys, validation and compile step live with the
// spec, in assert_<type>.go; suite.schema.json is checked against this
// table by TestSchemaCoversAssertionTypes.
type assertionType struct {
	name string
	new  func() AssertConfig
}

// assertionTypes is the registry: adding an assertion is one file and one
// line here.
var assertionTypes = []assertionType{
	{AssertEquals, func() AssertConfig { return new(EqualsSpec) }},
	{AssertContains, func() AssertConfig { return new(ContainsSpec) }},
	{AssertRegex, func() AssertConfig { return new(RegexSpec) }},
	{AssertJSONPath, func() AssertConfig { return new(JSONPathSpec) }},
	{AssertJSONSchema, func() AssertConfig { return new(JSONSchemaSpec) }},
	{AssertNumeric, func() AssertConfig { return new(NumericSpec) }},
	{AssertToolCalled, func() AssertConfig { return new(ToolCalledSpec) }},
	{AssertToolNotCalled, func() AssertConfig { return new(ToolNotCalledSpec) }},
	{AssertToolArgs, func() AssertConfig { return new(ArgumentsMatchSpec) }},
	{AssertToolSequence, func() AssertConfig { return new(SequenceSpec) }},
	{AssertMaxSteps, func() AssertConfig { return new(MaxStepsSpec) }},
	{AssertMaxCost, func() AssertConfig { return new(MaxCostSpec) }},
	{AssertMaxLatency, func() AssertConfig { return new(MaxLatencySpec) }},
	{AssertCEL, func() AssertConfig { return new(CELSpec) }},
	{AssertNoFindings, func() AssertConfig { return new(NoFindingsSpec) }},
	{AssertJudge, func() AssertConfig { return new(JudgeSpec) }},
	{AssertPolicy, func() AssertConfig { return new(PolicySpec) }},
}

// assertAliases are accepted spellings of the canonical type names.
var assertAliases = map[string]string{
	"jsonpath": AssertJSONPath, "json_path": AssertJSONPath, "jsonschema": AssertJSONSchema, "json_schema": AssertJSONSchema,
	"tool-args": AssertToolArgs, "tool_args": AssertToolArgs, "tool-sequence": AssertToolSequence, "tool_called": AssertToolCalled,
	"tool_not_called": AssertToolNotCalled, "not-called": AssertToolNotCalled, "max_steps": AssertMaxSteps, "max_cost": AssertMaxCost,
	"max_latency": AssertMaxLatency, "no_findings": AssertNoFindings, "arguments_match": AssertToolArgs,
}

func assertionTypeOf(name string) (assertionType, bool) {
	for _, t := range assertionTypes {
		if t.name == name {
			return t, true
		}
	}
	return assertionType{}, false
}

// keys lists the YAML keys the type's spec takes beyond type, name and not,
// in the order its struct declares them (the order error messages list).
func (t assertionType) keys() []string {
	return yamlKeys(reflect.TypeOf(t.new()).Elem())
}

func yamlKeys(rt reflect.Type) []string {
	var out []string
	for f := range rt.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// assertKeys is every key some assertion type takes: a key outside it is an
// unknown field, a key inside it but not of the type "does not apply".
var assertKeys = sync.OnceValue(func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, t := range assertionTypes {
		for _, k := range t.keys() {
			m[k] = struct{}{}
		}
	}
	return m
})

// assertTypeNames lists the canonical type names, sorted.
func assertTypeNames() []string {
	var out []string
	for _, t := range assertionTypes {
		out = append(out, t.name)
	}
	slices.Sort(out)
	return out
}

// mappingValues returns the key-value pairs of a mapping node (nil for
// anything else), looking through anchors and tags.
func mappingValues(n ast.Node) []*ast.MappingValueNode {
	for {
		switch m := n.(type) {
		case *ast.AnchorNode:
			n = m.Value
			continue
		case *ast.TagNode:
			n = m.Value
			continue
		case *ast.MappingNode:
			return m.Values
		case *ast.MappingValueNode:
			return []*ast.MappingValueNode{m}
		}
		return nil
	}
}

// isMapping reports whether n is a mapping, looking through anchors and tags.
func isMapping(n ast.Node) bool {
	for {
		switch m := n.(type) {
		case *ast.AnchorNode:
			n = m.Value
		case *ast.TagNode:
			n = m.Value
		case *ast.MappingNode, *ast.MappingValueNode:
			return true
		default:
			return false
		}
	}
}

func keyName(mv *ast.MappingValueNode) string {
	if mv.Key == nil || mv.Key.GetToken() == nil {
		return ""
	}
	return mv.Key.GetToken().Value
}

// zeroYAML reports whether key: n would have left the flat spec of old at
// its zero value, which it could not tell from an absent key: null always,
// and false, 0 or "" for the keys it held as plain bools, numbers and
// strings.
func zeroYAML(key string, n ast.Node) bool {
	if _, ok := n.(*ast.NullNode); ok || n == nil {
		return true
	}
	switch key {
	case "value", "equals", "contains", "exists", "schema", "tools", "args", "min", "max", "detectors":
		return false // held as interfaces, pointers, slices or maps
	}
	switch x := n.(type) {
	case *ast.BoolNode:
		return !x.Value
	case *ast.IntegerNode:
		return x.GetToken().Value == "0"
	case *ast.FloatNode:
		return x.Value == 0
	case *ast.StringNode:
		return x.Value == ""
	}
	return false
}
