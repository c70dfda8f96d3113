package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

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

// assertFields lists, per type, the keys it accepts beyond type, name and
// not; a key meant for another type is an error with its position, since a
// silently ignored key is a check that never runs.
var assertFields = map[string][]string{
	AssertEquals:        {"path", "value", "equals", "expected_path", "ignore_case"},
	AssertContains:      {"path", "value", "contains", "expected_path", "ignore_case"},
	AssertRegex:         {"path", "pattern", "regex"},
	AssertJSONPath:      {"path", "value", "equals", "exists"},
	AssertJSONSchema:    {"path", "schema", "schema_file"},
	AssertNumeric:       {"path", "value", "expected_path", "tolerance", "relative"},
	AssertToolCalled:    {"tool", "min", "max"},
	AssertToolNotCalled: {"tool"},
	AssertToolArgs:      {"tool", "args", "exact"},
	AssertToolSequence:  {"tools", "any_order", "order_insensitive", "contiguous"},
	AssertMaxSteps:      {"max", "value"},
	AssertMaxCost:       {"max", "value"},
	AssertMaxLatency:    {"max", "value"},
	AssertCEL:           {"cel", "expr"},
	AssertNoFindings:    {"severity", "detectors", "config"},
	AssertJudge:         {"rubric", "provider", "model", "base_url", "api_key_env", "repeat", "threshold", "path", "max_tokens"},
	AssertPolicy:        {"file"},
}

// assertAliases are accepted spellings of the canonical type names.
var assertAliases = map[string]string{
	"jsonpath": AssertJSONPath, "json_path": AssertJSONPath, "jsonschema": AssertJSONSchema, "json_schema": AssertJSONSchema,
	"tool-args": AssertToolArgs, "tool_args": AssertToolArgs, "tool-sequence": AssertToolSequence, "tool_called": AssertToolCalled,
	"tool_not_called": AssertToolNotCalled, "not-called": AssertToolNotCalled, "max_steps": AssertMaxSteps, "max_cost": AssertMaxCost,
	"max_latency": AssertMaxLatency, "no_findings": AssertNoFindings, "arguments_match": AssertToolArgs,
}

