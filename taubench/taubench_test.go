package taubench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
	"github.com/probity/probity/taubench"
)

// readFile imports path with taubench.Read.
func readFile(t *testing.T, path string) []*probity.Trace {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*probity.Trace
	if err := taubench.Read(context.Background(), path, f, func(tr *probity.Trace) error {
		out = append(out, tr)
		return nil
	}); err != nil {
		t.Fatalf("Read(%s): %v", path, err)
	}
	return out
}

// source is the file decoded independently, to compare against.
type source []struct {
	TaskID int     `json:"task_id"`
	Trial  int     `json:"trial"`
	Reward float64 `json:"reward"`
	Info   struct {
		Task struct {
			Instruction string `json:"instruction"`
			Actions     []struct {
				Name string `json:"name"`
			} `json:"actions"`
		} `json:"task"`
	} `json:"info"`
	Traj []map[string]any `json:"traj"`
}

func loadSource(t *testing.T, path string) source {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var src source
	if err := json.Unmarshal(b, &src); err != nil {
		t.Fatal(err)
	}
	return src
}

func TestRealFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		path  []string
		runs  int // the count the dataset README states; recomputed below too
		tasks int
	}{
		{"tau-bench airline", []string{"tau-bench", "gpt-4o-airline.json"}, 200, 50},
		{"agentrx retail", []string{"agentrx-tau-retail", "trajectories.json"}, 51, 51},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := shareddata.Path(t, tc.path...)
			src := loadSource(t, path)
			got := readFile(t, path)
			if len(got) != len(src) || len(got) != tc.runs {
				t.Fatalf("runs = %d, want %d (source has %d)", len(got), tc.runs, len(src))
			}
			tasks := map[string]bool{}
			ids := map[string]bool{}
			wantReward1, gotReward1 := 0, 0
			for i, tr := range got {
				s := src[i]
				tasks[tr.Meta["task_id"]] = true
				if ids[tr.ID] {
					t.Errorf("duplicate trace id %q", tr.ID)
				}
				ids[tr.ID] = true
				if s.Reward == 1 {
					wantReward1++
				}
				if tr.Labels.Reward != nil && *tr.Labels.Reward == 1 {
					gotReward1++
				}
				if want := fmt.Sprintf("task-%d/trial-%d", s.TaskID, s.Trial); tr.ID != want && !strings.HasPrefix(tr.ID, want+"#") {
					t.Errorf("run %d: ID = %q, want %q", i, tr.ID, want)
				}
				if tr.Task != s.Info.Task.Instruction {
					t.Errorf("run %d: Task = %.40q, want %.40q", i, tr.Task, s.Info.Task.Instruction)
				}
				if len(tr.Expected) != len(s.Info.Task.Actions) {
					t.Errorf("run %d: %d expected actions, want %d", i, len(tr.Expected), len(s.Info.Task.Actions))
				}
				checkPositions(t, i, tr, s.Traj)
			}
			if len(tasks) != tc.tasks {
				t.Errorf("distinct tasks = %d, want %d", len(tasks), tc.tasks)
			}
			if gotReward1 != wantReward1 {
				t.Errorf("runs with reward 1 = %d, want %d", gotReward1, wantReward1)
			}
		})
	}
}

// TestAirlineCounts pins the numbers the dataset documents, so a silent
// change of the file or the importer shows up.
func TestAirlineCounts(t *testing.T) {
	got := readFile(t, shareddata.Path(t, "tau-bench", "gpt-4o-airline.json"))
	trials := map[string]int{}
	reward1 := 0
	for _, tr := range got {
		trials[tr.Meta["task_id"]]++
		if *tr.Labels.Reward == 1 {
			reward1++
		}
	}
	if len(got) != 200 || len(trials) != 50 || reward1 != 84 {
		t.Errorf("runs, tasks, reward-1 = %d, %d, %d, want 200, 50, 84", len(got), len(trials), reward1)
	}
	for task, n := range trials {
		if n != 4 {
			t.Errorf("task %s has %d trials, want 4", task, n)
		}
	}
	want := time.Date(2024, 5, 15, 15, 0, 0, 0, time.FixedZone("EST", -5*3600))
	for _, tr := range got {
		if !tr.Clock.Equal(want) {
			t.Fatalf("%s: Clock = %v, want %v", tr.ID, tr.Clock, want)
		}
	}
}

