package localize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/probity/probity"
)

// References are references kept outside the traces, by task id.
type References map[string]*Reference

// TaskID is the id a trace's task is matched by: τ-bench's task_id,
// Who&When's question_ID, else the trace id.
func TaskID(t *probity.Trace) string {
	for _, k := range []string{"task_id", "question_id", "case_id"} {
		if v := t.Meta[k]; v != "" {
			return v
		}
	}
	return t.ID
}

// For returns the reference for t's task, or nil.
func (r References) For(t *probity.Trace) *Reference {
	if r == nil {
		return nil
	}
	return r[TaskID(t)]
}

// refRecord is one task of a reference file: a τ-bench task ({user_id,
// actions: [{name, kwargs}], outputs}; its id is its place in the list) or
// an eval dataset case ({id, expected: {actions, output}}).
type refRecord struct {
	ID       json.RawMessage `json:"id"`
	TaskID   json.RawMessage `json:"task_id"`
	Actions  []refAction     `json:"actions"`
	Outputs  []any           `json:"outputs"`
	Answer   any             `json:"answer"`
	Truth    any             `json:"ground_truth"`
	Expected *struct {
		Actions []refAction `json:"actions"`
		Output  any         `json:"output"`
		Answer  any         `json:"answer"`
	} `json:"expected"`
}

type refAction struct {
	Name      string          `json:"name"`
	Kwargs    json.RawMessage `json:"kwargs"`
	Arguments json.RawMessage `json:"arguments"`
	Args      json.RawMessage `json:"args"`
}

// LoadReferences reads a reference file: a JSON list (or JSON Lines) of
// τ-bench tasks or eval dataset cases. A record's id is its "task_id" or
// "id", else its 0-based place in the file, which is how τ-bench numbers
// its tasks. Errors name the file and the record.
func LoadReferences(path string) (References, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		code := probity.EINVALID
		if os.IsNotExist(err) {
			code = probity.ENOTFOUND
		}
		return nil, &probity.Error{Code: code, File: path, Message: "open", Err: err}
	}
	return ParseReferences(path, b)
}

// ParseReferences parses the contents of a reference file named path.
func ParseReferences(path string, b []byte) (References, error) {
	var raws []json.RawMessage
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "not a JSON list of tasks", Err: err}
		}
	} else {
		d := json.NewDecoder(bytes.NewReader(trimmed))
		for d.More() {
			var r json.RawMessage
			if err := d.Decode(&r); err != nil {
				return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("record %d", len(raws)), Message: "not JSON", Err: err}
			}
			raws = append(raws, r)
		}
	}
	if len(raws) == 0 {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "no tasks (want a JSON list of τ-bench tasks or eval cases)"}
	}
	out := References{}
	for i, raw := range raws {
		var rec refRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("record %d", i), Message: "not a task object", Err: err}
		}
		id := scalarString(rec.TaskID)
		if id == "" {
			id = scalarString(rec.ID)
		}
		if id == "" {
			id = strconv.Itoa(i)
		}
		ref := &Reference{}
		acts := rec.Actions
		if rec.Expected != nil {
			acts = append(acts, rec.Expected.Actions...)
			ref.Answer = valueString(rec.Expected.Output)
			if ref.Answer == "" {
				ref.Answer = valueString(rec.Expected.Answer)
			}
		}
		for k, a := range acts {
			if a.Name == "" {
				return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("record %d, action %d", i, k), Message: "action without a name"}
			}
			args := a.Kwargs
			if len(args) == 0 {
				args = a.Arguments
			}
			if len(args) == 0 {
				args = a.Args
			}
			ref.Actions = append(ref.Actions, probity.ToolCall{Name: a.Name, Args: args})
		}
		for _, o := range rec.Outputs {
			if s := valueString(o); s != "" {
				ref.Outputs = append(ref.Outputs, s)
			}
		}
		if ref.Answer == "" {
			ref.Answer = valueString(rec.Answer)
		}
		if ref.Answer == "" {
			ref.Answer = valueString(rec.Truth)
		}
		out[id] = ref
	}
	return out, nil
}

func scalarString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
