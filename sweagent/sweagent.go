// Package sweagent reads mini-swe-agent trajectories (*.traj.json): one
// object per run with the chat "messages" between the agent and its shell,
// "info" (exit_status, submission, model_stats, config) and "instance_id".
// SWE-agent's own *.traj files are read too, from their "history" list
// (whose entries carry the parsed "action"; observations are results
// without a return code).
//
// Each file becomes one Trace; Pos.Index is the message's 0-based index in
// "messages":
//
//   - the system prompt is KindSystem, the first user message (the task,
//     whose <pr_description> becomes Trace.Task) KindUser;
//   - an assistant message is a KindAssistant step carrying the model's
//     parameters and token use from extra.response, plus a KindToolCall
//     "bash" step (Part 1, Args {"command": ...}) when it holds exactly one
//     ```bash block: mini-swe-agent runs nothing otherwise;
//   - a "<returncode>N</returncode>" observation is a KindToolResult, failed
//     when N != 0; a timeout notice is a failed result with Code "timeout";
//     the harness's format complaints are KindUser;
//   - the message holding the submission (the output of "echo
//     COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", equal to info.submission) is
//     KindFinal.
//
// Labels.ExitStatus is info.exit_status; Labels.Resolved comes from the
// SWE-bench harness's report.json in ../../logs/<instance_id>/ relative to
// the trajectory, when that file exists.
package sweagent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/jsonx"
	"github.com/probity/probity/internal/wire"
)

// Format is the name of this format for --format.
const Format = "sweagent"

// SubmitMarker is the command mini-swe-agent's prompt tells the model to
// run when it is done.
const SubmitMarker = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"

// Sniff reports whether head looks like a mini-swe-agent trajectory.
func Sniff(head []byte) bool {
	if jsonx.FirstByte(head) != '{' {
		return false
	}
	if jsonx.HasKey(head, "trajectory_format") || bytes.Contains(head, []byte("mini-swe-agent")) {
		return true
	}
	// SWE-agent proper: a "trajectory" of steps with action and observation.
	if jsonx.HasKey(head, "trajectory") && jsonx.HasKey(head, "action") && jsonx.HasKey(head, "observation") {
		return true
	}
	return jsonx.HasKey(head, "exit_status") &&
		(jsonx.HasKey(head, "submission") || jsonx.HasKey(head, "messages") || jsonx.HasKey(head, "model_stats"))
}

// SniffShape reports whether s, the structure of a whole input, is a
// mini-swe-agent or SWE-agent trajectory: one object with a
// trajectory_format, a trajectory of action/observation steps, or an exit
// status beside the submission, messages or model statistics.
func SniffShape(s jsonx.Shape) bool {
	if s.Kind != '{' || s.Lines {
		return false
	}
	if s.HasAny("trajectory_format", "info.mini_version") {
		return true
	}
	if s.Has("trajectory") && s.Has("trajectory[].action") && s.Has("trajectory[].observation") {
		return true
	}
	return s.HasAny("exit_status", "info.exit_status") &&
		s.HasAny("submission", "info.submission", "messages", "model_stats", "info.model_stats")
}

type message struct {
	Role    string       `json:"role"`
	Content wire.Content `json:"content"`
	// SWE-agent (not mini) history entries say what they are and carry
	// the parsed command.
	Action      *string `json:"action"`
	MessageType string  `json:"message_type"`
	Agent       string  `json:"agent"`
	Extra       *struct {
		Response *struct {
			Model    string `json:"model"`
			Provider string `json:"provider"`
			Created  int64  `json:"created"` // Unix seconds, when the model answered
			Usage    *struct {
				PromptTokens     int64   `json:"prompt_tokens"`
				CompletionTokens int64   `json:"completion_tokens"`
				Cost             float64 `json:"cost"`
			} `json:"usage"`
		} `json:"response"`
	} `json:"extra"`
}

