package whowhen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/whowhen"
)

func read(t *testing.T, path string, data []byte) (*probity.Trace, error) {
	t.Helper()
	var got *probity.Trace
	err := whowhen.Read(context.Background(), path, bytes.NewReader(data), func(tr *probity.Trace) error {
		if got != nil {
			t.Fatalf("second trace from one file")
		}
		got = tr
		return nil
	})
	return got, err
}

func TestRealLogs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(shareddata.Path(t, "who-and-when", "algorithm-generated"), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 126 {
		t.Fatalf("found %d logs, want 126", len(files))
	}
	withStep, agree, srcAgree := 0, 0, 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !whowhen.Sniff(data[:min(len(data), 64<<10)]) {
			t.Errorf("%s: Sniff = false", path)
		}
		// The source, decoded independently.
		var src struct {
			Question     string `json:"question"`
			IsCorrect    bool   `json:"is_correct"`
			MistakeAgent string `json:"mistake_agent"`
			MistakeStep  string `json:"mistake_step"`
			GroundTruth  string `json:"ground_truth"`
			History      []struct {
				Role, Name, Content string
			} `json:"history"`
		}
		if err := json.Unmarshal(data, &src); err != nil {
			t.Fatal(err)
		}
		tr, err := read(t, path, data)
		if err != nil {
			t.Fatalf("Read(%s): %v", path, err)
		}
		if want := strings.TrimSuffix(filepath.Base(path), ".json"); tr.ID != want {
			t.Errorf("%s: ID = %q, want %q", path, tr.ID, want)
		}
		if tr.Task != src.Question || tr.Labels.GroundTruth != src.GroundTruth || tr.Labels.MistakeAgent != src.MistakeAgent {
			t.Errorf("%s: task/ground truth/agent = %.20q/%q/%q", path, tr.Task, tr.Labels.GroundTruth, tr.Labels.MistakeAgent)
		}
		if tr.Labels.IsCorrect == nil || *tr.Labels.IsCorrect != src.IsCorrect {
			t.Errorf("%s: IsCorrect = %v, want %v", path, tr.Labels.IsCorrect, src.IsCorrect)
		}
		want, _ := strconv.Atoi(src.MistakeStep)
		if want < len(src.History) && src.History[want].Name == src.MistakeAgent {
			srcAgree++
		}
		if ms := tr.Labels.MistakeStep; ms != nil && *ms < len(tr.Steps) && tr.Steps[*ms].Actor == tr.Labels.MistakeAgent {
			agree++
		}
		if tr.Labels.MistakeStep == nil || *tr.Labels.MistakeStep != want {
			t.Errorf("%s: MistakeStep = %v, want %d", path, tr.Labels.MistakeStep, want)
		} else {
			withStep++
		}
		if len(tr.Steps) != len(src.History) {
			t.Fatalf("%s: %d steps, want %d", path, len(tr.Steps), len(src.History))
		}
		for i, st := range tr.Steps {
			h := src.History[i]
			if st.Pos.Index != i || st.Actor != h.Name || st.Content != h.Content {
				t.Errorf("%s step %d: pos %d actor %q, want %d %q (content equal: %v)", path, i, st.Pos.Index, st.Actor, i, h.Name, st.Content == h.Content)
			}
			wantKind := probity.KindAssistant
			switch {
			case i == 0:
				wantKind = probity.KindUser
			case h.Name == "Computer_terminal":
				wantKind = probity.KindToolResult
			}
			if st.Kind != wantKind {
				t.Errorf("%s step %d: kind %s, want %s", path, i, st.Kind, wantKind)
			}
			failed := strings.HasPrefix(h.Content, "exitcode: ") && !strings.HasPrefix(h.Content, "exitcode: 0 ")
			if st.Kind == probity.KindToolResult && failed && st.Error == nil {
				t.Errorf("%s step %d: failed execution without Error: %.40q", path, i, h.Content)
			}
		}
	}
	if withStep != 126 {
		t.Errorf("logs with mistake_step = %d, want 126", withStep)
	}
	// The labelled step's speaker is the labelled agent in 123 of 126 logs
	// (dataset README); the trace must agree with the source exactly.
	if agree != srcAgree || agree != 123 {
		t.Errorf("mistake step spoken by the mistake agent in %d traces, %d sources; want 123", agree, srcAgree)
	}
}