// checkPositions verifies that every step points at the traj message it
// came from: same role, same content, same tool call.
func checkPositions(t *testing.T, run int, tr *probity.Trace, traj []map[string]any) {
	t.Helper()
	covered := make([]bool, len(traj))
	for _, st := range tr.Steps {
		i := st.Pos.Index
		if i < 0 || i >= len(traj) {
			t.Errorf("run %d: step %+v: index out of range", run, st.Pos)
			continue
		}
		covered[i] = true
		m := traj[i]
		role, _ := m["role"].(string)
		content, _ := m["content"].(string)
		if idx, ok := m["index"].(float64); ok && int(idx) != i+1 {
			t.Errorf("run %d: message %d has AgentRx index %v, want %d", run, i, idx, i+1)
		}
		switch st.Kind {
		case probity.KindSystem, probity.KindUser, probity.KindAssistant:
			if want := map[probity.Kind]string{probity.KindSystem: "system", probity.KindUser: "user", probity.KindAssistant: "assistant"}[st.Kind]; role != want || st.Actor != want {
				t.Errorf("run %d step %+v: kind %s actor %s, message role %s", run, st.Pos, st.Kind, st.Actor, role)
			}
			if st.Content != content || st.Pos.Part != 0 {
				t.Errorf("run %d step %+v: content %.30q, want %.30q", run, st.Pos, st.Content, content)
			}
		case probity.KindToolCall:
			calls, _ := m["tool_calls"].([]any)
			k := st.Pos.Part - 1
			if role != "assistant" || k < 0 || k >= len(calls) {
				t.Errorf("run %d step %+v: no tool call %d in message (role %s, %d calls)", run, st.Pos, k, role, len(calls))
				continue
			}
			call := calls[k].(map[string]any)
			fn := call["function"].(map[string]any)
			if st.Tool.ID != call["id"] || st.Tool.Name != fn["name"] {
				t.Errorf("run %d step %+v: tool %s/%s, want %v/%v", run, st.Pos, st.Tool.ID, st.Tool.Name, call["id"], fn["name"])
			}
			var wantArgs, gotArgs any
			if err := json.Unmarshal([]byte(fn["arguments"].(string)), &wantArgs); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(st.Tool.Args, &gotArgs); err != nil {
				t.Errorf("run %d step %+v: args %s: %v", run, st.Pos, st.Tool.Args, err)
			}
			if diff := cmp.Diff(wantArgs, gotArgs); diff != "" {
				t.Errorf("run %d step %+v: args differ (-want +got):\n%s", run, st.Pos, diff)
			}
		case probity.KindToolResult:
			if role != "tool" || st.Tool.ID != m["tool_call_id"] || st.Tool.Name != m["name"] || st.Content != content {
				t.Errorf("run %d step %+v: result %s/%s, message %v/%v role %s", run, st.Pos, st.Tool.ID, st.Tool.Name, m["tool_call_id"], m["name"], role)
			}
			if (st.Error != nil) != strings.HasPrefix(content, "Error") {
				t.Errorf("run %d step %+v: Error = %v for %.30q", run, st.Pos, st.Error, content)
			}
		default:
			t.Errorf("run %d step %+v: unexpected kind %s", run, st.Pos, st.Kind)
		}
	}
	for i, ok := range covered {
		if !ok {
			t.Errorf("run %d: message %d yielded no step", run, i)
		}
	}
}

