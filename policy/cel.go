package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
	celparser "github.com/google/cel-go/parser"
	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// The CEL variables a rule sees:
//
//	tool                    string: the tool's name
//	args                    map: the call's arguments (JSON numbers are doubles)
//	run                     map: {id, calls: [{tool, args, ok, failed, blocked,
//	                        result, output, step}], messages: [{role, content,
//	                        step}]} of the run before this call; output is a
//	                        tool result decoded as JSON ({} when it is not JSON)
//	tainted_by_untrusted    bool: some id, amount or name in the arguments first
//	                        reached the agent through a tool result or a
//	                        retrieved document (package provenance)
//	untrusted_instructions  bool: a tool result or retrieved document earlier in
//	                        the run held instruction-like text (prompt injection)
//	paths                   list of strings: every path-like argument (paths.go)
//
// and the functions grounded(x), true when every value in x (the arguments,
// or a field of them) is grounded in or derived from what the agent was told,
// and provenance(x), the weakest provenance class of the values in x:
// "grounded", "derived", "near-miss" or "ungrounded" (package provenance).
const (
	ctxVar     = "_probity_ctx" // hidden: carries the evaluation to grounded() and provenance()
	groundedFn = "_probity_grounded"
	provFn     = "_probity_provenance"
)

type resultKind int

const (
	boolResult resultKind = iota
	numberResult
	anyResult
)

// expr is one compiled CEL expression and where it was written.
type expr struct {
	src      string
	prog     cel.Program
	usesRun  bool
	usesProv bool // calls grounded or provenance, or reads tainted_by_untrusted
	loops    bool // has comprehensions: evaluated with the cost limit and ctx
}

var ctxType = types.NewOpaqueType("probity.EvalContext")

func newEnv() (*cel.Env, error) {
	withCtx := func(fn string) cel.MacroFactory {
		return func(eh celparser.ExprHelper, _ ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
			return eh.NewCall(fn, eh.NewIdent(ctxVar), args[0]), nil
		}
	}
	opts := []cel.EnvOption{
		cel.Variable("tool", cel.StringType),
		cel.Variable("args", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("run", cel.DynType),
		cel.Variable("tainted_by_untrusted", cel.BoolType),
		cel.Variable("untrusted_instructions", cel.BoolType),
		cel.Variable(ctxVar, ctxType),
		cel.Function(groundedFn, cel.Overload("probity_grounded_dyn", []*cel.Type{ctxType, cel.DynType}, cel.BoolType,
			cel.BinaryBinding(func(c, v ref.Val) ref.Val {
				a, ok := c.(*activation)
				if !ok {
					return types.NewErr("grounded: no evaluation context")
				}
				rs, err := a.s.provenanceOf(v, a.actor)
				if err != nil {
					return types.NewErr("grounded: %v", err)
				}
				return types.Bool(provenance.AllGrounded(rs))
			}))),
		cel.Function(provFn, cel.Overload("probity_provenance_dyn", []*cel.Type{ctxType, cel.DynType}, cel.StringType,
			cel.BinaryBinding(func(c, v ref.Val) ref.Val {
				a, ok := c.(*activation)
				if !ok {
					return types.NewErr("provenance: no evaluation context")
				}
				rs, err := a.s.provenanceOf(v, a.actor)
				if err != nil {
					return types.NewErr("provenance: %v", err)
				}
				return types.String(provenance.Weakest(rs))
			}))),
		cel.Macros(
			cel.GlobalMacro("grounded", 1, withCtx(groundedFn)),
			cel.GlobalMacro("provenance", 1, withCtx(provFn)),
		),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
	}
	return cel.NewEnv(append(opts, pathFunctions()...)...)
}

// compile compiles src, found at YAML path `at`, and locates any error at
// its line and column in the policy file.
func (p *Policy) compile(loc locator, at, src string, want resultKind) (*expr, error) {
	a, iss := p.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		e := iss.Errors()[0]
		where := ""
		if l, c := loc.exprPos(at, e.Location.Line(), e.Location.Column()); l > 0 {
			where = fmt.Sprintf("line %d, column %d", l, c)
		}
		return nil, &probity.Error{Code: probity.EINVALID, Where: where,
			Message: fmt.Sprintf("%s: %s", strings.TrimPrefix(at, "$."), strings.TrimSuffix(e.Message, " (in container '')"))}
	}
	ot := a.OutputType()
	okType := ot == cel.DynType
	switch want {
	case boolResult:
		okType = okType || ot == cel.BoolType
	case numberResult:
		okType = okType || ot == cel.IntType || ot == cel.UintType || ot == cel.DoubleType
	case anyResult:
		okType = true
	}
	if !okType {
		wantName := map[resultKind]string{boolResult: "bool", numberResult: "a number"}[want]
		return nil, loc.errorf(at, "%s: expression has type %s, want %s", strings.TrimPrefix(at, "$."), ot, wantName)
	}
	// Only a comprehension (all, exists, map, filter) can make an
	// expression's cost grow faster than its input, and only comprehensions
	// check for interruption; loop-free expressions skip the cost tracker,
	// which would otherwise double the cost of every decision.
	loops := len(ast.MatchDescendants(ast.NavigateAST(a.NativeRep()), ast.KindMatcher(ast.ComprehensionKind))) > 0
	popts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if loops {
		popts = append(popts, cel.CostLimit(p.costLimit), cel.InterruptCheckFrequency(100))
	}
	prog, err := p.env.Program(a, popts...)
	if err != nil {
		return nil, loc.errorf(at, "%s: %v", strings.TrimPrefix(at, "$."), err)
	}
	// Keep the source on one line: it is quoted in reasons and evidence.
	x := &expr{src: strings.Join(strings.Fields(src), " "), prog: prog, loops: loops}
	for _, ri := range a.NativeRep().ReferenceMap() {
		if ri.Name == "run" {
			x.usesRun = true
			p.usesRun = true
		}
		if ri.Name == "tainted_by_untrusted" || slices.Contains(ri.OverloadIDs, "probity_grounded_dyn") ||
			slices.Contains(ri.OverloadIDs, "probity_provenance_dyn") {
			x.usesProv = true
			p.usesProv = true
		}
	}
	return x, nil
}

