package eval

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/yamlx"
)

// Case is one item of a dataset: what the target is given (Input, Fixtures)
// and what a correct answer looks like (Expected). Input, Expected and
// Fixtures are arbitrary JSON.
type Case struct {
	// ID names the case; it is unique within a suite and pairs cases across
	// runs in Compare.
	ID string `json:"id"`
	// Input is what the target receives.
	Input json.RawMessage `json:"input,omitempty"`
	// Expected is what assertions compare against. Targets never see it.
	Expected json.RawMessage `json:"expected,omitempty"`
	// Fixtures are canned tool results, keyed by tool name, for targets that
	// simulate tools (the openai target).
	Fixtures json.RawMessage `json:"fixtures,omitempty"`
	// Tags group cases in reports.
	Tags []string `json:"tags,omitempty"`
	// VariantOf is the id of the case this one was derived from by `eval
	// mutate`, and Kind the mutation; reports pair the two.
	VariantOf string `json:"variant_of,omitempty"`
	Kind      string `json:"kind,omitempty"`
}

// Dataset formats accepted by LoadDataset. FormatAuto picks one from the file
// extension (.jsonl, .csv, .yaml/.yml, .json).
const (
	FormatAuto     = ""
	FormatJSONL    = "jsonl"
	FormatCSV      = "csv"
	FormatYAML     = "yaml"
	FormatTauBench = "taubench"
)

// LoadDataset reads the cases in path. A .json file is read as τ-bench tasks
// (a list of run records with task_id and info.task, or of task objects) when
// it looks like one, else as a JSON list of cases. Bad input returns a
// *probity.Error naming the file and the line or record.
func LoadDataset(path, format string) ([]Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: "dataset not found"}
		}
		return nil, fmt.Errorf("read dataset: %w", err)
	}
	if format == FormatAuto {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			format = FormatCSV
		case ".yaml", ".yml":
			format = FormatYAML
		case ".json":
			format = "json"
		default:
			format = FormatJSONL
		}
	}
	var cases []Case
	switch format {
	case FormatJSONL:
		cases, err = parseJSONL(path, data)
	case FormatCSV:
		cases, err = parseCSV(path, data)
	case FormatYAML:
		cases, err = parseYAMLCases(path, data)
	case "json", FormatTauBench:
		cases, err = parseJSONCases(path, data, format == FormatTauBench)
	default:
		return nil, &probity.Error{Code: probity.EINVALID, File: path,
			Message: fmt.Sprintf("unknown dataset format %q (want jsonl, csv, yaml or taubench)", format)}
	}
	if err != nil {
		return nil, err
	}
	if err := checkCases(path, cases); err != nil {
		return nil, err
	}
	return cases, nil
}

// checkCases enforces what every loader promises: at least one case, and
// unique non-empty ids (Compare pairs cases by id).
func checkCases(path string, cases []Case) error {
	if len(cases) == 0 {
		return &probity.Error{Code: probity.EINVALID, File: path, Message: "dataset has no cases"}
	}
	seen := make(map[string]int, len(cases))
	for i, c := range cases {
		if c.ID == "" {
			return &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("record %d", i+1), Message: "case has no id"}
		}
		if j, dup := seen[c.ID]; dup {
			return &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("record %d", i+1),
				Message: fmt.Sprintf("duplicate case id %q (first at record %d)", c.ID, j+1)}
		}
		seen[c.ID] = i
	}
	return checkVariants(path, cases, seen)
}

// rawCase is the wire form of a case: ids may be numbers in hand-written
// files, and tags may be one string.
type rawCase struct {
	ID       any             `json:"id"`
	Input    json.RawMessage `json:"input"`
	Expected json.RawMessage `json:"expected"`
	Fixtures json.RawMessage `json:"fixtures"`
	Tags     any             `json:"tags"`
	// VariantOf and Kind link a variant to its case (see Case).
	VariantOf string `json:"variant_of"`
	Kind      string `json:"kind"`
}

func (r rawCase) toCase() (Case, error) {
	c := Case{Input: nullToEmpty(r.Input), Expected: nullToEmpty(r.Expected), Fixtures: nullToEmpty(r.Fixtures),
		VariantOf: r.VariantOf, Kind: r.Kind}
	switch id := r.ID.(type) {
	case string:
		c.ID = id
	case json.Number:
		c.ID = id.String()
	case float64:
		c.ID = fmt.Sprint(id)
	case nil:
	default:
		return c, fmt.Errorf("id must be a string or a number, not %T", id)
	}
	switch t := r.Tags.(type) {
	case nil:
	case string:
		c.Tags = splitTags(t)
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return c, errors.New("tags must be strings")
			}
			c.Tags = append(c.Tags, s)
		}
	default:
		return c, errors.New("tags must be a list of strings")
	}
	return c, nil
}

func nullToEmpty(m json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(m)) == 0 || string(bytes.TrimSpace(m)) == "null" {
		return nil
	}
	return m
}

func splitTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })
}

// decodeStrict decodes one JSON object, rejecting unknown keys so a typo
// ("expect") is an error rather than a silently ignored field.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the case")
	}
	return nil
}

func parseJSONL(path string, data []byte) ([]Case, error) {
	var cases []Case
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		var r rawCase
		if err := decodeStrict(b, &r); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line %d", line), Message: "bad case", Err: err}
		}
		c, err := r.toCase()
		if err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line %d", line), Message: "bad case", Err: err}
		}
		if c.ID == "" {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line %d", line), Message: "case has no id"}
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line %d", line+1), Message: "read", Err: err}
	}
	return cases, nil
}