// AssertSpec is one assertion as written in a suite. Type selects the check;
// the shorthands {cel: EXPR}, {equals: V}, {contains: S} and {regex: P}
// imply it. Not inverts the verdict.
type AssertSpec struct {
	Type         string   `yaml:"type,omitempty" json:"type,omitempty"`
	Name         string   `yaml:"name,omitempty" json:"name,omitempty"`
	Not          bool     `yaml:"not,omitempty" json:"not,omitempty"`
	Path         string   `yaml:"path,omitempty" json:"path,omitempty"`
	Value        any      `yaml:"value,omitempty" json:"value,omitempty"`
	Equals       any      `yaml:"equals,omitempty" json:"equals,omitempty"`
	Contains     any      `yaml:"contains,omitempty" json:"contains,omitempty"`
	Regex        string   `yaml:"regex,omitempty" json:"regex,omitempty"`
	Pattern      string   `yaml:"pattern,omitempty" json:"pattern,omitempty"`
	ExpectedPath string   `yaml:"expected_path,omitempty" json:"expected_path,omitempty"`
	IgnoreCase   bool     `yaml:"ignore_case,omitempty" json:"ignore_case,omitempty"`
	Exists       *bool    `yaml:"exists,omitempty" json:"exists,omitempty"`
	Schema       any      `yaml:"schema,omitempty" json:"schema,omitempty"`
	SchemaFile   string   `yaml:"schema_file,omitempty" json:"schema_file,omitempty"`
	Tolerance    float64  `yaml:"tolerance,omitempty" json:"tolerance,omitempty"`
	Relative     bool     `yaml:"relative,omitempty" json:"relative,omitempty"`
	Tool         string   `yaml:"tool,omitempty" json:"tool,omitempty"`
	Tools        []string `yaml:"tools,omitempty" json:"tools,omitempty"`
	AnyOrder     bool     `yaml:"any_order,omitempty" json:"any_order,omitempty"`
	// OrderInsensitive is another spelling of AnyOrder.
	OrderInsensitive bool           `yaml:"order_insensitive,omitempty" json:"order_insensitive,omitempty"`
	Contiguous       bool           `yaml:"contiguous,omitempty" json:"contiguous,omitempty"`
	Args             map[string]any `yaml:"args,omitempty" json:"args,omitempty"`
	Exact            bool           `yaml:"exact,omitempty" json:"exact,omitempty"`
	Min              *int           `yaml:"min,omitempty" json:"min,omitempty"`
	Max              any            `yaml:"max,omitempty" json:"max,omitempty"`
	CEL              string         `yaml:"cel,omitempty" json:"cel,omitempty"`
	Expr             string         `yaml:"expr,omitempty" json:"expr,omitempty"`
	Severity         string         `yaml:"severity,omitempty" json:"severity,omitempty"`
	Detectors        []string       `yaml:"detectors,omitempty" json:"detectors,omitempty"`
	Config           string         `yaml:"config,omitempty" json:"config,omitempty"`
	Rubric           string         `yaml:"rubric,omitempty" json:"rubric,omitempty"`
	Provider         string         `yaml:"provider,omitempty" json:"provider,omitempty"`
	Model            string         `yaml:"model,omitempty" json:"model,omitempty"`
	BaseURL          string         `yaml:"base_url,omitempty" json:"base_url,omitempty"`
	APIKeyEnv        string         `yaml:"api_key_env,omitempty" json:"api_key_env,omitempty"`
	Repeat           int            `yaml:"repeat,omitempty" json:"repeat,omitempty"`
	Threshold        float64        `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	MaxTokens        int            `yaml:"max_tokens,omitempty" json:"max_tokens,omitempty"`
	File             string         `yaml:"file,omitempty" json:"file,omitempty"`
}

// setFields lists the keys a spec sets, by their YAML names.
func (a *AssertSpec) setFields() []string {
	var out []string
	add := func(name string, set bool) {
		if set {
			out = append(out, name)
		}
	}
	add("path", a.Path != "")
	add("value", a.Value != nil)
	add("equals", a.Equals != nil)
	add("contains", a.Contains != nil)
	add("regex", a.Regex != "")
	add("pattern", a.Pattern != "")
	add("expected_path", a.ExpectedPath != "")
	add("ignore_case", a.IgnoreCase)
	add("exists", a.Exists != nil)
	add("schema", a.Schema != nil)
	add("schema_file", a.SchemaFile != "")
	add("tolerance", a.Tolerance != 0)
	add("relative", a.Relative)
	add("tool", a.Tool != "")
	add("tools", a.Tools != nil)
	add("any_order", a.AnyOrder)
	add("order_insensitive", a.OrderInsensitive)
	add("contiguous", a.Contiguous)
	add("args", a.Args != nil)
	add("exact", a.Exact)
	add("min", a.Min != nil)
	add("max", a.Max != nil)
	add("cel", a.CEL != "")
	add("expr", a.Expr != "")
	add("severity", a.Severity != "")
	add("detectors", a.Detectors != nil)
	add("config", a.Config != "")
	add("rubric", a.Rubric != "")
	add("provider", a.Provider != "")
	add("model", a.Model != "")
	add("base_url", a.BaseURL != "")
	add("api_key_env", a.APIKeyEnv != "")
	add("repeat", a.Repeat != 0)
	add("threshold", a.Threshold != 0)
	add("max_tokens", a.MaxTokens != 0)
	add("file", a.File != "")
	return out
}

func (a *AssertSpec) validate(v *validator, at string) {
	if a.Type == "" {
		switch {
		case a.CEL != "":
			a.Type = AssertCEL
		case a.Equals != nil:
			a.Type = AssertEquals
		case a.Contains != nil:
			a.Type = AssertContains
		case a.Regex != "":
			a.Type = AssertRegex
		default:
			v.fail(at, "assertion has no type (one of %s)", strings.Join(sortedKeys(assertFields), ", "))
			return
		}
	}
	if canon, ok := assertAliases[a.Type]; ok {
		a.Type = canon
	}
	switch a.Type {
	case AssertMaxSteps, AssertMaxCost, AssertMaxLatency:
		if a.Max == nil && a.Value != nil {
			a.Max, a.Value = a.Value, nil // max-* accept value: as the limit too
		}
	}
	allowed, ok := assertFields[a.Type]
	if !ok {
		v.fail(at+".type", "unknown assertion type %q (want one of %s)", a.Type, strings.Join(sortedKeys(assertFields), ", "))
		return
	}
	for _, f := range a.setFields() {
		if !slices.Contains(allowed, f) {
			v.fail(at+"."+f, "key %q does not apply to a %s assertion (it takes %s)", f, a.Type, strings.Join(allowed, ", "))
			return
		}
	}
	if a.Path != "" {
		if _, err := parseJSONPath(a.Path); err != nil {
			v.fail(at+".path", "bad JSON path %q: %v", a.Path, err)
		}
	}
	if a.ExpectedPath != "" {
		if _, err := parseJSONPath(a.ExpectedPath); err != nil {
			v.fail(at+".expected_path", "bad JSON path %q: %v", a.ExpectedPath, err)
		}
	}
	switch a.Type {
	case AssertEquals:
		if a.Value != nil && a.Equals != nil {
			v.fail(at+".equals", "give value or equals, not both")
		}
	case AssertContains:
		if a.Value != nil && a.Contains != nil {
			v.fail(at+".contains", "give value or contains, not both")
		}
	case AssertRegex:
		p := a.Pattern + a.Regex
		if a.Pattern != "" && a.Regex != "" {
			v.fail(at+".regex", "give pattern or regex, not both")
		} else if p == "" {
			v.fail(at, "regex assertion needs a pattern")
		} else if _, err := regexp.Compile(p); err != nil {
			v.fail(at+".pattern", "bad regular expression: %v", err)
		}
	case AssertJSONPath:
		if a.Path == "" {
			v.fail(at, "json-path assertion needs a path")
		}
	case AssertJSONSchema:
		if (a.Schema == nil) == (a.SchemaFile == "") {
			v.fail(at, "json-schema assertion needs exactly one of schema or schema_file")
		}
	case AssertNumeric:
		if a.Tolerance < 0 {
			v.fail(at+".tolerance", "tolerance must not be negative")
		}
	case AssertToolCalled, AssertToolNotCalled, AssertToolArgs:
		if a.Tool == "" {
			v.fail(at, "%s assertion needs a tool", a.Type)
		}
		if a.Min != nil && *a.Min < 0 {
			v.fail(at+".min", "min must not be negative")
		}
		if a.Type == AssertToolCalled && a.Max != nil {
			if _, ok := number(a.Max); !ok {
				v.fail(at+".max", "max must be a number of calls")
			}
		}
		if a.Type == AssertToolArgs && a.Args == nil {
			v.fail(at, "arguments-match assertion needs args")
		}
	case AssertToolSequence:
		a.AnyOrder = a.AnyOrder || a.OrderInsensitive
		if len(a.Tools) == 0 {
			v.fail(at, "sequence assertion needs a list of tools")
		}
		if a.AnyOrder && a.Contiguous {
			v.fail(at+".contiguous", "contiguous and any_order contradict each other")
		}
	case AssertMaxSteps, AssertMaxCost:
		if f, ok := number(a.Max); !ok || f < 0 {
			v.fail(at+".max", "%s needs max: a non-negative number", a.Type)
		}
	case AssertMaxLatency:
		if _, err := latencyLimit(a.Max); err != nil {
			v.fail(at+".max", "max-latency needs max: a duration like 2s or 500ms (%v)", err)
		}
	case AssertCEL:
		if (a.CEL == "") == (a.Expr == "") {
			v.fail(at, "cel assertion needs exactly one of cel or expr")
		}
	case AssertNoFindings:
		if a.Severity == "" {
			a.Severity = "high"
		}
		if _, err := probity.ParseSeverity(a.Severity); err != nil {
			v.fail(at+".severity", "%v", err)
		}
	case AssertJudge:
		if a.Rubric == "" {
			v.fail(at, "judge assertion needs a rubric")
		}
		if a.Model == "" {
			v.fail(at, "judge assertion needs a model")
		}
		switch a.Provider {
		case "":
			a.Provider = "openai"
		case "openai", "anthropic":
		default:
			v.fail(at+".provider", "judge provider must be openai or anthropic, not %q", a.Provider)
		}
		if a.Repeat < 0 || a.Repeat > 25 {
			v.fail(at+".repeat", "repeat must be between 1 and 25")
		}
		if a.Repeat == 0 {
			a.Repeat = 1
		}
		if a.Threshold < 0 || a.Threshold > 1 {
			v.fail(at+".threshold", "threshold must be in [0, 1]")
		}
		if a.Threshold == 0 {
			a.Threshold = 0.5
		}
	case AssertPolicy:
		if a.File == "" {
			v.fail(at, "policy assertion needs a file")
		}
	}
}

func latencyLimit(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		return time.ParseDuration(x)
	case nil:
		return 0, fmt.Errorf("missing")
	}
	if f, ok := number(v); ok && f >= 0 {
		return time.Duration(f * float64(time.Second)), nil // a bare number is seconds
	}
	return 0, fmt.Errorf("got %v", v)
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
		a, err := compileAssertion(s, &spec, opts)
		if err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: s.Path, Where: fmt.Sprintf("assert[%d] (%s)", i, spec.Type), Message: "compile", Err: err}
		}
		name := spec.Name
		if name == "" {
			name = spec.Type
			if spec.Tool != "" {
				name += " " + spec.Tool
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

func compileAssertion(s *Suite, a *AssertSpec, opts Options) (Assertion, error) {
	var path *jsonPath
	if a.Path != "" {
		path, _ = parseJSONPath(a.Path)
	}
	var expPath *jsonPath
	if a.ExpectedPath != "" {
		expPath, _ = parseJSONPath(a.ExpectedPath)
	}
	switch a.Type {
	case AssertEquals:
		want := firstSet(a.Value, a.Equals)
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			got, ok := selectOutput(c, path)
			if !ok {
				return fail("output has nothing at %s", path)
			}
			w, ok := comparand(c, want, path, expPath)
			if !ok {
				return fail("no value to compare with: give value, or a case expected value")
			}
			if a.IgnoreCase {
				gs, ws := text(got), text(w)
				if strings.EqualFold(gs, ws) {
					return pass()
				}
				return fail("got %s, want %s (ignoring case)", clip(quote(got), 120), clip(quote(w), 120))
			}
			if jsonEqual(got, w) {
				return pass()
			}
			return fail("got %s, want %s", clip(quote(got), 120), clip(quote(w), 120))
		}), nil
	case AssertContains:
		want := firstSet(a.Value, a.Contains)
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			got, ok := selectOutput(c, path)
			if !ok {
				return fail("output has nothing at %s", path)
			}
			w, ok := comparand(c, want, path, expPath)
			if !ok {
				return fail("no value to look for: give value, or a case expected value")
			}
			// A list output contains a value when one of its elements equals it.
			if l, isList := got.([]any); isList {
				if _, wantStr := w.(string); !wantStr || !a.IgnoreCase {
					for _, x := range l {
						if jsonEqual(x, w) {
							return pass()
						}
					}
				}
			}
			gs, ws := text(got), text(w)
			if a.IgnoreCase {
				gs, ws = strings.ToLower(gs), strings.ToLower(ws)
			}
			if strings.Contains(gs, ws) {
				return pass()
			}
			return fail("%s does not contain %s", clip(quote(got), 120), clip(quote(w), 120))
		}), nil
	case AssertRegex:
		re := regexp.MustCompile(a.Pattern + a.Regex) // validated in LoadSuite
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			got, ok := selectOutput(c, path)
			if !ok {
				return fail("output has nothing at %s", path)
			}
			if re.MatchString(text(got)) {
				return pass()
			}
			return fail("%s does not match /%s/", clip(quote(got), 120), re)
		}), nil
	case AssertJSONPath:
		want := firstSet(a.Value, a.Equals)
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			got, ok := path.get(c.Output.Value)
			if l, isList := got.([]any); ok && isList && path.multi && len(l) == 0 {
				ok = false
			}
			if a.Exists != nil && !*a.Exists {
				if ok {
					return fail("%s exists (%s)", path, clip(quote(got), 80))
				}
				return pass()
			}
			if !ok {
				return fail("output has nothing at %s", path)
			}
			if want != nil && !jsonEqual(got, want) {
				return fail("%s is %s, want %s", path, clip(quote(got), 120), clip(quote(want), 120))
			}
			return pass()
		}), nil
	case AssertJSONSchema:
		return compileSchemaAssertion(s, a, path)
	case AssertNumeric:
		want := a.Value
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			got, ok := selectOutput(c, path)
			if !ok {
				return fail("output has nothing at %s", path)
			}
			g, ok := number(got)
			if !ok {
				return fail("%s is not a number", clip(quote(got), 80))
			}
			wv, ok := comparand(c, want, path, expPath)
			if !ok {
				return fail("no number to compare with: give value, or a case expected value")
			}
			w, ok := number(wv)
			if !ok {
				return fail("expected %s is not a number", clip(quote(wv), 80))
			}
			tol := a.Tolerance
			if a.Relative {
				tol *= abs(w)
			}
			if abs(g-w) <= tol {
				return pass()
			}
			return fail("got %g, want %g ± %g", g, w, tol)
		}), nil
	case AssertToolCalled, AssertToolNotCalled:
		minCalls, maxCalls := 1, -1
		if a.Min != nil {
			minCalls = *a.Min
		}
		if f, ok := number(a.Max); ok {
			maxCalls = int(f)
		}
		if a.Type == AssertToolNotCalled {
			minCalls, maxCalls = 0, 0
		}
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			if c.Output.Trace == nil {
				return fail("the target reported no trace, so tool calls cannot be checked")
			}
			n := len(toolCalls(c.Output.Trace, a.Tool))
			switch {
			case n < minCalls:
				return fail("%s called %d times, want at least %d (tools called: %s)", a.Tool, n, minCalls, toolList(c.Output.Trace))
			case maxCalls >= 0 && n > maxCalls:
				if maxCalls == 0 {
					return fail("%s was called %d times; it must not be called", a.Tool, n)
				}
				return fail("%s called %d times, want at most %d", a.Tool, n, maxCalls)
			}
			return pass()
		}), nil
	case AssertToolArgs:
		want := normalize(a.Args)
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			if c.Output.Trace == nil {
				return fail("the target reported no trace, so tool arguments cannot be checked")
			}
			calls := toolCalls(c.Output.Trace, a.Tool)
			if len(calls) == 0 {
				return fail("%s was never called (tools called: %s)", a.Tool, toolList(c.Output.Trace))
			}
			var last any
			for _, tc := range calls {
				got, _ := decodeJSON(tc.Args)
				last = got
				if a.Exact && jsonEqual(got, want) || !a.Exact && subsetMatch(want, got) {
					return pass()
				}
			}
			return fail("no call to %s has arguments matching %s (last: %s)", a.Tool, clip(quote(want), 120), clip(quote(last), 120))
		}), nil
	case AssertToolSequence:
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			if c.Output.Trace == nil {
				return fail("the target reported no trace, so the tool sequence cannot be checked")
			}
			var names []string
			for _, tc := range toolCalls(c.Output.Trace, "") {
				names = append(names, tc.Name)
			}
			if ok, msg := matchSequence(names, a.Tools, a.AnyOrder, a.Contiguous); !ok {
				return fail("%s", msg)
			}
			return pass()
		}), nil
	case AssertMaxSteps:
		limit, _ := number(a.Max)
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			if c.Output.Trace == nil {
				return fail("the target reported no trace, so steps cannot be counted")
			}
			n := agentSteps(c.Output.Trace)
			if float64(n) <= limit {
				return pass()
			}
			return fail("%d agent steps, limit %g", n, limit)
		}), nil
	case AssertMaxCost:
		limit, _ := number(a.Max)
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			if c.Output.CostUSD <= limit {
				return pass()
			}
			return fail("cost $%.4f, limit $%.4f", c.Output.CostUSD, limit)
		}), nil
	case AssertMaxLatency:
		limit, _ := latencyLimit(a.Max)
		return assertFunc(func(_ context.Context, c *Check) AssertResult {
			if c.Output.Latency <= limit {
				return pass()
			}
			return fail("latency %s, limit %s", c.Output.Latency.Round(time.Millisecond), limit)
		}), nil
	case AssertCEL:
		return compileCEL(a.CEL + a.Expr)
	case AssertNoFindings:
		return compileNoFindings(s, a)
	case AssertJudge:
		return compileJudge(a, opts)
	case AssertPolicy:
		return compilePolicy(s, a)
	}
	return nil, fmt.Errorf("unknown assertion type %q", a.Type)
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

// matchSequence checks want against the called tools: as a subsequence in
// order (default), as contiguous calls, or as a multiset in any order.
func matchSequence(called, want []string, anyOrder, contiguous bool) (bool, string) {
	got := strings.Join(called, " → ")
	if got == "" {
		got = "no tool calls"
	}
	switch {
	case anyOrder:
		left := slices.Clone(called)
		for _, w := range want {
			i := slices.Index(left, w)
			if i < 0 {
				return false, fmt.Sprintf("%s not called (any order); calls: %s", w, got)
			}
			left = slices.Delete(left, i, i+1)
		}
		return true, ""
	case contiguous:
		for i := 0; i+len(want) <= len(called); i++ {
			if slices.Equal(called[i:i+len(want)], want) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("calls %s do not contain %s in a row", got, strings.Join(want, " → "))
	}
	j := 0
	for _, n := range called {
		if j < len(want) && n == want[j] {
			j++
		}
	}
	if j == len(want) {
		return true, ""
	}
	return false, fmt.Sprintf("calls %s lack %s in order (stuck at %s)", got, strings.Join(want, " → "), want[j])
}

// compileSchemaAssertion compiles the JSON Schema once.
func compileSchemaAssertion(s *Suite, a *AssertSpec, path *jsonPath) (Assertion, error) {
	var doc any
	name := "inline-schema.json"
	if a.SchemaFile != "" {
		name = s.resolve(a.SchemaFile)
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		if doc, err = decodeJSON(b); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: name, Message: "schema is not JSON", Err: err}
		}
	} else {
		doc = normalize(a.Schema)
	}
	sch, err := compileJSONSchema(name, doc)
	if err != nil {
		return nil, err
	}
	return assertFunc(func(_ context.Context, c *Check) AssertResult {
		got, ok := selectOutput(c, path)
		if !ok {
			return fail("output has nothing at %s", path)
		}
		if err := sch.Validate(got); err != nil {
			return fail("output does not match the schema: %s", clip(strings.ReplaceAll(err.Error(), "\n", "; "), 300))
		}
		return pass()
	}), nil
}