type traj struct {
	InstanceID       string    `json:"instance_id"`
	TrajectoryFormat string    `json:"trajectory_format"`
	Messages         []message `json:"messages"`
	History          []message `json:"history"` // SWE-agent's name for the list
	Info             *struct {
		ExitStatus string `json:"exit_status"`
		Submission string `json:"submission"`
		MiniVer    string `json:"mini_version"`
		ModelStats *struct {
			InstanceCost float64 `json:"instance_cost"`
			APICalls     int     `json:"api_calls"`
		} `json:"model_stats"`
		Config *struct {
			Model *struct {
				ModelName   string `json:"model_name"`
				ModelKwargs *struct {
					Temperature *float64 `json:"temperature"`
					Seed        *int64   `json:"seed"`
				} `json:"model_kwargs"`
			} `json:"model"`
		} `json:"config"`
	} `json:"info"`
}

var (
	// bashRE is mini-swe-agent's own action regex.
	bashRE   = regexp.MustCompile("(?s)```bash\\s*\\n(.*?)\\n```")
	returnRE = regexp.MustCompile(`^\s*<returncode>\s*(-?\d+)\s*</returncode>`)
	prRE     = regexp.MustCompile(`(?s)<pr_description>\s*(?:Consider the following PR description:\s*)?(.*?)\s*</pr_description>`)
)

// Read decodes the trajectory in r and emits its Trace. The trace ID is the
// instance_id (else the file name without ".traj.json").
func Read(ctx context.Context, path string, r io.Reader, emit func(*probity.Trace) error) error {
	s := jsonx.NewStream(path, r)
	var tj traj
	from, _, err := s.Decode(jsonx.NoRecord, &tj)
	if err != nil {
		return err
	}
	if err := s.End(); err != nil {
		return err
	}
	start := s.Start(from)
	sweAgent := false
	if tj.Messages == nil && tj.History != nil {
		tj.Messages, sweAgent = tj.History, true
	}
	if tj.Messages == nil {
		return s.Errorf(jsonx.NoRecord, start, "not a mini-swe-agent trajectory: no \"messages\" list")
	}
	t := &probity.Trace{
		ID:     tj.InstanceID,
		Source: path,
		Format: Format,
		Meta:   map[string]string{},
		Steps:  make([]probity.Step, 0, len(tj.Messages)*3/2),
	}
	if t.ID == "" {
		t.ID = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".gz"), ".json"), ".traj")
	} else {
		t.Meta["instance_id"] = tj.InstanceID
	}
	if tj.TrajectoryFormat != "" {
		t.Meta["trajectory_format"] = tj.TrajectoryFormat
	} else if sweAgent {
		t.Meta["trajectory_format"] = "swe-agent"
	}

	var base probity.Model // parameters every call shares
	submission := ""
	if in := tj.Info; in != nil {
		t.Labels.ExitStatus = in.ExitStatus
		submission = in.Submission
		if in.MiniVer != "" {
			t.Meta["mini_version"] = in.MiniVer
		}
		if ms := in.ModelStats; ms != nil {
			t.Meta["cost_usd"] = strconv.FormatFloat(ms.InstanceCost, 'f', -1, 64)
			t.Meta["api_calls"] = strconv.Itoa(ms.APICalls)
		}
		if c := in.Config; c != nil && c.Model != nil {
			base.Name = c.Model.ModelName
			if k := c.Model.ModelKwargs; k != nil {
				base.Temperature, base.Seed = k.Temperature, k.Seed
			}
			if base.Name != "" {
				t.Meta["model"] = base.Name
			}
		}
	}

	firstUser := true
	lastCommand := ""
	for i := range tj.Messages {
		m := &tj.Messages[i]
		text := m.Content.PlainText()
		st := probity.Step{Pos: probity.Position{Index: i}, Content: text}
		switch strings.ToLower(m.Role) {
		case "system":
			st.Kind, st.Actor = probity.KindSystem, "system"
		case "assistant":
			st.Kind, st.Actor = probity.KindAssistant, "assistant"
			st.Model = model(base, m)
			if m.Extra != nil && m.Extra.Response != nil && m.Extra.Response.Created > 0 {
				st.Start = time.Unix(m.Extra.Response.Created, 0).UTC()
			}
			t.Steps = append(t.Steps, st)
			lastCommand = ""
			cmds := bashRE.FindAllStringSubmatch(text, -1)
			if m.Action != nil {
				// SWE-agent records the command it parsed and ran.
				cmds = nil
				if a := strings.TrimSpace(*m.Action); a != "" {
					cmds = [][]string{{"", a}}
				}
			}
			if len(cmds) == 1 {
				lastCommand = cmds[0][1]
				args, _ := json.Marshal(map[string]string{"command": lastCommand})
				t.Steps = append(t.Steps, probity.Step{
					Pos:   probity.Position{Index: i, Part: 1},
					Kind:  probity.KindToolCall,
					Actor: "assistant",
					Tool:  &probity.ToolCall{Name: "bash", Args: args},
				})
			}
			continue
		case "user", "tool":
			st.Kind, st.Actor = probity.KindUser, "user"
			switch {
			case firstUser:
				firstUser = false
				t.Task = task(text)
			case strings.Contains(lastCommand, SubmitMarker) || (submission != "" && text == submission && i == len(tj.Messages)-1):
				st.Kind, st.Actor = probity.KindFinal, "assistant"
			default:
				if rc := returnRE.FindStringSubmatch(text); rc != nil {
					st.Kind, st.Actor = probity.KindToolResult, "tool"
					st.Tool = &probity.ToolCall{Name: "bash"}
					if rc[1] != "0" {
						st.Error = &probity.ToolError{Code: rc[1]}
					}
				} else if m.MessageType == "observation" {
					st.Kind, st.Actor = probity.KindToolResult, "tool"
					st.Tool = &probity.ToolCall{Name: "bash"}
				} else if strings.HasPrefix(text, "The last command <command>") && strings.Contains(text, "timed out") {
					st.Kind, st.Actor = probity.KindToolResult, "tool"
					st.Tool = &probity.ToolCall{Name: "bash"}
					st.Error = &probity.ToolError{Code: "timeout"}
				}
			}
			lastCommand = ""
		case "":
			return s.Errorf(jsonx.NoRecord, start, "messages[%d] has no role", i)
		default:
			st.Kind, st.Actor = probity.KindUser, m.Role
		}
		t.Steps = append(t.Steps, st)
	}

	if resolved, ok := readResolved(path, t.ID); ok {
		t.Labels.Resolved = &resolved
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return emit(t)
}

