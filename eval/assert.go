package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/probity/probity"
)

// Assertion types. Each is documented in suite.schema.json and in
// `probity eval run --help`.
const (
	AssertEquals        = "equals"
	AssertContains      = "contains"
	AssertRegex         = "regex"
	AssertJSONPath      = "json-path"
	AssertJSONSchema    = "json-schema"
	AssertNumeric       = "numeric"
	AssertToolCalled    = "tool-called"
	AssertToolNotCalled = "tool-not-called"
	AssertToolArgs      = "arguments-match"
	AssertToolSequence  = "sequence"
	AssertMaxSteps      = "max-steps"
	AssertMaxCost       = "max-cost"
	AssertMaxLatency    = "max-latency"
	AssertCEL           = "cel"
	AssertNoFindings    = "no-findings"
	AssertJudge         = "judge"
	AssertPolicy        = "policy"
)

// AssertSpec is one assertion as written in a suite: the keys every
// assertion has (type, name, not) and Config, the keys of its type. Type
// selects the check; the shorthands {cel: EXPR}, {equals: V}, {contains: S}
// and {regex: P} imply it. Not inverts the verdict.
type AssertSpec struct {
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	Not  bool   `yaml:"not,omitempty" json:"not,omitempty"`
	// Config is the type's own spec (*EqualsSpec, *CELSpec, ...); nil until
	// the type is known.
	Config AssertConfig `yaml:"-" json:"-"`

	// misplaced is the first key of another assertion type, found while
	// decoding and reported by validate with its position, since a silently
	// ignored key is a check that never runs.
	misplaced string
}

// AssertConfig is the part of an assertion its type owns: its keys, its
// validation and its compile step. Each type lives in one file
// (assert_<type>.go) and one line of assertionTypes.
type AssertConfig interface {
	// validate checks the keys and fills defaults, reporting the first
	// mistake with the position of the key under at.
	validate(v *validator, at string)
	// compile builds the check once (regexes, schemas, CEL programs, judge
	// clients, policies), so trials only evaluate.
	compile(s *Suite, opts Options) (Assertion, error)
}

// UnmarshalYAML decodes the common keys, then the keys of the assertion's
// type into that type's spec. A key no type has is an unknown field; a key
// of another type is kept for validate to report with its position.
func (a *AssertSpec) UnmarshalYAML(node ast.Node) error {
	var common struct {
		Type     string `yaml:"type"`
		Name     string `yaml:"name"`
		Not      bool   `yaml:"not"`
		CEL      string `yaml:"cel"`
		Equals   any    `yaml:"equals"`
		Contains any    `yaml:"contains"`
		Regex    string `yaml:"regex"`
	}
	if _, ok := node.(*ast.NullNode); ok {
		return nil // validate reports the missing type with its position
	}
	if !isMapping(node) {
		return &probity.Error{Code: probity.EINVALID, Where: nodeWhere(node), Message: "an assertion is a mapping, e.g. - cel: 'output.answer == expected.answer'"}
	}
	if err := yaml.NodeToValue(node, &common); err != nil {
		return err
	}
	a.Type, a.Name, a.Not = common.Type, common.Name, common.Not
	known := assertKeys()
	values := mappingValues(node)
	for _, mv := range values {
		k := keyName(mv)
		if k == "type" || k == "name" || k == "not" {
			continue
		}
		if _, ok := known[k]; !ok {
			return &probity.Error{Code: probity.EINVALID, Where: nodeWhere(mv.Key), Message: cleanYAMLMessage(fmt.Sprintf("unknown field %q", k))}
		}
	}
	if a.Type == "" {
		switch {
		case common.CEL != "":
			a.Type = AssertCEL
		case common.Equals != nil:
			a.Type = AssertEquals
		case common.Contains != nil:
			a.Type = AssertContains
		case common.Regex != "":
			a.Type = AssertRegex
		default:
			return nil // validate reports the missing type with its position
		}
	}
	if canon, ok := assertAliases[a.Type]; ok {
		a.Type = canon
	}
	t, ok := assertionTypeOf(a.Type)
	if !ok {
		return nil // validate reports the unknown type with its position
	}
	own := t.keys()
	var mine []*ast.MappingValueNode
	for _, mv := range values {
		k := keyName(mv)
		switch {
		case k == "type" || k == "name" || k == "not":
		case slices.Contains(own, k):
			mine = append(mine, mv)
		case a.misplaced == "" && !zeroYAML(k, mv.Value):
			// Like before types had their own specs, a key of another type
			// left at its zero value (ignore_case: false) is harmless.
			a.misplaced = k
		}
	}
	a.Config = t.new()
	if len(mine) == 0 {
		return nil
	}
	m := ast.Mapping(node.GetToken(), false, mine...)
	return yaml.NodeToValue(m, a.Config, yaml.DisallowUnknownField())
}

