// Package whowhen reads Who&When failure-attribution logs: one JSON object
// per file holding a multi-agent run's history (a list of {role, name,
// content} turns), the question, the ground truth and the labels
// mistake_agent, mistake_step and mistake_reason.
//
// Each file becomes one Trace with one Step per history turn, Pos.Index =
// the turn's 0-based index, Actor = the turn's name, so Labels.MistakeStep
// (converted from the source's string "3" to 3) equals the Pos.Index of the
// labelled step. The first turn (the manager's task and plan handed to the
// team) is KindUser: it is the input the team starts from. Turns by the
// code executor "Computer_terminal" are KindToolResult, failed when the
// exit code is not 0 or the output holds a Python traceback; every other
// turn is an agent's message, KindAssistant, whatever its chat role (AG2
// logs label turns "user" or "assistant" from the manager's point of view).
package whowhen

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/jsonx"
	"github.com/probity/probity/internal/wire"
)

// Format is the name of this format for --format.
const Format = "whowhen"

// Terminal is the name of the code-executing agent whose turns are tool
// results.
const Terminal = "Computer_terminal"

// Sniff reports whether head looks like a Who&When log: an object with its
// mistake labels, or with a history list and a question or verdict.
func Sniff(head []byte) bool {
	if jsonx.FirstByte(head) != '{' {
		return false
	}
	// The labels identify the dataset even when a long history pushes
	// other keys beyond the head.
	if jsonx.HasKey(head, "mistake_agent") || jsonx.HasKey(head, "mistake_step") {
		return true
	}
	if !jsonx.HasKey(head, "history") {
		return false
	}
	for _, k := range []string{"question", "is_correct", "ground_truth"} {
		if jsonx.HasKey(head, k) {
			return true
		}
	}
	return false
}

// SniffShape reports whether s, the structure of a whole input, is a
// Who&When log: one object with a history and a question, verdict, ground
// truth or mistake attribution, however long the history before them.
func SniffShape(s jsonx.Shape) bool {
	if s.Kind != '{' || s.Lines {
		return false
	}
	return s.HasAny("mistake_agent", "mistake_step") ||
		s.Has("history") && s.HasAny("question", "is_correct", "ground_truth")
}

type turn struct {
	Role    string       `json:"role"`
	Name    string       `json:"name"`
	Content wire.Content `json:"content"`
}

type runLog struct {
	Question      string          `json:"question"`
	QuestionID    json.RawMessage `json:"question_ID"`
	Level         json.RawMessage `json:"level"`
	GroundTruth   json.RawMessage `json:"ground_truth"`
	IsCorrect     json.RawMessage `json:"is_correct"`
	MistakeAgent  string          `json:"mistake_agent"`
	MistakeStep   json.RawMessage `json:"mistake_step"`
	MistakeReason string          `json:"mistake_reason"`
	History       []turn          `json:"history"`
}

var exitRE = regexp.MustCompile(`^\s*exitcode:\s*(-?\d+)`)

// Read decodes the single log in r and emits its Trace. The trace ID is the
// file name without ".json" ("17" for 17.json), unique within the dataset.
func Read(ctx context.Context, path string, r io.Reader, emit func(*probity.Trace) error) error {
	s := jsonx.NewStream(path, r)
	var l runLog
	from, _, err := s.Decode(jsonx.NoRecord, &l)
	if err != nil {
		return err
	}
	if err := s.End(); err != nil {
		return err
	}
	start := s.Start(from)
	if l.History == nil {
		return s.Errorf(jsonx.NoRecord, start, "not a Who&When log: no \"history\" list")
	}
	t := &probity.Trace{
		ID:     traceID(path),
		Source: path,
		Format: Format,
		Task:   l.Question,
		Meta:   map[string]string{},
		Steps:  make([]probity.Step, 0, len(l.History)),
		Labels: probity.Labels{
			MistakeAgent:  l.MistakeAgent,
			MistakeReason: l.MistakeReason,
			GroundTruth:   jsonx.Scalar(l.GroundTruth),
		},
	}
	if v := jsonx.Scalar(l.QuestionID); v != "" {
		t.Meta["question_id"] = v
	}
	if v := jsonx.Scalar(l.Level); v != "" {
		t.Meta["level"] = v
	}
	if b, ok := boolean(l.IsCorrect); ok {
		t.Labels.IsCorrect = &b
	}
	if v := jsonx.Scalar(l.MistakeStep); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return s.Errorf(jsonx.NoRecord, start, "mistake_step %q is not a step number", v)
		}
		t.Labels.MistakeStep = &n
	}
	for i := range l.History {
		h := &l.History[i]
		st := probity.Step{Pos: probity.Position{Index: i}, Actor: h.Name, Content: h.Content.PlainText(), Kind: probity.KindAssistant}
		if st.Actor == "" {
			st.Actor = h.Role
		}
		switch {
		case i == 0:
			st.Kind = probity.KindUser
		case isTerminal(st.Actor):
			st.Kind = probity.KindToolResult
			st.Tool = &probity.ToolCall{Name: Terminal}
			if m := exitRE.FindStringSubmatch(st.Content); m != nil && m[1] != "0" {
				st.Error = &probity.ToolError{Code: m[1]}
			} else if strings.Contains(st.Content, "Traceback (most recent call last)") {
				st.Error = &probity.ToolError{}
			}
		}
		t.Steps = append(t.Steps, st)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return emit(t)
}

// traceID derives the ID from the file name ("logs/17.json" → "17").
func traceID(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), ".gz")
	base = strings.TrimSuffix(base, ".json")
	if base == "" || base == "." || base == "<stdin>" || base == "-" {
		return "whowhen"
	}
	return base
}

// boolean reads true/false or the strings "True"/"False" that Python dumps
// sometimes leave.
func boolean(raw json.RawMessage) (bool, bool) {
	switch strings.ToLower(jsonx.Scalar(raw)) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}

// isTerminal reports whether a turn's speaker is the code executor: the
// algorithm-generated split calls it "Computer_terminal", the hand-crafted
// (Magentic-One) split "ComputerTerminal".
func isTerminal(name string) bool {
	return strings.EqualFold(strings.ReplaceAll(name, "_", ""), "computerterminal")
}