// model returns the parameters of one assistant message.
func model(base probity.Model, m *message) *probity.Model {
	md := base
	if m.Extra != nil && m.Extra.Response != nil {
		r := m.Extra.Response
		if r.Model != "" {
			md.Name = r.Model
		}
		md.Provider = r.Provider
		if u := r.Usage; u != nil {
			md.InputTokens, md.OutputTokens, md.CostUSD = u.PromptTokens, u.CompletionTokens, u.Cost
		}
	}
	if md == (probity.Model{}) {
		return nil
	}
	return &md
}

// task extracts the PR description from mini-swe-agent's instance prompt.
func task(text string) string {
	if m := prRE.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return text
}

// readResolved reads report.json from ../../logs/<id>/ next to the
// trajectory. The SWE-bench harness writes it either flat or keyed by
// instance id.
func readResolved(path, id string) (bool, bool) {
	if path == "" || path == "-" || strings.HasPrefix(path, "<") || id == "" {
		return false, false
	}
	p := filepath.Join(filepath.Dir(path), "..", "..", "logs", id, "report.json")
	f, err := os.Open(p)
	if err != nil {
		return false, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return false, false
	}
	var flat struct {
		Resolved *bool `json:"resolved"`
	}
	if json.Unmarshal(b, &flat) == nil && flat.Resolved != nil {
		return *flat.Resolved, true
	}
	var keyed map[string]struct {
		Resolved *bool `json:"resolved"`
	}
	if json.Unmarshal(b, &keyed) == nil {
		if r, ok := keyed[id]; ok && r.Resolved != nil {
			return *r.Resolved, true
		}
	}
	return false, false
}
