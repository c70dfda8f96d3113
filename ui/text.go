package ui

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxText bounds the text of one field a page shows inline; maxFull the
// text shown when a reader opens a step's full text. A 10 MB tool result
// must not make a 10 MB page: the rest is summarised in words.
const (
	maxText = 600
	maxFull = 64 << 10
)

// clean makes trace text safe to show beyond what HTML escaping does
// (html/template escapes markup): bidirectional controls, which can make a
// line read backwards (an RTL override turning "gpj.exe" into "exe.jpg"),
// and other invisible format characters are shown as visible code points,
// and invalid UTF-8 is replaced.
func clean(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteRune('\uFFFD')
		case isBidiControl(r) || r == '\u200B' || r == '\u2060' || r == '\uFEFF':
			fmt.Fprintf(&b, "⟨U+%04X⟩", r)
		case r < 0x20 && r != '\n' && r != '\t' && r != '\r':
			fmt.Fprintf(&b, "⟨U+%04X⟩", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsCleaning(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || isBidiControl(r) || r == '\u200B' || r == '\u2060' || r == '\uFEFF' ||
			(r < 0x20 && r != '\n' && r != '\t' && r != '\r') {
			return true
		}
	}
	return false
}

// isBidiControl reports the Unicode bidirectional formatting characters
// (embeddings, overrides, isolates and marks).
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') ||
		r == '\u200E' || r == '\u200F' || r == '\u061C'
}

// cut returns s cut to about n bytes at a rune boundary, cleaned, with the
// size of what was left out said in words.
func cut(s string, n int) string {
	if len(s) <= n {
		return clean(s)
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return clean(s[:i]) + fmt.Sprintf(" … (%s more)", bytesText(len(s)-i))
}

// oneLine cuts s to n bytes on one line.
func oneLine(s string, n int) string {
	if len(s) > 4*n {
		s = s[:4*n]
	}
	s = strings.Join(strings.Fields(s), " ")
	return cut(s, n)
}

func bytesText(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