func TestAssistantTextAndCalls(t *testing.T) {
	in := `[{"task_id": "t1", "trial": 2, "reward": 1, "info": {"task": {"instruction": "do it", "actions": [{"name": "a", "kwargs": {"x": 1}}]}},
	 "traj": [
	  {"role": "system", "content": "The current time is 2024-01-02 03:04:05 PST."},
	  {"role": "assistant", "content": "Let me check.", "tool_calls": [
	     {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}},
	     {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "not json"}}]},
	  {"role": "tool", "tool_call_id": "c1", "name": "f", "content": "Error: nope"},
	  {"role": "assistant", "content": null}
	 ]}]`
	var got []*probity.Trace
	err := taubench.Read(context.Background(), "x.json", strings.NewReader(in), func(t *probity.Trace) error {
		got = append(got, t)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	one := 1.0
	want := &probity.Trace{
		ID: "task-t1/trial-2", Source: "x.json", Format: "taubench", Task: "do it",
		Clock:    time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("PST", -8*3600)),
		Labels:   probity.Labels{Reward: &one},
		Expected: []probity.ToolCall{{Name: "a", Args: json.RawMessage(`{"x":1}`)}},
		Meta:     map[string]string{"task_id": "t1", "trial": "2", "record": "0"},
		Steps: []probity.Step{
			{Pos: probity.Position{Index: 0}, Kind: probity.KindSystem, Actor: "system", Content: "The current time is 2024-01-02 03:04:05 PST."},
			{Pos: probity.Position{Index: 1}, Kind: probity.KindAssistant, Actor: "assistant", Content: "Let me check."},
			{Pos: probity.Position{Index: 1, Part: 1}, Kind: probity.KindToolCall, Actor: "assistant", Tool: &probity.ToolCall{ID: "c1", Name: "f", Args: json.RawMessage(`{"a":1}`)}},
			{Pos: probity.Position{Index: 1, Part: 2}, Kind: probity.KindToolCall, Actor: "assistant", Tool: &probity.ToolCall{ID: "c2", Name: "g", RawArgs: "not json"}},
			{Pos: probity.Position{Index: 2}, Kind: probity.KindToolResult, Actor: "tool", Content: "Error: nope", Tool: &probity.ToolCall{ID: "c1", Name: "f"}, Error: &probity.ToolError{}},
			{Pos: probity.Position{Index: 3}, Kind: probity.KindAssistant, Actor: "assistant"},
		},
	}
	if len(got) != 1 {
		t.Fatalf("got %d traces, want 1", len(got))
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("trace differs (-want +got):\n%s", diff)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		where    string // substring of Error.Where
		msg      string // substring of Error.Message
		traces   int    // traces emitted before the error
	}{
		{"empty", "", "", "empty input", 0},
		{"object", `{"task_id": 1}`, "", "want a JSON list of τ-bench runs, got an object", 0},
		{"truncated", `[{"task_id": 1, "traj": []}, {"task_id": 2, "tr`, "record 1", "unexpected end of input", 1},
		{"syntax", "[\n{\"task_id\": 1, \"traj\": [x]}]", "record 0, line 2, column 25", "malformed JSON", 0},
		{"wrong type", `[{"task_id": 1, "traj": [{"role": "user", "content": 5}]}]`, "record 0", "want a string, got number", 0},
		{"not an object", `[{"task_id": 1, "traj": []}, 7]`, "record 1, line 1, column 30", "want an object, got number", 1},
		{"no traj", `[{"task_id": 1}]`, "record 0", `no "traj"`, 0},
		{"no role", `[{"task_id": 1, "traj": [{"content": "hi"}]}]`, "record 0", "message 0 has no role", 0},
		{"trailing garbage", `[{"task_id": 1, "traj": []}] x`, "line 1, column 30", `invalid character "x" after the end of the JSON value`, 1},
		{"deep nesting", `[{"task_id": 1, "traj": [` + strings.Repeat("[", 20000) + `]}]`, "record 0, line 1, column 10024", "nesting deeper than 10000", 0},
		{"NaN", `[{"task_id": 1, "reward": NaN, "traj": []}]`, "record 0", "malformed JSON", 0},
		{"invalid utf-8", "[{\"task_id\": 1, \"traj\": [{\"role\": \"user\", \"content\": \"\xff\"}]}]", "line 1, column 55", "invalid UTF-8", 0},
		{"bad record then good", `[{"task_id": 1, "traj": 3}, {"task_id": 2, "traj": []}]`, "record 0", "want an array", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := taubench.Read(context.Background(), "bad.json", strings.NewReader(tc.in), func(*probity.Trace) error { n++; return nil })
			var pe *probity.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Read = %v, want a *probity.Error", err)
			}
			if pe.Code != probity.EINVALID || pe.File != "bad.json" || !strings.Contains(pe.Where, tc.where) || !strings.Contains(pe.Message, tc.msg) {
				t.Errorf("Read = %q (code %s, where %q), want where ~%q, message ~%q", err, pe.Code, pe.Where, tc.where, tc.msg)
			}
			if n != tc.traces {
				t.Errorf("emitted %d traces before the error, want %d", n, tc.traces)
			}
		})
	}
}

// TestUnseekable checks positions on input that cannot be re-read (stdin):
// the stream counts lines itself, so they are exact there too.
func TestUnseekable(t *testing.T) {
	in := "[\n{\"task_id\": 1, \"traj\": []}, {\"task_id\": 2, \"traj\": [x]}]"
	err := taubench.Read(context.Background(), "<stdin>", struct{ io.Reader }{strings.NewReader(in)}, func(*probity.Trace) error { return nil })
	if got, want := fmt.Sprint(err), "<stdin>: record 1, line 2, column 53: malformed JSON"; !strings.HasPrefix(got, want) {
		t.Errorf("Read = %q, want prefix %q", got, want)
	}
	err = taubench.Read(context.Background(), "<stdin>", struct{ io.Reader }{strings.NewReader("[{\"traj\": [\"\xff\"]}]")}, func(*probity.Trace) error { return nil })
	if got, want := fmt.Sprint(err), "<stdin>: record 0, line 1, column 13: invalid UTF-8"; !strings.HasPrefix(got, want) {
		t.Errorf("Read = %q, want prefix %q", got, want)
	}
}

