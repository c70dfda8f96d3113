package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/policy"
)

// A policy is compiled once; each decision sees the run so far.
func ExamplePolicy_Decide() {
	p, err := policy.Parse([]byte(`
rules:
  - name: no-env-files
    tools: [write_file]
    deny: 'args.path.endsWith(".env")'
    message: secrets files are off limits
budgets:
  - name: writes-per-run
    tools: [write_file]
    max_calls: 1
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	s := p.NewSession("run-1", nil)
	for _, path := range []string{"app/.env", "app/main.go", "app/util.go"} {
		step := probity.Step{Kind: probity.KindToolCall,
			Tool: &probity.ToolCall{Name: "write_file", Args: json.RawMessage(`{"path":"` + path + `"}`)}}
		d := p.Decide(context.Background(), s, step)
		fmt.Println(strings.TrimSpace(path + ": " + string(d.Effect) + " " + d.Rule))
		if d.Allowed() {
			s.Append(step)
		} else {
			s.AppendBlocked(step)
		}
	}
	// Output:
	// app/.env: deny no-env-files
	// app/main.go: allow
	// app/util.go: deny writes-per-run
}

// Offline, the same policy reports violations in a recorded run as findings.
func ExamplePolicy_Findings() {
	p, _ := policy.Parse([]byte(`
rules:
  - name: authenticate-first
    tools: [get_order_details]
    require_before: 'find_user_id_by_*'
`))
	t := &probity.Trace{ID: "t", Steps: []probity.Step{
		{Pos: probity.Position{Index: 0}, Kind: probity.KindUser, Content: "Where is order #W2378156?"},
		{Pos: probity.Position{Index: 1}, Kind: probity.KindToolCall,
			Tool: &probity.ToolCall{Name: "get_order_details", Args: json.RawMessage(`{"order_id":"#W2378156"}`)}},
	}}
	for _, f := range p.Findings(t) {
		fmt.Printf("step %d %s: %s\n", f.Step, f.Detector, f.Message)
	}
	// Output:
	// step 1 policy:authenticate-first: get_order_details would be denied: requires an earlier successful find_user_id_by_*
}
