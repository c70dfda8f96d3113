package eval

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity"
)

// traceJSON is an OpenAI conversation: lookup, then refund, then an answer.
const traceJSON = `[
 {"role": "system", "content": "be careful"},
 {"role": "user", "content": "refund #W1"},
 {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_order", "arguments": "{\"order_id\": \"#W1\"}"}}]},
 {"role": "tool", "tool_call_id": "c1", "content": "{\"total\": 12.5}"},
 {"role": "assistant", "content": "", "tool_calls": [{"id": "c2", "type": "function", "function": {"name": "refund", "arguments": "{\"order_id\": \"#W1\", \"amount\": 12.5}"}}]},
 {"role": "tool", "tool_call_id": "c2", "content": "{\"ok\": true}"},
 {"role": "assistant", "content": "Refunded $12.50"}
]`

func mustTrace(t *testing.T, s string) *probity.Trace {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := traceFromJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTraceFromMessages(t *testing.T) {
	tr := mustTrace(t, traceJSON)
	var kinds []string
	for _, s := range tr.Steps {
		kinds = append(kinds, string(s.Kind))
	}
	if got, want := strings.Join(kinds, ","), "system,user,tool_call,tool_result,tool_call,tool_result,final"; got != want {
		t.Errorf("kinds = %s, want %s", got, want)
	}
	if got, want := tr.Steps[3].Tool.Name, "get_order"; got != want {
		t.Errorf("result tool name = %q, want %q (from the call id)", got, want)
	}
	if got, want := string(tr.Steps[4].Tool.Args), `{"order_id": "#W1", "amount": 12.5}`; got != want {
		t.Errorf("args = %s, want %s", got, want)
	}
}

func TestAssertions(t *testing.T) {
	tr := mustTrace(t, traceJSON)
	output := map[string]any{"answer": "Refunded $12.50", "total": 12.49, "items": []any{map[string]any{"id": 1.0}, map[string]any{"id": 2.0}}}
	expected := map[string]any{"answer": "Refunded $12.50", "total": 12.5}
	tests := []struct {
		name string
		yaml string
		pass bool
		msg  string
	}{
		{"equals path vs expected", "{type: equals, path: $.answer}", true, ""},
		{"equals shorthand literal", "{equals: 'nope', path: $.answer}", false, `got "Refunded $12.50", want "nope"`},
		{"equals ignore case", "{type: equals, path: $.answer, value: 'refunded $12.50', ignore_case: true}", true, ""},
		{"equals number", "{equals: 12.49, path: $.total}", true, ""},
		{"contains", "{contains: '$12.50', path: $.answer}", true, ""},
		{"contains list element", "{type: contains, path: '$.items[*].id', value: 2}", true, ""},
		{"contains fails", "{contains: refused, path: $.answer}", false, "does not contain"},
		{"regex", `{regex: '^Refunded \$\d+\.\d{2}$', path: $.answer}`, true, ""},
		{"regex fails", "{regex: '^No', path: $.answer}", false, "does not match"},
		{"json-path exists", "{type: json-path, path: '$.items[1].id'}", true, ""},
		{"json-path equals", "{type: json-path, path: '$.items[*].id', equals: [1, 2]}", true, ""},
		{"json-path missing", "{type: json-path, path: $.nope}", false, "nothing at $.nope"},
		{"json-path must not exist", "{type: json-path, path: $.nope, exists: false}", true, ""},
		{"json-schema", "{type: json-schema, schema: {type: object, required: [answer, total], properties: {total: {type: number}}}}", true, ""},
		{"json-schema fails", "{type: json-schema, schema: {type: object, required: [refund_id]}}", false, "does not match the schema"},
		{"numeric within", "{type: numeric, path: $.total, tolerance: 0.02}", true, ""},
		{"numeric outside", "{type: numeric, path: $.total, tolerance: 0.001}", false, "want 12.5 ± 0.001"},
		{"numeric relative", "{type: numeric, path: $.total, value: 12.5, tolerance: 0.001, relative: true}", true, ""},
		{"tool-called", "{type: tool-called, tool: refund}", true, ""},
		{"tool-called max", "{type: tool-called, tool: refund, max: 0}", false, "must not be called"},
		{"tool-called missing", "{type: tool-called, tool: cancel}", false, "cancel called 0 times"},
		{"tool-not-called", "{type: tool-not-called, tool: cancel}", true, ""},
		{"tool-not-called fails", "{type: tool-not-called, tool: refund}", false, "must not be called"},
		{"arguments subset", "{type: arguments-match, tool: refund, args: {order_id: '#W1'}}", true, ""},
		{"arguments exact fails", "{type: arguments-match, tool: refund, args: {order_id: '#W1'}, exact: true}", false, "no call to refund"},
		{"arguments wrong", "{type: arguments-match, tool: refund, args: {order_id: '#W2'}}", false, "#W2"},
		{"sequence in order", "{type: sequence, tools: [get_order, refund]}", true, ""},
		{"sequence wrong order", "{type: sequence, tools: [refund, get_order]}", false, "lack refund → get_order"},
		{"sequence any order", "{type: sequence, tools: [refund, get_order], any_order: true}", true, ""},
		{"sequence contiguous", "{type: sequence, tools: [get_order, refund], contiguous: true}", true, ""},
		{"max-steps", "{type: max-steps, max: 3}", true, ""},
		{"max-steps fails", "{type: max-steps, max: 2}", false, "3 agent steps, limit 2"},
		{"max-cost", "{type: max-cost, max: 0.01}", true, ""},
		{"max-cost fails", "{type: max-cost, max: 0.001}", false, "cost $0.0020"},
		{"max-latency", "{type: max-latency, max: 1s}", true, ""},
		{"max-latency fails", "{type: max-latency, max: 100ms}", false, "latency 250ms, limit 100ms"},
		{"cel", "{cel: 'output.answer == expected.answer && trace.tools == [\"get_order\", \"refund\"]'}", true, ""},
		{"cel tool args", "{cel: 'trace.tool_calls.exists(c, c.name == \"refund\" && c.args.amount == expected.total)'}", true, ""},
		{"cel metrics", "{cel: 'metrics.latency_ms < 1000.0 && metrics.cost_usd < 0.01'}", true, ""},
		{"cel false", "{cel: 'output.total > 100.0'}", false, "is false"},
		{"cel runtime error", "{cel: 'output.nope == 1'}", false, "no such key"},
		{"not", "{type: tool-called, tool: cancel, not: true}", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := minimalSuite[:strings.Index(minimalSuite, "assert:")] + "assert:\n  - " + tt.yaml + "\n"
			s, err := ParseSuite("s.yaml", []byte(src))
			if err != nil {
				t.Fatalf("ParseSuite: %v", err)
			}
			as, err := CompileAssertions(s, Options{})
			if err != nil {
				t.Fatalf("CompileAssertions: %v", err)
			}
			out := &Output{Value: output, Trace: tr, CostUSD: 0.002, Latency: 250 * time.Millisecond}
			r := as[0].Check(context.Background(), &Check{Output: out, Expected: expected, Input: map[string]any{"q": "refund"}})
			if r.Pass != tt.pass {
				t.Fatalf("Pass = %v (%s), want %v", r.Pass, r.Message, tt.pass)
			}
			if !strings.Contains(r.Message, tt.msg) {
				t.Errorf("Message = %q, want it to contain %q", r.Message, tt.msg)
			}
		})
	}
}