func TestEmitErrorStops(t *testing.T) {
	stop := errors.New("stop")
	in := `[{"task_id": 1, "traj": []}, {"task_id": 2, "traj": []}]`
	n := 0
	err := taubench.Read(context.Background(), "x", strings.NewReader(in), func(*probity.Trace) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("Read = %v after %d traces, want %v after 1", err, n, stop)
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		head string
		want bool
	}{
		{`[{"task_id": 0, "reward": 0.0, "info": {}}`, true},
		{"\ufeff [\n {\n  \"task_id\" : 3, \"traj\": [", true},
		{`[{"role": "user", "content": "task_id"}]`, false},
		{`{"task_id": 1, "traj": []}`, false},
		{``, false},
	} {
		if got := taubench.Sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("Sniff(%q) = %v, want %v", tc.head, got, tc.want)
		}
	}
}

func TestParseClock(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"The current time is 2024-05-15 15:00:00 EST.", time.Date(2024, 5, 15, 20, 0, 0, 0, time.UTC)},
		{"the current time is 2024-05-15 15:00 UTC", time.Date(2024, 5, 15, 15, 0, 0, 0, time.UTC)},
		{"no clock here", time.Time{}},
	} {
		if got := taubench.ParseClock(tc.in); !got.Equal(tc.want) {
			t.Errorf("ParseClock(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzRead checks that no input panics or yields a step that points
// outside its trace's source: seeds are the real files, trimmed.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`[{"task_id": 1, "trial": 0, "reward": 1, "info": {"task": {"instruction": "x"}}, "traj": [{"role": "assistant", "content": "a", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}]}]`))
	if dir, err := sharedDir(); err == nil {
		for _, p := range []string{dir + "/tau-bench/gpt-4o-airline.json", dir + "/agentrx-tau-retail/trajectories.json"} {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(firstRun(b))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := taubench.Read(context.Background(), "fuzz.json", bytes.NewReader(data), func(tr *probity.Trace) error {
			for _, s := range tr.Steps {
				if s.Pos.Index < 0 || !s.Kind.Valid() {
					t.Fatalf("bad step %+v", s)
				}
			}
			return nil
		})
		if err != nil {
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.File != "fuzz.json" || pe.Code != probity.EINVALID {
				t.Fatalf("error %v is not an EINVALID *probity.Error naming the file", err)
			}
		}
	})
}

func sharedDir() (string, error) { return shareddata.Find() }

// firstRun returns a one-run list holding the first run of a τ-bench file.
func firstRun(b []byte) []byte {
	var runs []json.RawMessage
	if json.Unmarshal(b, &runs) != nil || len(runs) == 0 {
		return b[:min(len(b), 4096)]
	}
	return append(append([]byte("["), runs[0]...), ']')
}

// TestAgentRxLabels checks that every failure AgentRx labels (by
// step_number, 1-based) lands on a step whose Pos.Index is step_number-1,
// in a run with reward 0.
func TestAgentRxLabels(t *testing.T) {
	got := readFile(t, shareddata.Path(t, "agentrx-tau-retail", "trajectories.json"))
	b, err := os.ReadFile(shareddata.Path(t, "agentrx-tau-retail", "labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var labels []struct {
		TrajectoryID int `json:"trajectory_id"`
		Failures     []struct {
			StepNumber int `json:"step_number"`
		} `json:"failures"`
	}
	if err := json.Unmarshal(b, &labels); err != nil {
		t.Fatal(err)
	}
	byTask := map[string]*probity.Trace{}
	for _, tr := range got {
		byTask[tr.Meta["task_id"]] = tr
	}
	found := 0
	for _, l := range labels {
		tr := byTask[fmt.Sprint(l.TrajectoryID)]
		if tr == nil {
			t.Errorf("no run for trajectory %d", l.TrajectoryID)
			continue
		}
		if *tr.Labels.Reward != 0 {
			t.Errorf("labelled run %s has reward %v, want 0", tr.ID, *tr.Labels.Reward)
		}
		for _, f := range l.Failures {
			ok := false
			for _, s := range tr.Steps {
				if s.Pos.Index == f.StepNumber-1 {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: no step at index %d for step_number %d", tr.ID, f.StepNumber-1, f.StepNumber)
			} else {
				found++
			}
		}
	}
	if len(labels) != 14 || found == 0 {
		t.Errorf("%d labelled runs, %d failures located; want 14 runs", len(labels), found)
	}
}
