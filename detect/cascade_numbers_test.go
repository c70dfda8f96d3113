package detect

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/probity/probity"
)

// provShell builds a coding agent's run: the task, then alternating agent
// messages (with their commands) and command outputs, then an optional
// final submission.
func provShell(turns []string, final string) *probity.Trace {
	tr := &probity.Trace{ID: "shell", Steps: []probity.Step{provMsg(0, probity.KindUser, "user", "Fix the failing case in f.py.")}}
	for i, s := range turns {
		kind := probity.KindAssistant
		if i%2 == 1 {
			kind = probity.KindToolResult
			s = "<returncode>0</returncode>\n<output>\n" + s + "\n</output>"
		}
		tr.Steps = append(tr.Steps, provMsg(len(tr.Steps), kind, "assistant", s))
	}
	if final != "" {
		tr.Steps = append(tr.Steps, provMsg(len(tr.Steps), probity.KindFinal, "assistant", final))
	}
	return tr
}

// TestCascadeRoundAndYearLikeNumbers checks how cascade treats a near-miss
// of a visible line number when the near value is round or looks like a
// year: agents pick such numbers themselves by rounding ("sed -n
// '1080,1120p'") or as the end of a range they want to see, and a changed
// digit toward a round number is such a pick; two adjacent digits swapped
// (2201 → 2210) is no rounding but the signature of a corrupted copy.
func TestCascadeRoundAndYearLikeNumbers(t *testing.T) {
	tests := []struct {
		name  string
		tr    *probity.Trace
		want  bool // a cascade finding at step 3
		wantR []int
	}{
		{
			name: "swapped digits make a round line number, carried on",
			tr: provShell([]string{
				"THOUGHT: Run it.\n\n```bash\npython repro.py\n```",
				`File "f.py", line 2201, in minimal_blocks`,
				"THOUGHT: The error is at line 2210.\n\n```bash\nsed -n '2190,2215p' f.py\n```",
				"2200\t    x = 1",
				"THOUGHT: Fix it.\n\n```bash\nsed -i '2210s/del num_blocks\\[i\\]/pass/' f.py\n```",
				"",
			}, ""),
			want: true, wantR: []int{5},
		},
		{
			name: "swapped digits make a year-like number in copied code, carried on",
			tr: provShell([]string{
				"THOUGHT: Look at the test.\n\n```bash\ngrep -n datetime tests.py\n```",
				"12:        Article.objects.create(pub_date=datetime(2005, 7, 26))",
				"THOUGHT: A new test.\n\n```python\nArticle.objects.create(pub_date=datetime(2050, 7, 26))\n```",
				"",
				"THOUGHT: Append it.\n\n```bash\necho 'Article.objects.create(pub_date=datetime(2050, 7, 26))' >> tests.py\n```",
				"",
			}, "diff --git a/tests.py b/tests.py\n--- a/tests.py\n+++ b/tests.py\n@@ -10,3 +10,4 @@\n         Article.objects.create(pub_date=datetime(2005, 7, 26))\n+Article.objects.create(pub_date=datetime(2050, 7, 26))\n"),
			// The diff quotes the original in a context line; that is the
			// file speaking, not the agent using the visible value.
			want: true, wantR: []int{5, 7},
		},
		{
			name: "a round end of a range the agent wants to see",
			tr: provShell([]string{
				"THOUGHT: Find it.\n\n```bash\ngrep -n 'def ' f.py\n```",
				"2470:    def get_doc(self):\n2721:def autodoc_attrgetter(app, obj):",
				"THOUGHT: Look.\n\n```bash\nsed -n '2721,2740p' f.py\n```",
				"def autodoc_attrgetter(app, obj):",
				"THOUGHT: Lines 2721-2740 show it.",
				"",
			}, ""),
			want: false,
		},
		{
			name: "a changed digit toward a round number is the agent's pick",
			tr: provShell([]string{
				"THOUGHT: Find it.\n\n```bash\ngrep -n 'def f' f.py\n```",
				"1081:def f(x):",
				"THOUGHT: Around 1080.\n\n```bash\nsed -n '1080,1120p' f.py\n```",
				"def f(x):",
				"THOUGHT: More, from 1080.\n\n```bash\nsed -n '1080,1160p' f.py\n```",
				"",
			}, ""),
			want: false,
		},
		{
			name: "the agent keeps using the visible number too: a neighbour",
			tr: provShell([]string{
				"THOUGHT: Run it.\n\n```bash\npython repro.py\n```",
				`File "f.py", line 2201, in minimal_blocks`,
				"THOUGHT: Look below it, at 2210.\n\n```bash\nsed -n '2210,2230p' f.py\n```",
				"",
				"THOUGHT: Back to line 2201, and 2210 again.",
				"",
			}, ""),
			want: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *probity.Finding
			fs := provRun(tt.tr, Cascade{})
			for i := range fs {
				if fs[i].Step == 3 {
					got = &fs[i]
				}
			}
			if (got != nil) != tt.want {
				t.Fatalf("cascade finding at step 3: got %v, want %v (findings %+v)", got != nil, tt.want, fs)
			}
			if got == nil {
				return
			}
			if got.Severity != probity.SeverityMedium {
				t.Errorf("severity: got %s, want medium (no side-effecting tool in a shell run)", got.Severity)
			}
			if diff := cmp.Diff(tt.wantR, got.BlastRadius); diff != "" {
				t.Errorf("blast radius (-want +got):\n%s", diff)
			}
		})
	}
}
