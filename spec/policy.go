package spec

import (
	"os"
	"strings"

	"github.com/probity/probity/policy"
)

// Policy is a compiled policy with its source text, so findings about a
// rule can point at the glob or key concerned.
type Policy struct {
	// P is the compiled policy.
	P *policy.Policy
	// File is the policy file's path.
	File string

	text       string
	lineStarts []int
}

// LoadPolicy compiles the policy in file with policy.LoadFile (its errors
// name the file, line and column) and keeps its text for spans.
func LoadPolicy(file string) (*Policy, error) {
	p, err := policy.LoadFile(file)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return NewPolicy(p, file, b), nil
}

// NewPolicy wraps an already compiled policy and its source text.
func NewPolicy(p *policy.Policy, file string, src []byte) *Policy {
	return &Policy{P: p, File: file, text: string(src), lineStarts: lineStarts(string(src))}
}

// find returns the span of the first occurrence of word at or after line
// (1-based), or the start of that line when it is not found.
func (p *Policy) find(line int, word string) Span {
	if line < 1 || line > len(p.lineStarts) {
		return Span{File: p.File, Line: max(line, 1), Column: 1}
	}
	from := p.lineStarts[line-1]
	if i := strings.Index(p.text[from:], word); i >= 0 && word != "" {
		a := posIn(p.text, p.lineStarts, from+i)
		b := posIn(p.text, p.lineStarts, from+i+len(word)-1)
		return Span{File: p.File, Line: a.Line, Column: a.Column, EndLine: b.Line, EndColumn: b.Column}
	}
	return Span{File: p.File, Line: line, Column: 1}
}
