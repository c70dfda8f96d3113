package detectbench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/probity/probity"
)

// This file reads the shared datasets into traces. It mirrors the mapping the
// ingest package defines (one step per message, one per tool call, positions
// = index in the source list) so the measurement does not depend on the CLI.

type oaMsg struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

func contentString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return string(raw)
}

// stepsFromMessages maps OpenAI-style chat messages to steps.
func stepsFromMessages(msgs []oaMsg) []probity.Step {
	var steps []probity.Step
	names := map[string]string{}
	for i, m := range msgs {
		text := contentString(m.Content)
		switch m.Role {
		case "system":
			steps = append(steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindSystem, Content: text})
		case "user":
			steps = append(steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindUser, Actor: "user", Content: text})
		case "assistant":
			part := 0
			if text != "" || len(m.ToolCalls) == 0 {
				steps = append(steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindAssistant, Actor: "assistant", Content: text})
				part++
			}
			for _, tc := range m.ToolCalls {
				call := &probity.ToolCall{ID: tc.ID, Name: tc.Function.Name}
				if json.Valid([]byte(tc.Function.Arguments)) {
					call.Args = json.RawMessage(tc.Function.Arguments)
				} else {
					call.RawArgs = tc.Function.Arguments
				}
				names[tc.ID] = tc.Function.Name
				steps = append(steps, probity.Step{Pos: probity.Position{Index: i, Part: part}, Kind: probity.KindToolCall, Actor: "assistant", Tool: call})
				part++
			}
		case "tool":
			name := m.Name
			if name == "" {
				name = names[m.ToolCallID]
			}
			steps = append(steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindToolResult, Actor: "tool", Content: text,
				Tool: &probity.ToolCall{ID: m.ToolCallID, Name: name}})
		default:
			steps = append(steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindUser, Actor: m.Role, Content: text})
		}
	}
	return steps
}

type tauRun struct {
	TaskID int      `json:"task_id"`
	Trial  int      `json:"trial"`
	Reward *float64 `json:"reward"`
	Traj   []oaMsg  `json:"traj"`
}

// LoadTau reads a τ-bench (or AgentRx) trajectory file.
func LoadTau(path string) ([]*probity.Trace, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var runs []tauRun
	if err := json.Unmarshal(b, &runs); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	var out []*probity.Trace
	for _, r := range runs {
		t := &probity.Trace{
			ID:     fmt.Sprintf("task-%d-trial-%d", r.TaskID, r.Trial),
			Source: path, Format: "taubench",
			Labels: probity.Labels{Reward: r.Reward},
			Meta:   map[string]string{"task_id": strconv.Itoa(r.TaskID), "trial": strconv.Itoa(r.Trial)},
			Steps:  stepsFromMessages(r.Traj),
		}
		out = append(out, t)
	}
	return out, nil
}

var reBash = regexp.MustCompile("(?s)```bash\\s*\\n(.*?)\\n```")

// LoadSWE reads every mini-swe-agent run under dir (trajs/<id>/<id>.traj.json
// with logs/<id>/report.json). An assistant message yields its text and a
// "bash" tool call; the observation that follows is its tool result.
func LoadSWE(dir string) ([]*probity.Trace, error) {
	ids, err := os.ReadDir(filepath.Join(dir, "trajs"))
	if err != nil {
		return nil, err
	}
	var out []*probity.Trace
	for _, e := range ids {
		id := e.Name()
		p := filepath.Join(dir, "trajs", id, id+".traj.json")
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var raw struct {
			Info struct {
				ExitStatus string `json:"exit_status"`
			} `json:"info"`
			Messages []oaMsg `json:"messages"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("decode %s: %w", p, err)
		}
		t := &probity.Trace{ID: id, Source: p, Format: "swe-agent", Labels: probity.Labels{ExitStatus: raw.Info.ExitStatus}}
		if rb, err := os.ReadFile(filepath.Join(dir, "logs", id, "report.json")); err == nil {
			var rep map[string]struct {
				Resolved bool `json:"resolved"`
			}
			var flat struct {
				Resolved *bool `json:"resolved"`
			}
			if json.Unmarshal(rb, &flat) == nil && flat.Resolved != nil {
				t.Labels.Resolved = flat.Resolved
			} else if json.Unmarshal(rb, &rep) == nil {
				for _, v := range rep {
					r := v.Resolved
					t.Labels.Resolved = &r
				}
			}
		}
		for i, m := range raw.Messages {
			text := contentString(m.Content)
			switch {
			case m.Role == "system":
				t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindSystem, Content: text})
			case m.Role == "assistant":
				t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindAssistant, Actor: "assistant", Content: text})
				if mm := reBash.FindStringSubmatch(text); mm != nil {
					args, _ := json.Marshal(map[string]string{"command": mm[1]})
					t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i, Part: 1}, Kind: probity.KindToolCall, Actor: "assistant",
						Tool: &probity.ToolCall{Name: "bash", Args: args}})
				}
			case i >= 2:
				t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindToolResult, Actor: "tool", Content: text,
					Tool: &probity.ToolCall{Name: "bash"}})
			default:
				t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i}, Kind: probity.KindUser, Actor: "user", Content: text})
				if i == 1 {
					t.Task = text
				}
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// LoadWhoWhen reads every Who&When log in dir.
func LoadWhoWhen(dir string) ([]*probity.Trace, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []*probity.Trace
	for _, n := range names {
		p := filepath.Join(dir, n)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var raw struct {
			Question     string `json:"question"`
			GroundTruth  any    `json:"ground_truth"`
			IsCorrect    *bool  `json:"is_correct"`
			MistakeAgent string `json:"mistake_agent"`
			MistakeStep  any    `json:"mistake_step"`
			History      []struct {
				Role    string `json:"role"`
				Name    string `json:"name"`
				Content string `json:"content"`
			} `json:"history"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("decode %s: %w", p, err)
		}
		t := &probity.Trace{ID: strings.TrimSuffix(n, ".json"), Source: p, Format: "whowhen", Task: raw.Question,
			Labels: probity.Labels{IsCorrect: raw.IsCorrect, MistakeAgent: raw.MistakeAgent}}
		if ms, err := strconv.Atoi(fmt.Sprint(raw.MistakeStep)); err == nil {
			t.Labels.MistakeStep = &ms
		}
		for i, h := range raw.History {
			k := probity.KindAssistant
			if h.Role == "human" {
				k = probity.KindUser
			}
			if h.Name == "Computer_terminal" {
				k = probity.KindToolResult
			}
			t.Steps = append(t.Steps, probity.Step{Pos: probity.Position{Index: i}, Kind: k, Actor: h.Name, Content: h.Content})
		}
		out = append(out, t)
	}
	return out, nil
}
