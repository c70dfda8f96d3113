package spec

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity/internal/shareddata"
)

// TestTauRetailPolicy lints the real τ-bench retail agent policy (the system
// prompt of the AgentRx runs) and compares every finding with the reviewed
// list. Then it adds the Probity policy that enforces it
// (examples/policies/tau-retail.yaml) and the tools the agents really
// called, named as in the runs, and checks that the guards are seen: every
// consequential tool is covered by the confirmation rule, and every glob of
// the policy names a real tool.
func TestTauRetailPolicy(t *testing.T) {
	file := shareddata.Path(t, "agentrx-tau-retail", "retail_policy.txt")
	doc, err := ParseDoc(file, []byte(readFile(t, file)))
	if err != nil {
		t.Fatal(err)
	}
	summary := func(fs []Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%s %s %s:%d", f.Severity, f.Rule, f.Tool, f.Span.Line))
		}
		sort.Strings(out)
		return out
	}
	want := []string{
		// Agree: nothing in the policy says when the conversation or a
		// request is over (tau-bench's simulated user ends it with
		// ###STOP###; a real deployment has no such signal).
		"medium missing-stop-condition :1",
		// Agree, weakly: the policy states what each action does ("the
		// order status will be changed to 'cancelled'") but never tells
		// the agent to check that it did, or what done means.
		"medium missing-success-criterion :1",
	}
	got := summary(Lint(&Input{Docs: []*Doc{doc}}, nil))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retail policy alone (-reviewed +got):\n%s", diff)
	}

	// The tools the runs called, with the argument names they used. Their
	// types are not in the data, so the schema rules, which would judge
	// schemas we made up, are left out.
	tools := observedTools(t, shareddata.Path(t, "agentrx-tau-retail", "trajectories.json"))
	pol, err := LoadPolicy("../examples/policies/tau-retail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules []*Rule
	for _, r := range Rules() {
		switch r.ID {
		case "weak-schema-free-string", "weak-schema-optional", "weak-schema-open-object":
		default:
			rules = append(rules, r)
		}
	}
	got = summary(Lint(&Input{Docs: []*Doc{doc}, Tools: tools, Policy: pol}, rules))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retail policy with tools and tau-retail.yaml (-reviewed +got):\n%s", diff)
	}
	// Without the policy, only the prompt's confirmation sentence guards
	// the consequential tools, and it names cancel, modify, return and
	// exchange: all seven consequential tools are covered by it.
	got = summary(Lint(&Input{Docs: []*Doc{doc}, Tools: tools}, rules))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retail policy with tools, no policy file (-reviewed +got):\n%s", diff)
	}
	// And without the prompt, nothing guards them. The name classifier
	// also reads transfer_to_human_agents as a transfer (of money); the
	// policy file says otherwise (side_effects: false), which is why the
	// runs above, with the policy, do not list it.
	got = summary(Lint(&Input{Tools: tools}, []*Rule{ruleUnguardedSideEffect()}))
	want = []string{
		"high unguarded-side-effect cancel_pending_order:20",
		"high unguarded-side-effect transfer_to_human_agents:167",
		"medium unguarded-side-effect exchange_delivered_order_items:32",
		"medium unguarded-side-effect modify_pending_order_address:101",
		"medium unguarded-side-effect modify_pending_order_items:113",
		"medium unguarded-side-effect modify_pending_order_payment:123",
		"medium unguarded-side-effect modify_user_address:138",
		"medium unguarded-side-effect return_delivered_order_items:149",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tools alone (-want +got):\n%s", diff)
	}
	got = summary(Lint(&Input{Tools: tools, Policy: pol}, []*Rule{ruleUnguardedSideEffect()}))
	if len(got) != 0 {
		t.Errorf("tools with tau-retail.yaml: %v, want every consequential tool guarded by confirm-consequential-action", got)
	}
}

// observedTools builds MCP tool definitions from the calls in a τ-bench
// trajectory file: each tool's name and the argument names it was called
// with, untyped.
func observedTools(t *testing.T, file string) []*Tool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var runs []struct {
		Traj []struct {
			ToolCalls []struct {
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"traj"`
	}
	if err := json.Unmarshal(b, &runs); err != nil {
		t.Fatal(err)
	}
	args := map[string]map[string]any{}
	for _, r := range runs {
		for _, m := range r.Traj {
			for _, tc := range m.ToolCalls {
				props := args[tc.Function.Name]
				if props == nil {
					props = map[string]any{}
					args[tc.Function.Name] = props
				}
				var a map[string]any
				_ = json.Unmarshal([]byte(tc.Function.Arguments), &a)
				for k := range a {
					props[k] = map[string]any{}
				}
			}
		}
	}
	var list []map[string]any
	for name, props := range args {
		list = append(list, map[string]any{"name": name, "inputSchema": map[string]any{"type": "object", "properties": props}})
	}
	sort.Slice(list, func(i, j int) bool { return list[i]["name"].(string) < list[j]["name"].(string) })
	src, _ := json.MarshalIndent(map[string]any{"tools": list}, "", "  ")
	tools, err := ParseTools("observed-tools.json", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools) != 16 {
		t.Fatalf("%d tools observed, want the 16 tools of τ-bench retail", len(tools))
	}
	return tools
}
