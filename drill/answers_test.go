package drill

import (
	"errors"
	"strings"
	"testing"

	"github.com/probity/probity"
)

func TestParseAnswers(t *testing.T) {
	in := `{"d03": {"failed": true, "step": 14, "class": "contradicted-amount", "reached": [16, 18], "rule": "confirm-before-refund"},
 "d04": {"value": 0.83}, "d05": null, "d06": {"reached": []}}`
	got, err := ParseAnswers("a.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("ParseAnswers: %d drills, want 4", len(got))
	}
	a := got["d03"]
	if a.Failed == nil || !*a.Failed || *a.Step != 14 || *a.Class != "contradicted-amount" || len(*a.Reached) != 2 || *a.Rule != "confirm-before-refund" {
		t.Errorf("d03 = %+v", a)
	}
	if v := got["d04"].Value; v == nil || *v != 0.83 {
		t.Errorf("d04 value = %v, want 0.83", v)
	}
	if got["d05"].Failed != nil {
		t.Errorf("null answer decoded as %+v", got["d05"])
	}
	if r := got["d06"].Reached; r == nil || len(*r) != 0 {
		t.Errorf("d06 reached = %v, want an empty list (answered: none)", r)
	}
}

func TestParseAnswersErrors(t *testing.T) {
	cases := []struct{ in, where, msg string }{
		{`[1]`, "line 1, column 1", "want a JSON object"},
		{"{\"d01\": {\"failed\": true},\n \"d01\": {}}", "line 2, column 2", "answered twice"},
		{"{\"d01\": {\"stepp\": 3}}", "line 1, column 9", "unknown field"},
		{"{\"d01\":\n  {\"step\": \"three\"}}", "line 2, column", "drill \"d01\""},
		{`{"d01": {}`, "", "malformed"},
		{`{"d01": {}} x`, "", "after the answers"},
	}
	for _, c := range cases {
		_, err := ParseAnswers("a.json", []byte(c.in))
		var pe *probity.Error
		if !errors.As(err, &pe) {
			t.Errorf("ParseAnswers(%q) = %v, want a *probity.Error", c.in, err)
			continue
		}
		if pe.File != "a.json" || !strings.HasPrefix(pe.Where, c.where) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParseAnswers(%q) = %q (where %q), want where %q and %q", c.in, err, pe.Where, c.where, c.msg)
		}
	}
}

// FuzzParseAnswers: any bytes give answers or a *probity.Error naming the
// file, never a panic.
func FuzzParseAnswers(f *testing.F) {
	f.Add([]byte(`{"d01": {"failed": true, "step": 3, "reached": [4], "class": "x", "rule": "none"}, "d02": {"value": 0.5}}`))
	f.Add([]byte(`{"d01": null}`))
	f.Add([]byte(`{"d01": {"step": "x"}}`))
	f.Add([]byte(`{"d01": {}, "d01": {}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":{"reached":[1,2,`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseAnswers("f.json", b)
		if err != nil {
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.File != "f.json" {
				t.Fatalf("error %v does not name the file", err)
			}
			return
		}
		if got == nil {
			t.Fatal("nil answers without an error")
		}
	})
}