// TestNoFindingsFailsOnLoop runs the real detectors: a read repeated with
// identical arguments and answers is a medium loop finding.
func TestNoFindingsFailsOnLoop(t *testing.T) {
	loop := `[{"role": "user", "content": "status of #W1?"},
	 {"role": "assistant", "content": "", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "get_order", "arguments": "{\"id\": \"#W1\"}"}}]},
	 {"role": "tool", "tool_call_id": "a", "content": "pending"},
	 {"role": "assistant", "content": "", "tool_calls": [{"id": "b", "type": "function", "function": {"name": "get_order", "arguments": "{\"id\": \"#W1\"}"}}]},
	 {"role": "tool", "tool_call_id": "b", "content": "pending"},
	 {"role": "assistant", "content": "It is pending."}]`
	tr := mustTrace(t, loop)
	for _, tt := range []struct {
		sev  string
		pass bool
	}{{"medium", false}, {"high", true}} {
		a, err := (&NoFindingsSpec{Severity: tt.sev}).compile(&Suite{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := a.Check(context.Background(), &Check{Output: &Output{Value: "It is pending.", Trace: tr}})
		if r.Pass != tt.pass {
			t.Errorf("severity %s: Pass = %v (%s), want %v", tt.sev, r.Pass, r.Message, tt.pass)
		}
		if !tt.pass && !strings.Contains(r.Message, "loop") {
			t.Errorf("message %q does not name the loop detector", r.Message)
		}
	}
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		body string
		rs   ResponseSpec
		out  string
		cost float64
		tok  int64
		err  string
	}{
		{body: `{"output": {"a": 1}, "cost_usd": 0.5, "usage": {"prompt_tokens": 3, "completion_tokens": 4}}`, out: `{"a":1}`, cost: 0.5, tok: 7},
		{body: `{"a": 1}`, out: `{"a":1}`},
		{body: `"plain"`, out: `"plain"`},
		{body: `{"data": {"answer": "x"}, "meta": {"cost": 2}}`, rs: ResponseSpec{Output: "$.data.answer", Cost: "$.meta.cost"}, out: `"x"`, cost: 2},
		{body: `<html>oops</html>`, err: "garbage: reply is not JSON"},
		{body: ``, err: "garbage: empty reply"},
		{body: `{"x": 1}`, rs: ResponseSpec{Output: "$.answer"}, err: "nothing at $.answer"},
		{body: `{"output": 1, "trace": 5}`, err: "reply trace"},
	}
	for _, tt := range tests {
		o, err := parseReply([]byte(tt.body), tt.rs)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseReply(%q) error = %v, want %q", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseReply(%q): %v", tt.body, err)
			continue
		}
		b, _ := json.Marshal(o.Value)
		if string(b) != tt.out || o.CostUSD != tt.cost || o.Tokens.Total() != tt.tok {
			t.Errorf("parseReply(%q) = %s cost %v tokens %d, want %s %v %d", tt.body, b, o.CostUSD, o.Tokens.Total(), tt.out, tt.cost, tt.tok)
		}
	}
}