// MarshalJSON writes the assertion flat, as a suite spells it.
func (a AssertSpec) MarshalJSON() ([]byte, error) {
	out := map[string]any{}
	if a.Config != nil {
		b, err := json.Marshal(a.Config)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, err
		}
	}
	if a.Type != "" {
		out["type"] = a.Type
	}
	if a.Name != "" {
		out["name"] = a.Name
	}
	if a.Not {
		out["not"] = true
	}
	return json.Marshal(out)
}

func (a *AssertSpec) validate(v *validator, at string) {
	if a.Type == "" {
		v.fail(at, "assertion has no type (one of %s)", strings.Join(assertTypeNames(), ", "))
		return
	}
	t, ok := assertionTypeOf(a.Type)
	if !ok {
		v.fail(at+".type", "unknown assertion type %q (want one of %s)", a.Type, strings.Join(assertTypeNames(), ", "))
		return
	}
	if a.misplaced != "" {
		v.fail(at+"."+a.misplaced, "key %q does not apply to a %s assertion (it takes %s)", a.misplaced, a.Type, strings.Join(t.keys(), ", "))
		return
	}
	if a.Config == nil {
		a.Config = t.new()
	}
	a.Config.validate(v, at)
}

// validPath reports a bad JSON path at its key.
func validPath(v *validator, at, p string) {
	if p == "" {
		return
	}
	if _, err := parseJSONPath(p); err != nil {
		v.fail(at, "bad JSON path %q: %v", p, err)
	}
}

// optionalPath parses a path validate accepted; nil when unset.
func optionalPath(p string) *jsonPath {
	if p == "" {
		return nil
	}
	path, _ := parseJSONPath(p)
	return path
}

// Check is what an assertion judges: the case and the target's output.
type Check struct {
	Case     *Case
	Input    any
	Expected any
	Output   *Output
	// trace is the output's trace as generic JSON, built once per trial for
	// CEL.
	traceValue map[string]any
}

// AssertResult is one assertion's verdict on one trial.
type AssertResult struct {
	// Name is the assertion's name, or its type.
	Name string `json:"name"`
	// Pass is the verdict.
	Pass bool `json:"pass"`
	// Message explains a failure (or a pass, when useful).
	Message string `json:"message,omitempty"`
	// Score is a graded result in [0, 1] when the assertion has one (judge).
	Score *float64 `json:"score,omitempty"`
	// Agreement is the share of repeated judge votes that agreed with the
	// majority.
	Agreement *float64 `json:"agreement,omitempty"`
	// Error is set when the assertion could not be evaluated for reasons
	// outside the agent (the judge endpoint failed); the trial is then an
	// error, not a failure.
	Error string `json:"error,omitempty"`
	// CostUSD is what evaluating the assertion cost (judge calls).
	CostUSD float64 `json:"cost_usd,omitempty"`
}

// Assertion is a compiled check.
type Assertion interface {
	Check(ctx context.Context, c *Check) AssertResult
}

type assertFunc func(ctx context.Context, c *Check) AssertResult

