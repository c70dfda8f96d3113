package provenance

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/probity/probity"
	"github.com/probity/probity/internal/shareddata"
)

// seedTexts returns real step texts and tool arguments from the shared data
// (a few hundred, the shortest first), so fuzzing starts from what agents
// really write; it returns nothing when the data is absent.
func seedTexts(f *testing.F) (texts []string, args []string) {
	f.Helper()
	dir, err := shareddata.Find()
	if err != nil {
		return nil, nil
	}
	_ = dir
	if os.Getenv("CI") == "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, nil
		}
	}
	for _, tr := range loadTau(f, "agentrx-tau-retail", "trajectories.json")[:3] {
		for _, s := range tr.Steps {
			if len(s.Content) > 0 && len(s.Content) < 4000 {
				texts = append(texts, s.Content)
			}
			if s.Tool != nil && len(s.Tool.Args) > 0 {
				args = append(args, string(s.Tool.Args))
			}
		}
	}
	return texts, args
}

// checkAtoms asserts the invariants every atom keeps.
func checkAtoms(t *testing.T, text string, as []Atom, fromArgs bool) {
	if len(as) > MaxAtomsPerText+1 && !fromArgs {
		t.Fatalf("%d atoms, more than MaxAtomsPerText", len(as))
	}
	for _, a := range as {
		if a.Kind == "" || a.Norm == "" && a.Kind != KindQuoted {
			t.Fatalf("atom %+v has no kind or no norm", a)
		}
		if !fromArgs {
			if a.Start < 0 || a.End > len(text) || a.Start > a.End {
				t.Fatalf("atom %+v has offsets outside [0,%d]", a, len(text))
			}
			if text[a.Start:a.End] != a.Raw {
				t.Fatalf("atom %+v: text[%d:%d] = %q, not Raw", a, a.Start, a.End, text[a.Start:a.End])
			}
		}
		if utf8.ValidString(text) && !utf8.ValidString(a.Norm) {
			t.Fatalf("atom %+v: invalid UTF-8 norm from valid text", a)
		}
	}
}

func FuzzExtract(f *testing.F) {
	texts, _ := seedTexts(f)
	for _, s := range texts {
		f.Add(s)
	}
	for _, s := range []string{"#W2378156", "$1,234.50", "May 20th, 2024", "20/05/2024", "3:05 PM", "(555) 123-4567",
		"card ending in 2478", "`x` ```\n1\n```", "“quoted”", "120,140p", "1.2.3.", "9999-99-99", "+1 (", "$", "#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		as := ExtractAt(text, time.Date(2024, 5, 15, 0, 0, 0, 0, time.UTC))
		checkAtoms(t, text, as, false)
	})
}

func FuzzExtractArgs(f *testing.F) {
	_, args := seedTexts(f)
	for _, a := range args {
		f.Add(a)
	}
	for _, s := range []string{`{"order_id":"#W1"}`, `{"a":[1,2,{"amount":-3e5}]}`, `[`, `{"x":null,"y":true}`, `"str"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		as := ExtractArgs(json.RawMessage(args))
		checkAtoms(t, args, as, true)
		for _, a := range as {
			if a.Path == "" && json.Valid([]byte(args)) && strings.HasPrefix(strings.TrimSpace(args), "{") {
				t.Fatalf("atom %+v of a JSON object has no path", a)
			}
		}
	})
}

// FuzzAnalyze builds a small trace from fuzzed texts and checks that every
// result points at real steps.
func FuzzAnalyze(f *testing.F) {
	texts, args := seedTexts(f)
	for i := 0; i+1 < len(texts) && i < 40; i += 2 {
		a := `{}`
		if i < len(args) {
			a = args[i]
		}
		f.Add(texts[i], a, texts[i+1])
	}
	f.Add("order #W2378156 for $54.04", `{"order_id":"#W2378165"}`, "refunded $54.40")
	f.Fuzz(func(t *testing.T, in, args, out string) {
		tr := &probity.Trace{Clock: time.Date(2024, 5, 15, 0, 0, 0, 0, time.UTC), Steps: []probity.Step{
			{Pos: probity.Position{Index: 0}, Kind: probity.KindUser, Actor: "user", Content: in},
			{Pos: probity.Position{Index: 1}, Kind: probity.KindToolCall, Actor: "a", Tool: &probity.ToolCall{Name: "t", Args: json.RawMessage(args)}},
			{Pos: probity.Position{Index: 2}, Kind: probity.KindToolResult, Actor: "tool", Content: in + out},
			{Pos: probity.Position{Index: 3}, Kind: probity.KindAssistant, Actor: "a", Content: out},
		}}
		a := Analyze(tr)
		for i := range tr.Steps {
			for _, r := range a.Values(i) {
				if r.Step != i || r.Origin < 0 || r.Origin > i {
					t.Fatalf("result %+v at step %d has a bad step or origin", r, i)
				}
				if r.Source != nil && (r.Source.Step < 0 || r.Source.Step >= i) {
					t.Fatalf("result %+v at step %d cites a source that is not earlier", r, i)
				}
				for _, c := range a.Consumers(r.Atom.Key(), i) {
					if c <= i || c >= len(tr.Steps) {
						t.Fatalf("consumer %d of step %d out of range", c, i)
					}
				}
			}
		}
	})
}
