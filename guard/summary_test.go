package guard_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/probity/probity"
	"github.com/probity/probity/guard"
)

// TestReplay checks that a replayed history is what a later decision sees:
// a failed authentication does not satisfy require_before, a successful
// one does, and replayed calls count against budgets.
func TestReplay(t *testing.T) {
	call := func(id, tool, args string) probity.Step {
		return probity.Step{Kind: probity.KindToolCall, Tool: &probity.ToolCall{ID: id, Name: tool, Args: json.RawMessage(args)}}
	}
	result := func(id, tool, content string, failed bool) probity.Step {
		s := probity.Step{Kind: probity.KindToolResult, Content: content, Tool: &probity.ToolCall{ID: id, Name: tool}}
		if failed {
			s.Error = &probity.ToolError{Message: content}
		}
		return s
	}
	user := probity.Step{Kind: probity.KindUser, Content: "I am maya@example.com"}
	cases := []struct {
		name  string
		steps []probity.Step
		tool  string
		args  string
		want  string
		rule  string
	}{
		{"no history", nil, "get_order_details", `{}`, "deny", "authenticate-first"},
		{"failed authentication", []probity.Step{user, call("c1", "find_user_id_by_email", `{"email":"x"}`), result("c1", "find_user_id_by_email", "Error: not found", true)},
			"get_order_details", `{}`, "deny", "authenticate-first"},
		{"authenticated", []probity.Step{user, call("c1", "find_user_id_by_email", `{"email":"x"}`), result("c1", "find_user_id_by_email", "user_1", false)},
			"get_order_details", `{}`, "allow", ""},
		// Results without call ids are matched by tool name.
		{"authenticated, no ids", []probity.Step{call("", "find_user_id_by_email", `{"email":"x"}`), result("", "find_user_id_by_email", "user_1", false)},
			"get_order_details", `{}`, "allow", ""},
		{"budget spent by the recording", []probity.Step{call("w1", "write_file", `{"path":"a"}`), call("w2", "write_file", `{"path":"b"}`)},
			"write_file", `{"path":"c"}`, "deny", "writes-per-run"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGuard(t, testPolicy, guard.Options{})
			ctx := context.Background()
			if err := g.Replay(ctx, "r", &probity.Trace{ID: "t", Steps: c.steps}); err != nil {
				t.Fatalf("Replay: %v", err)
			}
			v, err := g.Decide(ctx, guard.Call{Run: "r", Tool: c.tool, Args: json.RawMessage(c.args)})
			if err != nil {
				t.Fatal(err)
			}
			if v.Decision != c.want || v.Rule != c.rule {
				t.Errorf("Decide(%s) after replay = %s rule %q, want %s rule %q", c.tool, v.Decision, v.Rule, c.want, c.rule)
			}
		})
	}
	g := newGuard(t, testPolicy, guard.Options{})
	bad := &probity.Trace{Steps: []probity.Step{call("x", "", `{}`)}}
	var pe *probity.Error
	if err := g.Replay(context.Background(), "r", bad); !errors.As(err, &pe) || pe.Code != probity.EINVALID {
		t.Errorf("Replay of a call without a tool name = %v, want EINVALID", err)
	}
}

// TestSummarizeAudit writes a real audit log through a shadow-mode guard
// and an enforcing one, and checks the counts the report is made of.
func TestSummarizeAudit(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "shadow.jsonl"), filepath.Join(dir, "enforce.jsonl")}
	for i, mode := range []string{"mode: shadow\n", ""} {
		audit, err := guard.OpenAudit(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		g := newGuard(t, mode+testPolicy, guard.Options{Audit: audit})
		for _, p := range []string{".env", "a", "b", "c"} {
			if _, err := g.Decide(context.Background(), guard.Call{Run: "r", Tool: "write_file", Args: json.RawMessage(`{"path":"` + p + `"}`)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.AuditEvent(&guard.AuditRecord{Event: guard.EventToolPoisoning, Tool: "evil"}); err != nil {
			t.Fatal(err)
		}
		g.Close()
		audit.Close()
	}
	got, err := guard.SummarizeAudit(paths...)
	if err != nil {
		t.Fatal(err)
	}
	// Shadow: all four allowed, .env would be denied and the budget's
	// third and fourth writes too. Enforcing: .env denied (so it spends no
	// budget), a and b allowed, c denied by the budget.
	want := &guard.AuditSummary{
		Decisions: 8, Allowed: 6,
		Rules: []guard.RuleSummary{
			{Rule: "no-env-files", Denied: 1, WouldDeny: 1},
			{Rule: "writes-per-run", Denied: 1, WouldDeny: 2},
		},
		Approvals:     map[string]int{},
		PoisonedTools: []string{"evil"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SummarizeAudit (-want +got)\n%s", diff)
	}
	b, _ := json.Marshal(got)
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["poisoned_tools"] == nil || back["rules"] == nil {
		t.Errorf("JSON form %s lacks rules or poisoned_tools", b)
	}

	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"event":"decision"}`+"\n"+`{"time":1}`+"\n"), 0o600)
	_, err = guard.SummarizeAudit(bad)
	var pe *probity.Error
	if !errors.As(err, &pe) || pe.Code != probity.EINVALID || pe.File != bad || pe.Where != "line 2" {
		t.Errorf("SummarizeAudit(bad) = %v, want EINVALID at %s line 2", err, bad)
	}
}
