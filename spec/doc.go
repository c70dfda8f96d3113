package spec

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/probity/probity"
)

// Doc is a system prompt or task specification: text, Markdown or YAML,
// read as prose. Findings on it point at the sentence or word concerned.
type Doc struct {
	// File is the path the document was read from.
	File string
	// Text is its content.
	Text string

	lineStarts []int
	sentences  []sentence
}

// sentence is one instruction: a sentence, a list item or a heading.
type sentence struct {
	start, end int // byte offsets in Doc.Text
	text       string
}

// maxDocBytes bounds a prompt; real system prompts are a few KB, and the
// rules are quadratic in sentences at worst (contradictions).
const maxDocBytes = 4 << 20

// ParseDoc reads a prompt or task specification. YAML files (.yaml, .yml)
// must parse as YAML; every file must be UTF-8 text. Errors are
// *probity.Error values naming the line and column of the fault.
func ParseDoc(file string, src []byte) (*Doc, error) {
	bad := func(where Pos, format string, args ...any) error {
		e := &probity.Error{Code: probity.EINVALID, File: file, Message: fmt.Sprintf(format, args...)}
		if where.Line > 0 {
			e.Where = fmt.Sprintf("line %d, column %d", where.Line, where.Column)
		}
		return e
	}
	if len(src) > maxDocBytes {
		return nil, bad(Pos{}, "prompt is %d bytes, more than the %d a prompt can sensibly be", len(src), maxDocBytes)
	}
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	d := &Doc{File: file, Text: string(src)}
	d.lineStarts = lineStarts(d.Text)
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, bad(Pos{}, "empty prompt")
	}
	for i := 0; i < len(src); {
		r, w := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && w == 1 {
			return nil, bad(d.pos(i), "not UTF-8 text (byte 0x%02x)", src[i])
		}
		if r == 0 {
			return nil, bad(d.pos(i), "binary data (a NUL byte), not a prompt")
		}
		i += w
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml":
		if _, err := parseYAML(src); err != nil {
			if pe, ok := err.(*probity.Error); ok {
				pe.File = file
				return nil, pe
			}
			return nil, err
		}
	}
	d.sentences = splitSentences(d.Text)
	return d, nil
}

func lineStarts(s string) []int {
	starts := []int{0}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// pos returns the position of byte offset off.
func (d *Doc) pos(off int) Pos {
	return posIn(d.Text, d.lineStarts, off)
}

func posIn(text string, starts []int, off int) Pos {
	off = max(0, min(off, len(text)))
	i := sort.Search(len(starts), func(i int) bool { return starts[i] > off }) - 1
	return Pos{Line: i + 1, Column: utf8.RuneCountInString(text[starts[i]:off]) + 1}
}

// span returns the span of Text[start:end].
func (d *Doc) span(start, end int) Span {
	a := d.pos(start)
	s := spanAt(d.File, a)
	if end > start {
		// End is inclusive: the position of the last character.
		_, w := utf8.DecodeLastRuneInString(d.Text[:end])
		b := d.pos(end - w)
		s.EndLine, s.EndColumn = b.Line, b.Column
	}
	return s
}

var (
	bulletRE  = regexp.MustCompile(`^\s*(?:[-*+•]|\d{1,3}[.)])\s+`)
	headingRE = regexp.MustCompile(`^\s*#{1,6}\s`)
	// abbreviations whose period does not end a sentence.
	abbrevRE = regexp.MustCompile(`(?i)(?:\b(?:e\.g|i\.e|etc|vs|mr|mrs|ms|dr|no|approx|incl)|\b[a-z])\.$`)
)

// splitSentences cuts text into instructions: at blank lines, list items
// and headings, and at sentence ends inside a paragraph.
func splitSentences(text string) []sentence {
	var out []sentence
	emit := func(a, b int) {
		for a < b && unicode.IsSpace(rune(text[a])) {
			a++
		}
		for b > a && unicode.IsSpace(rune(text[b-1])) {
			b--
		}
		if b > a {
			out = append(out, sentence{start: a, end: b, text: text[a:b]})
		}
	}
	start := 0
	lines := lineStarts(text)
	for li, ls := range lines {
		le := len(text)
		if li+1 < len(lines) {
			le = lines[li+1]
		}
		line := text[ls:le]
		if strings.TrimSpace(line) == "" || bulletRE.MatchString(line) || headingRE.MatchString(line) {
			emit(start, ls)
			start = ls
			if headingRE.MatchString(line) { // a heading stands alone
				emit(ls, le)
				start = le
				continue
			}
		}
		// Sentence ends inside the line.
		for i := ls; i < le; i++ {
			c := text[i]
			if c != '.' && c != '!' && c != '?' {
				continue
			}
			next := i + 1
			for next < le && (text[next] == '.' || text[next] == '!' || text[next] == '?' || text[next] == '"' || text[next] == '\'' || text[next] == ')') {
				next++
			}
			if next < len(text) && !unicode.IsSpace(rune(text[next])) {
				continue
			}
			if c == '.' && abbrevRE.MatchString(text[max(start, i-8):i+1]) {
				continue
			}
			emit(start, next)
			start = next
			i = next - 1
		}
	}
	emit(start, len(text))
	return out
}
