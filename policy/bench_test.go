package policy_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/policy"
)

// benchPolicy has 50 rules of every kind over 25 tools, as a large real
// policy would: most rules select a few tools by glob, some select by side
// effects, some read the run.
func benchPolicy(b *testing.B, scanRun bool) *policy.Policy {
	var sb strings.Builder
	sb.WriteString("rules:\n")
	for i := range 50 {
		fmt.Fprintf(&sb, "  - name: rule-%d\n", i)
		switch i % 5 {
		case 0:
			fmt.Fprintf(&sb, "    tools: [tool_%d, tool_%d*]\n    deny: 'has(args.path) && args.path.endsWith(\".env%d\")'\n", i%25, (i+1)%25, i)
		case 1:
			fmt.Fprintf(&sb, "    tools: [tool_%d]\n    require_before: 'auth_*'\n", i%25)
		case 2:
			fmt.Fprintf(&sb, "    tools: [tool_%d]\n    action: approve\n    when: 'has(args.amount) && args.amount > %d'\n", i%25, 100+i)
		case 3:
			fmt.Fprintf(&sb, "    tools: [tool_%d]\n    max_per_run: %d\n", i%25, 1000+i)
		case 4:
			fmt.Fprintf(&sb, "    tools: [write_file]\n    deny: 'has(args.path) && args.path.startsWith(\"/etc/%d\")'\n", i)
		}
	}
	if scanRun {
		// A CEL rule that walks every earlier call: linear in the history.
		sb.WriteString("  - name: writes-after-reads\n    tools: [write_file]\n    deny: 'run.calls.exists(c, c.tool == \"tool_99\")'\n")
	}
	sb.WriteString("budgets:\n  - name: writes\n    tools: [write_file]\n    max_calls: 1000000000\n    per: run\n")
	p, err := policy.Parse([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// history is a 200-step run: user turns, assistant text, calls and results.
func history(p *policy.Policy) *policy.Session {
	s := p.NewSession("bench", nil)
	s.Append(user("please fix the config in app/settings.yaml for order #W1234567"))
	s.Append(call("auth_user", `{"email":"a@b.test"}`))
	s.Append(result("auth_user", "user_1"))
	for i := 0; len(s.Steps()) < 200; i++ {
		s.Append(call(fmt.Sprintf("tool_%d", i%25), fmt.Sprintf(`{"path":"dir/file%d.txt","amount":%d}`, i, i)))
		s.Append(result(fmt.Sprintf("tool_%d", i%25), fmt.Sprintf(`{"ok":true,"n":%d}`, i)))
		if i%10 == 9 {
			s.Append(assistant("done with a batch"))
			s.Append(user("go on"))
		}
	}
	return s
}

// BenchmarkDecide measures one in-process decision with 50 rules and a
// 200-step history, and reports p50 and p99 latency. "write" is a call
// that five rules and a budget apply to, "read" one rule, "approve" a rule
// whose when holds, "unmatched" no rule; "write-scan-run" adds a CEL rule
// that iterates over every earlier call (run.calls.exists), whose cost
// grows with the history:
//
//	go test ./policy -run '^$' -bench Decide -benchmem
func BenchmarkDecide(b *testing.B) {
	p, scan := benchPolicy(b, false), benchPolicy(b, true)
	ctx := context.Background()
	calls := map[string]probity.Step{
		"write":          call("write_file", `{"path":"src/main.go","content":"package main"}`),
		"read":           call("tool_7", `{"path":"src/main.go"}`),
		"unmatched":      call("list_dir", `{"path":"."}`),
		"approve":        call("tool_2", `{"amount":500}`),
		"write-scan-run": call("write_file", `{"path":"src/main.go","content":"package main"}`),
	}
	for _, name := range []string{"write", "read", "unmatched", "approve", "write-scan-run"} {
		b.Run(name, func(b *testing.B) {
			p := p
			if name == "write-scan-run" {
				p = scan
			}
			s := history(p)
			st := calls[name]
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				d := p.Decide(ctx, s, st)
				lat = append(lat, time.Since(t0))
				if d.Effect == policy.Deny {
					b.Fatalf("unexpected deny: %+v", d)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
