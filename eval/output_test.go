package eval

import "testing"

// TestLooksLikeToolError pins the tool-error test, whose fast paths skip
// decoding: an "error" key however it is spelled in the JSON, a leading
// "Error" in any case, and nothing else.
func TestLooksLikeToolError(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"error": "no such order"}`, true},
		{`  {"ok": false, "error": null}`, true},
		{`{"\u0065rror": 1}`, true},
		{`{"ok": true, "tool": "refund"}`, false},
		{`{"errors": []}`, false},
		{`{"message": "error"}`, false},
		{`{"error": `, false},
		{`Error: timeout`, true},
		{`ERROR`, true},
		{`erro`, false},
		{`everything fine`, false},
		{``, false},
	} {
		if got := looksLikeToolError(tc.in); got != tc.want {
			t.Errorf("looksLikeToolError(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
