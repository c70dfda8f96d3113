// Package taubench reads τ-bench trajectory files (and AgentRx's, which share
// the shape): a JSON list of runs, each with task_id, trial, reward, info
// and traj, where traj is the OpenAI-style chat of one run.
//
// Files are streamed one run at a time, so memory stays bounded by the
// largest run, not the file. Each run becomes one Trace:
//
//   - ID "task-<task_id>/trial-<trial>" ("task-<task_id>" without a trial; a
//     "#<record>" suffix keeps it unique when a file repeats a pair);
//   - Task is info.task.instruction; Expected is info.task.actions;
//     Labels.Reward is reward; Meta holds task_id, trial, record, user_id;
//   - Clock comes from "The current time is 2024-05-15 15:00:00 EST." in the
//     system prompt, so "tomorrow" can be resolved;
//   - one or more Steps per traj message with Pos.Index = the message's
//     0-based position in traj (AgentRx step_number = Index+1). An assistant
//     message with text and N tool calls yields the text (Part 0, when not
//     empty) and one KindToolCall per call (Parts 1..N). A tool result whose
//     text starts with "Error" is marked failed, as τ-bench tools report
//     failures that way.
package taubench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/jsonx"
	"github.com/probity/probity/internal/wire"
)

// Format is the name of this format for --format.
const Format = "taubench"

// Sniff reports whether head, the first bytes of a file, looks like a
// τ-bench trajectory file: a JSON list whose first object has task_id and
// one of traj, trial or reward.
func Sniff(head []byte) bool {
	if jsonx.FirstByte(head) != '[' {
		return false
	}
	return jsonx.HasKey(head, "task_id") &&
		(jsonx.HasKey(head, "traj") || jsonx.HasKey(head, "trial") || jsonx.HasKey(head, "reward"))
}

// SniffShape reports whether s, the structure of a whole input, is a τ-bench
// results file: a list whose first run has a task_id and a traj, trial or
// reward, wherever in the run those keys are.
func SniffShape(s jsonx.Shape) bool {
	return s.Kind == '[' && !s.Lines && s.Has("task_id") && s.HasAny("traj", "trial", "reward")
}

// run is one element of the file.
type run struct {
	TaskID json.RawMessage `json:"task_id"`
	Trial  json.RawMessage `json:"trial"`
	Reward *float64        `json:"reward"`
	Info   *info           `json:"info"`
	Traj   []wire.Message  `json:"traj"`
}

type info struct {
	Task *struct {
		Instruction string            `json:"instruction"`
		Outputs     []json.RawMessage `json:"outputs"`
		UserID      string            `json:"user_id"`
		Actions     []struct {
			Name   string          `json:"name"`
			Kwargs json.RawMessage `json:"kwargs"`
		} `json:"actions"`
	} `json:"task"`
}

// Read decodes every run in r and calls emit with one Trace per run, in file
// order. path names the input in errors and in Trace.Source. A malformed run
// whose JSON is intact is reported after the others have been emitted;
// broken JSON stops the file where it breaks. emit's error is returned as is.
func Read(ctx context.Context, path string, r io.Reader, emit func(*probity.Trace) error) error {
	s := jsonx.NewStream(path, r)
	if err := s.BeginArray("a JSON list of τ-bench runs"); err != nil {
		return err
	}
	seen := map[string]bool{}
	var bad []*probity.Error
	rec := 0
	for ; s.More(); rec++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var r run
		from, skipped, err := s.Decode(rec, &r)
		if err != nil && !skipped {
			return joinBad(append(bad, jsonx.AsError(path, err)))
		}
		if err != nil {
			bad = append(bad, jsonx.AsError(path, err))
			continue
		}
		t, perr := convert(s, &r, from, rec)
		if perr != nil {
			bad = append(bad, perr)
			continue
		}
		if seen[t.ID] {
			t.ID += "#" + strconv.Itoa(rec)
		}
		seen[t.ID] = true
		t.Source, t.Format = path, Format
		if err := emit(t); err != nil {
			return err
		}
	}
	if err := s.EndArray(rec); err != nil {
		return joinBad(append(bad, jsonx.AsError(path, err)))
	}
	return joinBad(bad)
}