func TestTurns(t *testing.T) {
	in := `{"question": "q?", "ground_truth": 8, "is_correct": "False", "mistake_agent": "B", "mistake_step": "2", "mistake_reason": "r",
	  "history": [
	    {"role": "assistant", "name": "A", "content": "task and plan"},
	    {"role": "user", "name": "Computer_terminal", "content": "exitcode: 1 (execution failed)\nCode output: boom"},
	    {"role": "user", "name": "B", "content": "the answer is 7"},
	    {"role": "user", "name": "Computer_terminal", "content": "exitcode: 0 (execution succeeded)\nTraceback (most recent call last):\n  x"}
	  ]}`
	got, err := read(t, "runs/42.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	f, two := false, 2
	want := &probity.Trace{
		ID: "42", Source: "runs/42.json", Format: "whowhen", Task: "q?",
		Labels: probity.Labels{IsCorrect: &f, MistakeAgent: "B", MistakeStep: &two, MistakeReason: "r", GroundTruth: "8"},
		Meta:   map[string]string{},
		Steps: []probity.Step{
			{Pos: probity.Position{Index: 0}, Kind: probity.KindUser, Actor: "A", Content: "task and plan"},
			{Pos: probity.Position{Index: 1}, Kind: probity.KindToolResult, Actor: "Computer_terminal", Content: "exitcode: 1 (execution failed)\nCode output: boom",
				Tool: &probity.ToolCall{Name: "Computer_terminal"}, Error: &probity.ToolError{Code: "1"}},
			{Pos: probity.Position{Index: 2}, Kind: probity.KindAssistant, Actor: "B", Content: "the answer is 7"},
			{Pos: probity.Position{Index: 3}, Kind: probity.KindToolResult, Actor: "Computer_terminal", Content: "exitcode: 0 (execution succeeded)\nTraceback (most recent call last):\n  x",
				Tool: &probity.ToolCall{Name: "Computer_terminal"}, Error: &probity.ToolError{}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trace differs (-want +got):\n%s", diff)
	}
}

// TestHandCrafted reads the hand-crafted split's shape: turns with a role
// and no name, and the executor called "ComputerTerminal".
func TestHandCrafted(t *testing.T) {
	in := `{"question": "q", "mistake_step": 1, "is_correct": false, "history": [
	  {"role": "human", "content": "task"},
	  {"role": "Orchestrator (thought)", "content": "plan"},
	  {"role": "ComputerTerminal", "content": "Traceback (most recent call last):\n boom"}]}`
	got, err := read(t, "hc.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var kinds, actors []string
	for _, s := range got.Steps {
		kinds = append(kinds, string(s.Kind))
		actors = append(actors, s.Actor)
	}
	if diff := cmp.Diff([]string{"user", "assistant", "tool_result"}, kinds); diff != "" {
		t.Errorf("kinds differ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"human", "Orchestrator (thought)", "ComputerTerminal"}, actors); diff != "" {
		t.Errorf("actors differ (-want +got):\n%s", diff)
	}
	if got.Steps[2].Error == nil || *got.Labels.MistakeStep != 1 {
		t.Errorf("traceback not marked failed (%v) or mistake step %v", got.Steps[2].Error, got.Labels.MistakeStep)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "x.json: empty input"},
		{"list", `[1]`, "x.json: line 1, column 1: want an object, got array"},
		{"no history", `{"question": "q"}`, `x.json: line 1, column 1: not a Who&When log: no "history" list`},
		{"bad step", `{"history": [], "mistake_step": "two"}`, `x.json: line 1, column 1: mistake_step "two" is not a step number`},
		{"history type", `{"history": {"a": 1}}`, "x.json: line 1, column 13: history: want an array, got object"},
		{"truncated", "{\"history\": [\n{\"role\": \"user\"", "x.json: line 2, column 16: unexpected end of input (truncated file?)"},
		{"two values", `{"history": []} {}`, "x.json: line 1, column 17: an object after the end of the JSON value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t, "x.json", []byte(tc.in))
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.Code != probity.EINVALID {
				t.Fatalf("Read = %v, want an EINVALID *probity.Error", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Read = %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"question": "q", "mistake_step": "1", "history": [{"role": "user", "name": "A", "content": "x"}, {"name": "Computer_terminal", "content": "exitcode: 1"}]}`))
	if dir, err := shareddata.Find(); err == nil {
		for _, name := range []string{"1.json", "2.json", "17.json"} {
			if b, err := os.ReadFile(filepath.Join(dir, "who-and-when", "algorithm-generated", name)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := whowhen.Read(context.Background(), "fuzz.json", bytes.NewReader(data), func(tr *probity.Trace) error {
			for i, s := range tr.Steps {
				if s.Pos.Index != i || !s.Kind.Valid() {
					t.Fatalf("bad step %d: %+v", i, s)
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