// TestPolicyAssertion runs a real policy file over the trace: refunding
// before looking the order up breaks an order rule.
func TestPolicyAssertion(t *testing.T) {
	dir := writeFiles(t, map[string]string{"policy.yaml": `
rules:
  - name: lookup-first
    tools: [refund]
    require_before: get_order
`})
	for _, tc := range []struct {
		trace string
		pass  bool
	}{
		{traceJSON, true},
		{`[{"role": "user", "content": "refund #W1"},
		   {"role": "assistant", "content": "", "tool_calls": [{"id": "c2", "type": "function", "function": {"name": "refund", "arguments": "{\"order_id\": \"#W1\"}"}}]},
		   {"role": "tool", "tool_call_id": "c2", "content": "ok"},
		   {"role": "assistant", "content": "done"}]`, false},
	} {
		a, err := (&PolicySpec{File: "policy.yaml"}).compile(&Suite{Dir: dir}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := a.Check(context.Background(), &Check{Output: &Output{Value: "done", Trace: mustTrace(t, tc.trace)}})
		if r.Pass != tc.pass {
			t.Errorf("Pass = %v (%s), want %v", r.Pass, r.Message, tc.pass)
		}
		if !tc.pass && !strings.Contains(r.Message, "policy:lookup-first") {
			t.Errorf("message %q does not name the rule", r.Message)
		}
	}
	if _, err := (&PolicySpec{File: "nope.yaml"}).compile(&Suite{Dir: dir}, Options{}); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing policy file error = %v, want it to name the file", err)
	}
}