// joinBad returns nil, the only error, or the first one noting how many
// more records were bad: ingest reports one error per file.
func joinBad(bad []*probity.Error) error {
	switch len(bad) {
	case 0:
		return nil
	case 1:
		return bad[0]
	}
	e := *bad[0]
	e.Message += fmt.Sprintf(" (and %d more bad records)", len(bad)-1)
	return &e
}

// convert turns one decoded run, read from file offset from, into a Trace.
func convert(s *jsonx.Stream, r *run, from int64, rec int) (*probity.Trace, *probity.Error) {
	if r.Traj == nil {
		return nil, s.Errorf(rec, s.Start(from), "not a τ-bench run: no \"traj\" list")
	}
	taskID, trial := jsonx.Scalar(r.TaskID), jsonx.Scalar(r.Trial)
	t := &probity.Trace{
		ID:     "task-" + orDash(taskID),
		Labels: probity.Labels{Reward: r.Reward},
		Meta:   map[string]string{"record": strconv.Itoa(rec)},
		Steps:  make([]probity.Step, 0, len(r.Traj)+len(r.Traj)/4),
	}
	if taskID != "" {
		t.Meta["task_id"] = taskID
	}
	if trial != "" {
		t.ID += "/trial-" + trial
		t.Meta["trial"] = trial
	}
	if r.Info != nil && r.Info.Task != nil {
		task := r.Info.Task
		t.Task = task.Instruction
		if task.UserID != "" {
			t.Meta["user_id"] = task.UserID
		}
		for _, a := range task.Actions {
			t.Expected = append(t.Expected, probity.ToolCall{Name: a.Name, Args: compact(a.Kwargs)})
		}
		for _, o := range task.Outputs {
			if v := jsonx.Scalar(o); v != "" {
				t.ExpectedOutputs = append(t.ExpectedOutputs, v)
			}
		}
	}
	var conv wire.Converter
	for i := range r.Traj {
		m := &r.Traj[i]
		n0 := len(t.Steps)
		var err error
		t.Steps, err = conv.Steps(t.Steps, i, m)
		if err != nil {
			return nil, s.Errorf(rec, s.Start(from), "traj: %v", err)
		}
		for j := n0; j < len(t.Steps); j++ {
			st := &t.Steps[j]
			if st.Kind == probity.KindToolResult && strings.HasPrefix(st.Content, "Error") {
				st.Error = &probity.ToolError{}
			}
			if st.Kind == probity.KindSystem && t.Clock.IsZero() {
				t.Clock = ParseClock(st.Content)
			}
		}
	}
	return t, nil
}

// clockRE matches τ-bench's statement of the current time.
var clockRE = regexp.MustCompile(`[Tt]he current time is (\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)\s*([A-Z]{2,5})?`)

// zones maps the abbreviations τ-bench prompts use to fixed offsets;
// time.Parse would accept "EST" but give it a zero offset outside the
// machine's own zone.
var zones = map[string]int{
	"UTC": 0, "GMT": 0, "Z": 0,
	"EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}

// ParseClock finds "The current time is 2024-05-15 15:00:00 EST." in text
// and returns that instant, or the zero time.
func ParseClock(text string) time.Time {
	m := clockRE.FindStringSubmatch(text)
	if m == nil {
		return time.Time{}
	}
	loc := time.UTC
	if h, ok := zones[m[2]]; ok && m[2] != "" {
		loc = time.FixedZone(m[2], h*3600)
	}
	v := strings.Replace(m[1], "T", " ", 1)
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t
		}
	}
	return time.Time{}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func compact(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return b.Bytes()
}