// parseCSV reads a header row naming the columns id, input, expected,
// fixtures and tags (any order; only id and input are required). A cell that
// is valid JSON (an object, list, number, true/false) is used as JSON;
// anything else is a string. Tags are separated by commas, semicolons or
// spaces.
func parseCSV(path string, data []byte) ([]Case, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = 0
	header, err := r.Read()
	if err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: "line 1", Message: "bad CSV header", Err: err}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch h {
		case "id", "input", "expected", "fixtures", "tags":
			col[h] = i
		default:
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line 1, column %d", i+1),
				Message: fmt.Sprintf("unknown column %q (want id, input, expected, fixtures, tags)", h)}
		}
	}
	if _, ok := col["id"]; !ok {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: "line 1", Message: "CSV header has no id column"}
	}
	var cases []Case
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line %d, column %d", pe.Line, pe.Column), Message: "bad CSV", Err: pe.Err}
			}
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "bad CSV", Err: err}
		}
		cell := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		c := Case{ID: strings.TrimSpace(cell("id")), Input: csvJSON(cell("input")), Expected: csvJSON(cell("expected")),
			Fixtures: csvJSON(cell("fixtures")), Tags: splitTags(cell("tags"))}
		if c.ID == "" {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("line %d", line), Message: "case has no id"}
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func csvJSON(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil
	}
	if json.Valid([]byte(t)) && t[0] != '"' {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(s)
	return b
}

// parseYAMLCases reads a YAML list of cases, or a mapping with a "cases"
// list.
func parseYAMLCases(path string, data []byte) ([]Case, error) {
	if err := yamlx.Check(path, data, yamlx.MaxDatasetBytes); err != nil {
		return nil, err
	}
	j, err := yamlToJSON(data)
	if err != nil {
		return nil, yamlError(path, err)
	}
	var top any
	if err := json.Unmarshal(j, &top); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "bad YAML", Err: err}
	}
	if m, ok := top.(map[string]any); ok {
		list, ok := m["cases"]
		if !ok || len(m) != 1 {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "want a list of cases or a mapping with only a cases key"}
		}
		j, _ = json.Marshal(list)
	}
	return parseJSONList(path, j)
}

func yamlToJSON(data []byte) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return []byte("null"), nil
	}
	var j []byte
	err := safeYAML(func() (err error) {
		j, err = yaml.YAMLToJSON(data)
		return err
	})
	return j, err
}

func parseJSONList(path string, j []byte) ([]Case, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(j, &list); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "want a list of cases", Err: err}
	}
	cases := make([]Case, 0, len(list))
	for i, b := range list {
		var r rawCase
		if err := decodeStrict(b, &r); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("record %d", i+1), Message: "bad case", Err: err}
		}
		c, err := r.toCase()
		if err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("record %d", i+1), Message: "bad case", Err: err}
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// parseJSONCases reads a JSON list: of cases, or of τ-bench records. A
// τ-bench results file (records with task_id and info.task) yields one case
// per distinct task; a τ-bench tasks file (objects with instruction and
// actions) yields one case per task, numbered from 0.
func parseJSONCases(path string, data []byte, tau bool) ([]Case, error) {
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: fmt.Sprintf("offset %d", se.Offset), Message: "bad JSON", Err: err}
		}
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "want a JSON list", Err: err}
	}
	if len(list) > 0 {
		_, hasInfo := list[0]["info"]
		_, hasInstr := list[0]["instruction"]
		if hasInfo || hasInstr {
			tau = true
		}
	}
	if !tau {
		return parseJSONList(path, data)
	}
	return parseTauBench(path, list)
}

// tauTask is the part of a τ-bench task the harness uses.
type tauTask struct {
	UserID      string          `json:"user_id"`
	Instruction string          `json:"instruction"`
	Actions     json.RawMessage `json:"actions"`
	Outputs     json.RawMessage `json:"outputs"`
}

func parseTauBench(path string, list []map[string]json.RawMessage) ([]Case, error) {
	var cases []Case
	seen := map[string]bool{}
	for i, rec := range list {
		where := fmt.Sprintf("record %d", i+1)
		id := fmt.Sprint(i)
		taskJSON := json.RawMessage(nil)
		if info, ok := rec["info"]; ok {
			var inf struct {
				Task json.RawMessage `json:"task"`
			}
			if err := json.Unmarshal(info, &inf); err != nil || inf.Task == nil {
				return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: where, Message: "τ-bench record has no info.task"}
			}
			taskJSON = inf.Task
			var tid any
			if err := json.Unmarshal(rec["task_id"], &tid); err != nil || tid == nil {
				return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: where, Message: "τ-bench record has no task_id"}
			}
			id = fmt.Sprint(tid)
		} else {
			b, _ := json.Marshal(rec)
			taskJSON = b
		}
		if seen[id] {
			continue // results files hold several trials of each task
		}
		seen[id] = true
		var t tauTask
		if err := json.Unmarshal(taskJSON, &t); err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: where, Message: "bad τ-bench task", Err: err}
		}
		if t.Instruction == "" {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: where, Message: "τ-bench task has no instruction"}
		}
		in, _ := json.Marshal(map[string]string{"instruction": t.Instruction, "user_id": t.UserID})
		exp := map[string]json.RawMessage{}
		if t.Actions != nil {
			exp["actions"] = t.Actions
		}
		if len(nullToEmpty(t.Outputs)) > 0 {
			exp["outputs"] = t.Outputs
		}
		eb, _ := json.Marshal(exp)
		cases = append(cases, Case{ID: id, Input: in, Expected: eb, Tags: []string{"taubench"}})
	}
	return cases, nil
}
