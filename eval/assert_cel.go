package eval

import (
	"context"
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/probity/probity"
)

// celCostLimit bounds one CEL evaluation, so an expression over a huge
// output cannot stall a run (cel-go counts roughly one unit per operation).
const celCostLimit = 1_000_000

// celEnv declares what a CEL assertion sees: input, expected and output as
// JSON; trace as {steps, tools, tool_calls: [{name, args, id}]}; and
// metrics {cost_usd, latency_ms, tokens_in, tokens_out}.
func celEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("input", cel.DynType),
		cel.Variable("expected", cel.DynType),
		cel.Variable("output", cel.DynType),
		cel.Variable("trace", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("metrics", cel.MapType(cel.StringType, cel.DynType)),
	)
}

// CELSpec is a cel assertion: the CEL expression Cel (Expr is another
// spelling) over input, expected, output, trace and metrics is true.
type CELSpec struct {
	CEL  string `yaml:"cel,omitempty" json:"cel,omitempty"`
	Expr string `yaml:"expr,omitempty" json:"expr,omitempty"`
}

func (a *CELSpec) validate(v *validator, at string) {
	if (a.CEL == "") == (a.Expr == "") {
		v.fail(at, "cel assertion needs exactly one of cel or expr")
	}
}

func (a *CELSpec) compile(*Suite, Options) (Assertion, error) { return compileCEL(a.CEL + a.Expr) }

// compileCEL compiles expr once; trials only evaluate it, with the context
// and the cost limit.
func compileCEL(expr string) (Assertion, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("cel env: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("bad CEL expression %q", expr), Err: iss.Err()}
	}
	if t := ast.OutputType(); t != types.BoolType && t != types.DynType {
		return nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("CEL expression %q is %s, want a bool", expr, t)}
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("cel program: %w", err)
	}
	return assertFunc(func(ctx context.Context, c *Check) AssertResult {
		// trace and metrics are lazy bindings (cel-go calls the func on
		// first use): most expressions never look at them, and building the
		// trace map per trial was a tenth of a load run's CPU.
		vars := map[string]any{
			"input":    celValue(c.Input),
			"expected": celValue(c.Expected),
			"output":   celValue(c.Output.Value),
			"trace":    func() any { return c.celTrace() },
			"metrics": func() any {
				return map[string]any{
					"cost_usd":   c.Output.CostUSD,
					"latency_ms": float64(c.Output.Latency.Microseconds()) / 1000,
					"tokens_in":  c.Output.Tokens.Input,
					"tokens_out": c.Output.Tokens.Output,
				}
			},
		}
		out, _, err := prg.ContextEval(ctx, vars)
		if err != nil {
			return fail("%s: %v", expr, err)
		}
		b, ok := out.Value().(bool)
		if !ok {
			return fail("%s returned %v, not a bool", expr, out.Value())
		}
		if !b {
			return fail("%s is false", expr)
		}
		return pass()
	}), nil
}

// celValue passes JSON null as CEL null, so "expected == null" works.
func celValue(v any) any {
	if v == nil {
		return types.NullValue
	}
	return v
}

// celTrace builds the trace variable once per trial.
func (c *Check) celTrace() map[string]any {
	if c.traceValue != nil {
		return c.traceValue
	}
	m := map[string]any{"steps": []any{}, "tools": []any{}, "tool_calls": []any{}}
	if t := c.Output.Trace; t != nil {
		// Built by hand, not through a JSON round trip: it runs once per
		// trial and the round trip showed up in load profiles.
		steps := make([]any, len(t.Steps))
		for i := range t.Steps {
			steps[i] = celStep(&t.Steps[i])
		}
		m["steps"] = steps
		m["trace_id"], m["format"], m["task"] = t.ID, t.Format, t.Task
		var tools []any
		for _, n := range t.Tools() {
			tools = append(tools, n)
		}
		if tools != nil {
			m["tools"] = tools
		}
		var calls []any
		for _, tc := range toolCalls(t, "") {
			args, _ := decodeJSON(tc.Args)
			if args == nil {
				args = map[string]any{}
			}
			calls = append(calls, map[string]any{"name": tc.Name, "args": args, "id": tc.ID})
		}
		if calls != nil {
			m["tool_calls"] = calls
		}
	}
	c.traceValue = m
	return m
}

// celStep is one step as CEL sees it: the JSON field names of probity.Step.
func celStep(s *probity.Step) map[string]any {
	m := map[string]any{"kind": string(s.Kind), "content": s.Content, "actor": s.Actor, "index": int64(s.Pos.Index)}
	if s.Tool != nil {
		args, _ := decodeJSON(s.Tool.Args)
		if args == nil {
			args = map[string]any{}
		}
		m["tool"] = map[string]any{"id": s.Tool.ID, "name": s.Tool.Name, "args": args}
	}
	if s.Error != nil {
		m["error"] = map[string]any{"message": s.Error.Message, "code": s.Error.Code}
	}
	return m
}
