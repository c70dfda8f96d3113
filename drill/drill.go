package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/probity/probity"
	"github.com/probity/probity/ingest"
	"github.com/probity/probity/otlp"
)

// Origins of a drill: where its key comes from.
const (
	OriginPlanted     = "planted"
	OriginLabelled    = "labelled"
	OriginClean       = "clean"
	OriginProbability = "probability"
)

// Origins lists the origins in the order --kinds names them.
var Origins = []string{OriginPlanted, OriginLabelled, OriginClean, OriginProbability}

// Difficulties, easiest first; a set is ordered by them.
const (
	Easy   = "easy"
	Medium = "medium"
	Hard   = "hard"
)

// Difficulties lists the levels, easiest first.
var Difficulties = []string{Easy, Medium, Hard}

func difficultyRank(d string) int {
	for i, x := range Difficulties {
		if x == d {
			return i
		}
	}
	return len(Difficulties)
}

// Skills a drill assesses; every question trains one.
const (
	SkillDetect   = "detect"   // did it fail, and how
	SkillLocalize = "localize" // where it began and how far it spread
	SkillContain  = "contain"  // which rule would have stopped it
	SkillReason   = "reason"   // rates and evidence, with numbers
)

// Skills lists the skills in report order.
var Skills = []string{SkillDetect, SkillLocalize, SkillContain, SkillReason}

// Question ids: the keys of an answers file's per-drill object.
const (
	QFailed  = "failed"
	QStep    = "step"
	QClass   = "class"
	QReached = "reached"
	QRule    = "rule"
	QValue   = "value"
)

// None is the answer "no class" or "no rule would have stopped it".
const None = "none"

// Question is one thing a drill asks.
type Question struct {
	// ID is the answer's key (failed, step, class, reached, rule, value).
	ID string `json:"id"`
	// Skill is what a right answer shows.
	Skill string `json:"skill"`
	// Text is the question as a person reads it.
	Text string `json:"text"`
	// Choices, when set, are the answers to pick from.
	Choices []string `json:"choices,omitempty"`
}

// Drill is one exercise: a trace to read, or a probability problem, and the
// questions about it. It holds no answer.
type Drill struct {
	ID string `json:"id"`
	// Difficulty is easy, medium or hard.
	Difficulty string `json:"difficulty"`
	// Prompt introduces the drill (for probability drills it is the
	// problem itself).
	Prompt    string     `json:"prompt"`
	Questions []Question `json:"questions"`
	// Trace is the run to read; nil for a probability drill. It carries no
	// labels, expected actions or source path that would give the answer
	// away.
	Trace *probity.Trace `json:"-"`
}

// Answer is what someone answered to one drill, or the key's answer. Nil
// fields were not answered (or, in the key, are not asked).
type Answer struct {
	Failed  *bool    `json:"failed,omitempty"`
	Step    *int     `json:"step,omitempty"`
	Class   *string  `json:"class,omitempty"`
	Reached *[]int   `json:"reached,omitempty"`
	Rule    *string  `json:"rule,omitempty"`
	Value   *float64 `json:"value,omitempty"`
}

// KeyEntry is the key to one drill: the answer and why it is right.
type KeyEntry struct {
	ID         string `json:"id"`
	Origin     string `json:"origin"`
	Difficulty string `json:"difficulty"`
	// From names the source file and trace (or the stats function).
	From   string `json:"from"`
	Answer Answer `json:"answer"`
	// Tolerance is how far a numeric answer may be from Answer.Value and
	// still earn the point (half a point within twice as far).
	Tolerance float64 `json:"tolerance,omitempty"`
	// Explanation says what happened, in words.
	Explanation string `json:"explanation"`
	// Findings are Probity's findings on the drill's trace, one line each:
	// the evidence a taker can check.
	Findings []string `json:"findings,omitempty"`
	// Diff is the planted change against the real run.
	Diff string `json:"diff,omitempty"`
}

// Key is key.json: the answers to a set.
type Key struct {
	Seed   uint64     `json:"seed"`
	Drills []KeyEntry `json:"drills"`
}

