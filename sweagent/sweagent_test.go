package sweagent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/sweagent"
)

func readPath(t *testing.T, path string) *probity.Trace {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []*probity.Trace
	if err := sweagent.Read(context.Background(), path, f, func(tr *probity.Trace) error {
		got = append(got, tr)
		return nil
	}); err != nil {
		t.Fatalf("Read(%s): %v", path, err)
	}
	if len(got) != 1 {
		t.Fatalf("Read(%s) emitted %d traces, want 1", path, len(got))
	}
	return got[0]
}

func TestRealRuns(t *testing.T) {
	dir := shareddata.Path(t, "swebench-gemini3pro")
	files, err := filepath.Glob(filepath.Join(dir, "trajs", "*", "*.traj.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Recompute the expected counts from the files themselves.
	wantReports, wantResolved := 0, 0
	runs, reports, resolved := 0, 0, 0
	bash := regexp.MustCompile("(?s)```bash\\s*\\n(.*?)\\n```")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !sweagent.Sniff(data[:min(len(data), 64<<10)]) {
			t.Errorf("%s: Sniff = false", path)
		}
		var src struct {
			InstanceID string `json:"instance_id"`
			Info       struct {
				ExitStatus string `json:"exit_status"`
				Submission string `json:"submission"`
			} `json:"info"`
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(data, &src); err != nil {
			t.Fatal(err)
		}
		if rb, err := os.ReadFile(filepath.Join(dir, "logs", src.InstanceID, "report.json")); err == nil {
			var rep struct{ Resolved bool }
			if err := json.Unmarshal(rb, &rep); err != nil {
				t.Fatal(err)
			}
			wantReports++
			if rep.Resolved {
				wantResolved++
			}
		}

		tr := readPath(t, path)
		runs++
		if tr.ID != src.InstanceID || tr.Labels.ExitStatus != src.Info.ExitStatus {
			t.Errorf("%s: ID %q exit %q, want %q %q", path, tr.ID, tr.Labels.ExitStatus, src.InstanceID, src.Info.ExitStatus)
		}
		if tr.Labels.Resolved != nil {
			reports++
			if *tr.Labels.Resolved {
				resolved++
			}
		}
		finals := 0
		seen := make([]bool, len(src.Messages))
		for _, st := range tr.Steps {
			m := src.Messages[st.Pos.Index]
			seen[st.Pos.Index] = true
			switch st.Kind {
			case probity.KindToolCall:
				cmds := bash.FindAllStringSubmatch(m.Content, -1)
				var args struct{ Command string }
				if err := json.Unmarshal(st.Tool.Args, &args); err != nil || m.Role != "assistant" || len(cmds) != 1 || args.Command != cmds[0][1] || st.Pos.Part != 1 {
					t.Errorf("%s step %+v: call %s, message role %s with %d commands", path, st.Pos, st.Tool.Args, m.Role, len(cmds))
				}
			case probity.KindFinal:
				finals++
				if m.Content != src.Info.Submission {
					t.Errorf("%s step %+v: final step is not the submission", path, st.Pos)
				}
			case probity.KindToolResult:
				failed := !strings.HasPrefix(m.Content, "<returncode>0</returncode>")
				if m.Role != "user" || st.Content != m.Content || (st.Error != nil) != failed {
					t.Errorf("%s step %+v: result error %v for %.30q", path, st.Pos, st.Error, m.Content)
				}
			default:
				if st.Content != m.Content {
					t.Errorf("%s step %+v: content differs from message", path, st.Pos)
				}
				if st.Kind == probity.KindAssistant && (st.Start.IsZero() || st.Start.Year() < 2024) {
					t.Errorf("%s step %+v: Start = %v, want the response's created time", path, st.Pos, st.Start)
				}
				if st.Kind == probity.KindAssistant && (st.Model == nil || st.Model.Name == "" || st.Model.OutputTokens == 0) {
					t.Errorf("%s step %+v: no model parameters: %+v", path, st.Pos, st.Model)
				}
			}
		}
		for i, ok := range seen {
			if !ok {
				t.Errorf("%s: message %d yielded no step", path, i)
			}
		}
		if src.Info.ExitStatus == "Submitted" && finals != 1 {
			t.Errorf("%s: %d final steps, want 1", path, finals)
		}
		if tr.Task == "" || strings.Contains(tr.Task, "<pr_description>") {
			t.Errorf("%s: Task = %.60q", path, tr.Task)
		}
	}
	// The dataset README says 102 runs; the trajs folder holds 99
	// trajectories plus 3 other files (preds.json, a report, a YAML).
	if runs != 99 || reports != wantReports || resolved != wantResolved || wantReports != 99 || wantResolved != 76 {
		t.Errorf("runs %d, with report %d (want %d), resolved %d (want %d)", runs, reports, wantReports, resolved, wantResolved)
	}
}

func TestSmall(t *testing.T) {
	dir := t.TempDir()
	trajDir := filepath.Join(dir, "trajs", "x__y-1")
	logDir := filepath.Join(dir, "logs", "x__y-1")
	for _, d := range []string{trajDir, logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	traj := `{"instance_id": "x__y-1", "info": {"exit_status": "Submitted", "submission": "diff", "model_stats": {"instance_cost": 0.5, "api_calls": 2},
	  "config": {"model": {"model_name": "m", "model_kwargs": {"temperature": 0.0}}}},
	  "messages": [
	    {"role": "system", "content": "sys"},
	    {"role": "user", "content": "<pr_description>\nConsider the following PR description:\nFix it\n</pr_description>\nmore"},
	    {"role": "assistant", "content": "THOUGHT: look\n\n` + "```bash\\nls -la\\n```" + `", "extra": {"response": {"model": "g", "provider": "P", "usage": {"prompt_tokens": 10, "completion_tokens": 3, "cost": 0.01}}}},
	    {"role": "user", "content": "<returncode>2</returncode>\n<output>no</output>"},
	    {"role": "assistant", "content": "two\n` + "```bash\\na\\n```\\n```bash\\nb\\n```" + `"},
	    {"role": "user", "content": "Please always provide EXACTLY ONE action"},
	    {"role": "assistant", "content": "done\n` + "```bash\\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff\\n```" + `"},
	    {"role": "user", "content": "diff"}
	  ], "trajectory_format": "mini-swe-agent-1"}`
	path := filepath.Join(trajDir, "x__y-1.traj.json")
	if err := os.WriteFile(path, []byte(traj), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "report.json"), []byte(`{"x__y-1": {"resolved": false}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got := readPath(t, path)
	zero, no := 0.0, false
	m := &probity.Model{Name: "m", Temperature: &zero}
	want := &probity.Trace{
		ID: "x__y-1", Source: path, Format: "sweagent", Task: "Fix it",
		Labels: probity.Labels{ExitStatus: "Submitted", Resolved: &no},
		Meta:   map[string]string{"instance_id": "x__y-1", "trajectory_format": "mini-swe-agent-1", "cost_usd": "0.5", "api_calls": "2", "model": "m"},
		Steps: []probity.Step{
			{Pos: probity.Position{Index: 0}, Kind: probity.KindSystem, Actor: "system", Content: "sys"},
			{Pos: probity.Position{Index: 1}, Kind: probity.KindUser, Actor: "user", Content: "<pr_description>\nConsider the following PR description:\nFix it\n</pr_description>\nmore"},
			{Pos: probity.Position{Index: 2}, Kind: probity.KindAssistant, Actor: "assistant", Content: "THOUGHT: look\n\n```bash\nls -la\n```",
				Model: &probity.Model{Provider: "P", Name: "g", Temperature: &zero, InputTokens: 10, OutputTokens: 3, CostUSD: 0.01}},
			{Pos: probity.Position{Index: 2, Part: 1}, Kind: probity.KindToolCall, Actor: "assistant", Tool: &probity.ToolCall{Name: "bash", Args: json.RawMessage(`{"command":"ls -la"}`)}},
			{Pos: probity.Position{Index: 3}, Kind: probity.KindToolResult, Actor: "tool", Content: "<returncode>2</returncode>\n<output>no</output>",
				Tool: &probity.ToolCall{Name: "bash"}, Error: &probity.ToolError{Code: "2"}},
			{Pos: probity.Position{Index: 4}, Kind: probity.KindAssistant, Actor: "assistant", Content: "two\n```bash\na\n```\n```bash\nb\n```", Model: m},
			{Pos: probity.Position{Index: 5}, Kind: probity.KindUser, Actor: "user", Content: "Please always provide EXACTLY ONE action"},
			{Pos: probity.Position{Index: 6}, Kind: probity.KindAssistant, Actor: "assistant", Content: "done\n```bash\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff\n```", Model: m},
			{Pos: probity.Position{Index: 6, Part: 1}, Kind: probity.KindToolCall, Actor: "assistant", Tool: &probity.ToolCall{Name: "bash", Args: json.RawMessage(`{"command":"echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT \u0026\u0026 git diff"}`)}},
			{Pos: probity.Position{Index: 7}, Kind: probity.KindFinal, Actor: "assistant", Content: "diff"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trace differs (-want +got):\n%s", diff)
	}
}

// TestSWEAgentHistory reads SWE-agent's own format: the "history" list,
// commands in "action", observations by message_type.
func TestSWEAgentHistory(t *testing.T) {
	in := `{"environment": "swe_main", "trajectory": [{"action": "ls", "observation": "a b", "thought": "look"}],
	  "history": [
	    {"role": "system", "content": "sys", "agent": "primary"},
	    {"role": "user", "content": "<pr_description>\nFix\n</pr_description>", "agent": "primary"},
	    {"role": "assistant", "content": "look\n\n` + "```\\nls\\n```" + `", "thought": "look", "action": "ls\n", "agent": "primary"},
	    {"role": "user", "content": "a b", "agent": "primary", "message_type": "observation"}
	  ], "info": {"exit_status": "submitted"}}`
	if !sweagent.Sniff([]byte(in)) {
		t.Errorf("Sniff = false for a SWE-agent trajectory")
	}
	var got *probity.Trace
	err := sweagent.Read(context.Background(), "run/django-1.traj", strings.NewReader(in), func(tr *probity.Trace) error { got = tr; return nil })
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, st := range got.Steps {
		kinds = append(kinds, fmt.Sprintf("%d.%d %s", st.Pos.Index, st.Pos.Part, st.Kind))
	}
	want := []string{"0.0 system", "1.0 user", "2.0 assistant", "2.1 tool_call", "3.0 tool_result"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("steps differ (-want +got):\n%s", diff)
	}
	if got.ID != "django-1" || got.Task != "Fix" || string(got.Steps[3].Tool.Args) != `{"command":"ls"}` {
		t.Errorf("ID %q task %q args %s", got.ID, got.Task, got.Steps[3].Tool.Args)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no messages", `{"info": {"exit_status": "x"}}`, `t.json: line 1, column 1: not a mini-swe-agent trajectory: no "messages" list`},
		{"no role", `{"messages": [{"content": "x"}]}`, `t.json: line 1, column 1: messages[0] has no role`},
		{"bad type", `{"messages": [{"role": "user", "content": 3}]}`, `t.json: line 1, column 1: messages.content: want a string, got number`},
		{"array", `[]`, `t.json: line 1, column 1: want an object, got array`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sweagent.Read(context.Background(), "t.json", strings.NewReader(tc.in), func(*probity.Trace) error { return nil })
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.Code != probity.EINVALID || err.Error() != tc.want {
				t.Errorf("Read = %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"instance_id": "a", "info": {"exit_status": "Submitted", "submission": "d"}, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "<pr_description>t</pr_description>"}, {"role": "assistant", "content": "x\n` + "```bash\\nls\\n```" + `"}, {"role": "user", "content": "<returncode>1</returncode>"}]}`))
	if dir, err := shareddata.Find(); err == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "swebench-gemini3pro", "trajs", "*", "*.traj.json"))
		for _, p := range files[:min(2, len(files))] {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := sweagent.Read(context.Background(), "fuzz.json", bytes.NewReader(data), func(tr *probity.Trace) error {
			for _, s := range tr.Steps {
				if s.Pos.Index < 0 || !s.Kind.Valid() {
					t.Fatalf("bad step %+v", s)
				}
			}
			return nil
		})
		var pe *probity.Error
		if err != nil && (!errors.As(err, &pe) || pe.File != "fuzz.json") {
			t.Fatalf("error %v is not a *probity.Error naming the file", err)
		}
	})
}
