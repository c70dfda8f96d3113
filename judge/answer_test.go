package judge

import (
	"strings"
	"testing"

	"github.com/probity/probity"
)

func threeSteps() *probity.Trace {
	return &probity.Trace{Steps: []probity.Step{{Pos: probity.Position{Index: 0}}, {Pos: probity.Position{Index: 2}}, {Pos: probity.Position{Index: 5}}}}
}

// TestParseAnswer: only the JSON object asked for, with a step of the run,
// is a vote; everything else is malformed with a reason.
func TestParseAnswer(t *testing.T) {
	ok := `{"step": 2, "agent": "WebSurfer", "reason": "misread the page", "fix": "read the table", "fix_saves": true, "confidence": 0.7}`
	tests := []struct {
		reply, err string
	}{
		{ok, ""},
		{"```json\n" + ok + "\n```", ""},
		{"  " + ok + "\n", ""},
		{"Step 2 is wrong.", "not the JSON object"},
		{ok + " I hope this helps", "text after its JSON object"},
		{ok + ok, "text after its JSON object"},
		{`{"step": 2, "agent": "a"}`, "lacks confidence, fix, fix_saves, reason"},
		{strings.Replace(ok, `"step": 2`, `"step": 3`, 1), "step 3 is not a step of the run"},
		{strings.Replace(ok, `"step": 2`, `"step": 2.5`, 1), "not a whole number"},
		{strings.Replace(ok, `"step": 2`, `"step": "2"`, 1), "not a whole number"},
		{strings.Replace(ok, `0.7`, `1.5`, 1), "outside [0, 1]"},
		{strings.Replace(ok, `"misread the page"`, `" "`, 1), "no reason"},
		{strings.Replace(ok, `"fix_saves"`, `"saves"`, 1), "unknown field"},
		{"", "not the JSON object"},
		{"null", "lacks"},
	}
	for _, tt := range tests {
		v, err := parseAnswer(tt.reply, threeSteps())
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseAnswer(%q) = %v, want a vote", tt.reply, err)
		case tt.err == "" && (v.Step != 2 || v.Agent != "WebSurfer" || !v.FixSaves || v.Confidence != 0.7 || v.Fix != "read the table"):
			t.Errorf("parseAnswer(%q) = %+v", tt.reply, v)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseAnswer(%q) = %+v, %v; want an error with %q", tt.reply, v, err, tt.err)
		}
	}
}

// FuzzParseAnswer: no reply panics the parser, and a reply it accepts
// names a step of the run and a confidence in [0, 1].
func FuzzParseAnswer(f *testing.F) {
	f.Add(`{"step": 2, "agent": "a", "reason": "r", "fix": "f", "fix_saves": false, "confidence": 0}`)
	f.Add("```json\n{}\n```")
	f.Add(`{"step": 1e400}`)
	f.Fuzz(func(t *testing.T, reply string) {
		tr := threeSteps()
		v, err := parseAnswer(reply, tr)
		if err != nil {
			return
		}
		if !hasStep(tr, v.Step) || v.Confidence < 0 || v.Confidence > 1 {
			t.Fatalf("parseAnswer(%q) accepted %+v", reply, v)
		}
	})
}
