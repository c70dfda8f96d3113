package ui

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain <b>text</b>", "plain <b>text</b>"}, // markup is html/template's to escape
		{"\u202Egnp.exe", "⟨U+202E⟩gnp.exe"},
		{"a\u2066b\u2069c", "a⟨U+2066⟩b⟨U+2069⟩c"},
		{"zero\u200Bwidth", "zero⟨U+200B⟩width"},
		{"bell\x07", "bell⟨U+0007⟩"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"line\nbreak\ttab", "line\nbreak\ttab"},
	}
	for _, c := range cases {
		if got := clean(c.in); got != c.want {
			t.Errorf("clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCut(t *testing.T) {
	if got := cut(strings.Repeat("é", 100), 11); got != "ééééé … (190 bytes more)" {
		t.Errorf("cut = %q", got)
	}
	if got := cut("short", 10); got != "short" {
		t.Errorf("cut(short) = %q", got)
	}
}

// FuzzClean: whatever a trace holds, what a page shows is valid UTF-8 with
// no bidirectional control left in it, and cut stays near its bound.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "\u202Eabc", "\xff\xfe", "<script>alert(1)</script>", "a\u2067b", strings.Repeat("x", 2000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{clean(s), cut(s, 64), oneLine(s, 64)} {
			if !utf8.ValidString(out) {
				t.Fatalf("output %q is not valid UTF-8", out)
			}
			for _, r := range out {
				if isBidiControl(r) {
					t.Fatalf("output %q keeps bidi control %U", out, r)
				}
			}
		}
		if got := cut(s, 64); len(s) > 64 && len(got) > 64*10+64 {
			t.Fatalf("cut(%d bytes, 64) gave %d bytes", len(s), len(got))
		}
	})
}