// Entry returns the key to drill id.
func (k *Key) Entry(id string) (*KeyEntry, bool) {
	for i := range k.Drills {
		if k.Drills[i].ID == id {
			return &k.Drills[i], true
		}
	}
	return nil, false
}

// Set is a drill set with its key.
type Set struct {
	Drills []*Drill
	Key    *Key
}

// KeyFile is the name of the key inside a set's folder.
const KeyFile = "key.json"

var reDrillFile = regexp.MustCompile(`^d\d+\.json$`)

// Write writes the set into dir (created if needed): dNN.json per drill and
// key.json, replacing a set already there. The bytes depend only on the set, so the same seed and inputs
// give the same files.
func (s *Set) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write drills: %w", err)
	}
	// A set made before into the same folder is replaced: a stale d12.json
	// left beside a new set of six would be read as part of it.
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("write drills: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() && reDrillFile.MatchString(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("write drills: %w", err)
			}
		}
	}
	for _, d := range s.Drills {
		b, err := encodeDrill(d)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, d.ID+".json"), b, 0o644); err != nil {
			return fmt.Errorf("write drills: %w", err)
		}
	}
	b, err := json.MarshalIndent(s.Key, "", "  ")
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, KeyFile), append(b, '\n'), 0o644)
}

// encodeDrill writes the trace as OTLP/JSON (so `probity show` reads the
// file: its importer skips unknown keys) and the drill under "drill".
func encodeDrill(d *Drill) ([]byte, error) {
	meta, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode drill %s: %w", d.ID, err)
	}
	var buf bytes.Buffer
	if d.Trace == nil {
		buf.WriteString("{\"drill\": ")
		buf.Write(meta)
		buf.WriteString("}\n")
		return buf.Bytes(), nil
	}
	if err := otlp.Write(&buf, d.Trace); err != nil {
		return nil, fmt.Errorf("encode drill %s: %w", d.ID, err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("}\n"))
	b = append(b, ",\n\"drill\": "...)
	b = append(b, meta...)
	return append(b, "}\n"...), nil
}

// Load reads the drills in dir, in file-name order (which is easiest
// first). It reads key.json too when it is there; Set.Key is nil otherwise.
func Load(ctx context.Context, dir string) (*Set, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, &probity.Error{Code: probity.ENOTFOUND, File: dir, Message: "no drill set here", Err: err}
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && reDrillFile.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, &probity.Error{Code: probity.EINVALID, File: dir, Message: "no drill files (dNN.json); make a set with 'probity drill make'"}
	}
	s := &Set{}
	for _, n := range names {
		d, err := loadDrill(ctx, filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		s.Drills = append(s.Drills, d)
	}
	kp := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(kp)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, &probity.Error{Code: probity.EINVALID, File: kp, Message: "read key", Err: err}
	}
	var k Key
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: kp, Where: jsonWhere(b, err), Message: "bad key", Err: err}
	}
	for _, d := range s.Drills {
		if _, ok := k.Entry(d.ID); !ok {
			return nil, &probity.Error{Code: probity.EINVALID, File: kp, Message: fmt.Sprintf("no key for drill %s", d.ID)}
		}
	}
	s.Key = &k
	return s, nil
}

func loadDrill(ctx context.Context, path string) (*Drill, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read drill", Err: err}
	}
	var f struct {
		Drill *Drill           `json:"drill"`
		Spans *json.RawMessage `json:"resourceSpans"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Where: jsonWhere(b, err), Message: "bad drill file", Err: err}
	}
	if f.Drill == nil || f.Drill.ID == "" {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: `no "drill" object with an id`}
	}
	if f.Spans != nil {
		ts, err := ingest.ReadAll(ctx, path, ingest.Options{Format: otlp.Format})
		if err != nil {
			return nil, err
		}
		if len(ts) != 1 {
			return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: fmt.Sprintf("want one trace, found %d", len(ts))}
		}
		f.Drill.Trace = ts[0]
	}
	return f.Drill, nil
}

// jsonWhere turns a decoding error into "line L, column C".
func jsonWhere(b []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return ""
	}
	return lineCol(b, off)
}

func lineCol(b []byte, off int64) string {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d", line, col)
}