// eval runs x over act and converts the result to a Go value.
func (x *expr) eval(ctx context.Context, act *activation) (ref.Val, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out ref.Val
	var err error
	if x.loops {
		out, _, err = x.prog.ContextEval(ctx, act)
	} else {
		out, _, err = x.prog.Eval(act)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (x *expr) evalBool(ctx context.Context, act *activation) (bool, error) {
	out, err := x.eval(ctx, act)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("expression returned %s, want bool", out.Type())
	}
	return bool(b), nil
}

func (x *expr) evalNumber(ctx context.Context, act *activation) (float64, error) {
	out, err := x.eval(ctx, act)
	if err != nil {
		return 0, err
	}
	var f float64
	switch v := out.(type) {
	case types.Int:
		f = float64(v)
	case types.Uint:
		f = float64(v)
	case types.Double:
		f = float64(v)
	case types.String:
		// Amounts often arrive as strings ("54.04", "$54.04").
		g, err := strconv.ParseFloat(strings.TrimPrefix(strings.TrimSpace(string(v)), "$"), 64)
		if err != nil {
			return 0, fmt.Errorf("expression returned %q, want a number", string(v))
		}
		f = g
	default:
		return 0, fmt.Errorf("expression returned %s, want a number", out.Type())
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("expression returned %v, want a finite number", f)
	}
	return f, nil
}

func (x *expr) evalKey(ctx context.Context, act *activation) (string, error) {
	out, err := x.eval(ctx, act)
	if err != nil {
		return "", err
	}
	switch v := out.(type) {
	case types.String:
		return string(v), nil
	case types.Double:
		return strconv.FormatFloat(float64(v), 'f', -1, 64), nil
	}
	return fmt.Sprint(out.Value()), nil
}

// activation resolves the variables of one decision lazily: the arguments
// are decoded, and the run built, only when an expression reads them.
type activation struct {
	s     *Session
	tool  ref.Val
	raw   json.RawMessage
	args  ref.Val
	actor string
}

func (a *activation) reset(s *Session, tool string, raw json.RawMessage, actor string) {
	a.s, a.tool, a.raw, a.args, a.actor = s, types.String(tool), raw, nil, actor
}

func (a *activation) argsVal() ref.Val {
	if a.args == nil {
		a.args = toVal(decodeArgs(a.raw))
	}
	return a.args
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "tool":
		return a.tool, true
	case "args":
		return a.argsVal(), true
	case "paths":
		ps := pathArgs(celJSON(a.argsVal()))
		l := make([]ref.Val, len(ps))
		for i, p := range ps {
			l[i] = types.String(p)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, l), true
	case "run":
		return a.s.runValue(), true
	case "tainted_by_untrusted":
		rs, err := a.s.provenanceOf(a.argsVal(), a.actor)
		if err != nil {
			return types.NewErr("tainted_by_untrusted: %v", err), true
		}
		return types.Bool(provenance.AnyUntrusted(rs)), true
	case "untrusted_instructions":
		return types.Bool(a.s.untrusted != nil), true
	case ctxVar:
		return a, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// The activation doubles as the opaque CEL value behind _probity_ctx, so
// grounded() and provenance() reach the session without a global.

// ConvertToNative implements ref.Val.
func (a *activation) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("evaluation context is opaque")
}

// ConvertToType implements ref.Val.
func (a *activation) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("evaluation context is opaque")
}

// Equal implements ref.Val.
func (a *activation) Equal(o ref.Val) ref.Val { return types.Bool(o == a) }

// Type implements ref.Val.
func (a *activation) Type() ref.Type { return ctxType }

// Value implements ref.Val.
func (a *activation) Value() any { return a }

// decodeArgs decodes a call's JSON arguments into a map; anything that is not
// a JSON object becomes an empty map so that rules read missing keys, not
// type errors.
func decodeArgs(raw json.RawMessage) map[string]any {
	if len(raw) == 0 {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return map[string]any{}
	}
	return m
}

// decodeOutput decodes a tool result for run.calls[].output: a JSON object as
// a map, anything else as an empty map.
func decodeOutput(s string) map[string]any {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(t), &m); err != nil || m == nil {
		return map[string]any{}
	}
	return m
}

// toVal converts decoded JSON to CEL values once, so that expressions that
// walk the run do map lookups rather than reflection on every access.
func toVal(v any) ref.Val {
	switch x := v.(type) {
	case nil:
		return types.NullValue
	case bool:
		return types.Bool(x)
	case float64:
		return types.Double(x)
	case string:
		return types.String(x)
	case map[string]any:
		m := make(map[ref.Val]ref.Val, len(x))
		for k, e := range x {
			m[types.String(k)] = toVal(e)
		}
		return types.NewRefValMap(types.DefaultTypeAdapter, m)
	case []any:
		l := make([]ref.Val, len(x))
		for i, e := range x {
			l[i] = toVal(e)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, l)
	}
	return types.DefaultTypeAdapter.NativeToValue(v)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