func (f assertFunc) Check(ctx context.Context, c *Check) AssertResult { return f(ctx, c) }

// CompileAssertions compiles every assertion of s once (regexes, schemas,
// CEL programs, judge clients, policies), so trials only evaluate.
func CompileAssertions(s *Suite, opts Options) ([]Assertion, error) {
	out := make([]Assertion, 0, len(s.Assert))
	for i := range s.Assert {
		spec := s.Assert[i]
		var a Assertion
		err := fmt.Errorf("unknown assertion type %q", spec.Type)
		if spec.Config != nil {
			a, err = spec.Config.compile(s, opts)
		}
		if err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: s.Path, Where: fmt.Sprintf("assert[%d] (%s)", i, spec.Type), Message: "compile", Err: err}
		}
		name := spec.Name
		if name == "" {
			name = spec.Type
			if t, ok := spec.Config.(interface{ toolName() string }); ok && t.toolName() != "" {
				name += " " + t.toolName()
			}
		}
		out = append(out, named{name: name, not: spec.Not, a: a})
	}
	return out, nil
}

// named stamps the assertion's name on its results and applies Not.
type named struct {
	name string
	not  bool
	a    Assertion
}

func (n named) Check(ctx context.Context, c *Check) AssertResult {
	r := n.a.Check(ctx, c)
	r.Name = n.name
	if n.not && r.Error == "" {
		r.Pass = !r.Pass
		if r.Pass {
			r.Message = ""
		} else if r.Message == "" {
			r.Message = "matched, and the assertion is negated"
		} else {
			r.Message = "negated: " + r.Message
		}
	}
	return r
}

func pass() AssertResult { return AssertResult{Pass: true} }

func fail(format string, args ...any) AssertResult {
	return AssertResult{Message: fmt.Sprintf(format, args...)}
}

func firstSet(vs ...any) any {
	for _, v := range vs {
		if v != nil {
			return normalize(v)
		}
	}
	return nil
}

// selectOutput returns the output at path (the whole output without one).
func selectOutput(c *Check, path *jsonPath) (any, bool) {
	if path == nil {
		return c.Output.Value, true
	}
	return path.get(c.Output.Value)
}

// comparand is what an output is compared with: the literal value when the
// assertion gives one, else the case's expected value at expected_path; with
// no expected_path, at the output's path when expected has it, else the
// whole expected value.
func comparand(c *Check, literal any, path, expPath *jsonPath) (any, bool) {
	if literal != nil {
		return literal, true
	}
	if c.Expected == nil {
		return nil, false
	}
	if expPath != nil {
		return expPath.get(c.Expected)
	}
	if path != nil {
		if v, ok := path.get(c.Expected); ok {
			return v, true
		}
	}
	return c.Expected, true
}

func quote(v any) string {
	if s, ok := v.(string); ok {
		b, _ := json.Marshal(s)
		return string(b)
	}
	return text(v)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// toolCalls returns the tool calls in t, of tool name when name is set.
func toolCalls(t *probity.Trace, name string) []*probity.ToolCall {
	var out []*probity.ToolCall
	for i := range t.Steps {
		s := &t.Steps[i]
		if s.Kind == probity.KindToolCall && s.Tool != nil && (name == "" || s.Tool.Name == name) {
			out = append(out, s.Tool)
		}
	}
	return out
}

func toolList(t *probity.Trace) string {
	tools := t.Tools()
	if len(tools) == 0 {
		return "none"
	}
	return strings.Join(tools, ", ")
}

// agentSteps counts what the agent did: its messages, tool calls, handoffs
// and final answer. Inputs (system, user, tool results) are not its steps.
func agentSteps(t *probity.Trace) int {
	n := 0
	for _, s := range t.Steps {
		switch s.Kind {
		case probity.KindAssistant, probity.KindToolCall, probity.KindHandoff, probity.KindFinal:
			n++
		}
	}
	return n
}
