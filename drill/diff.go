package drill

import (
	"fmt"
	"strings"

	"github.com/probity/probity"
)

// stepLine renders a step as one line for a diff: position, kind and the
// text that matters (the call and its arguments, or the content).
func stepLine(s probity.Step) (pos, body string) {
	pos = fmt.Sprint(s.Pos.Index)
	if s.Pos.Part > 0 {
		pos = fmt.Sprintf("%d.%d", s.Pos.Index, s.Pos.Part)
	}
	text := s.Content
	if s.Kind == probity.KindToolCall && s.Tool != nil {
		text = s.Tool.Name + " " + string(s.Tool.Args) + s.Tool.RawArgs
	}
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > 300 {
		text = string(r[:299]) + "…"
	}
	return pos, fmt.Sprintf("%-11s %s", s.Kind, text)
}

// stepDiff shows what changed from the real run to the planted one, one
// line per changed step ("-" the real step, "+" the drill's), matched by a
// longest common subsequence of the step texts so that inserted steps do
// not mark every later step as changed.
func stepDiff(orig, planted *probity.Trace) string {
	type line struct{ pos, body string }
	lines := func(t *probity.Trace) []line {
		out := make([]line, len(t.Steps))
		for i, s := range t.Steps {
			out[i].pos, out[i].body = stepLine(s)
		}
		return out
	}
	x, y := lines(orig), lines(planted)
	n, m := len(x), len(y)
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i].body == y[j].body {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	b.WriteString("--- real run\n+++ drill\n")
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i].body == y[j].body:
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			fmt.Fprintf(&b, "-%6s %s\n", x[i].pos, x[i].body)
			i++
		default:
			fmt.Fprintf(&b, "+%6s %s\n", y[j].pos, y[j].body)
			j++
		}
	}
	return b.String()
}
