package spec

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/yamlx"
)

// kind is the JSON type of a node.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// node is a JSON (or YAML) value that remembers where it was written, so a
// finding can point at the offending key or string rather than at the file.
type node struct {
	kind    kind
	str     string // a string's value, or a number's literal
	boolean bool
	members []member // an object's members, in file order
	items   []*node
	pos     Pos // where the value starts (a string: its opening quote)
	// raw is the source text of a JSON string literal, quotes included, so a
	// position inside the decoded value can be mapped back through escapes.
	raw string
	// quoted marks a quoted YAML scalar, whose text starts past the quote.
	quoted bool
}

// member is one key of an object.
type member struct {
	key    string
	keyPos Pos
	value  *node
}

// get returns the member value named key, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for _, m := range n.members {
		if m.key == key {
			return m.value
		}
	}
	return nil
}

// keyPos returns the position of key in object n, or n's own position.
func (n *node) keyPos(key string) Pos {
	if n != nil {
		for _, m := range n.members {
			if m.key == key {
				return m.keyPos
			}
		}
		return n.pos
	}
	return Pos{}
}

// text returns a string node's value and "" for anything else.
func (n *node) text() string {
	if n == nil || n.kind != kindString {
		return ""
	}
	return n.str
}

// posAt returns the position of byte i of a string node's decoded value.
// For JSON the escapes of the literal are walked, so "\u200b" at byte i is
// found where it was written; for YAML scalars, which carry only a start,
// the column is counted from the start on the first line.
func (n *node) posAt(i int) Pos {
	p := n.pos
	if n.raw == "" {
		// YAML: count runes of the value up to i, breaking at newlines.
		v := n.str
		if i > len(v) {
			i = len(v)
		}
		line, col := p.Line, p.Column
		if n.quoted {
			col++
		}
		for _, r := range v[:i] {
			if r == '\n' {
				return Pos{Line: line, Column: col} // multi-line scalars: the best we know
			}
			col++
		}
		return Pos{Line: line, Column: col}
	}
	line, col := p.Line, p.Column+1 // past the opening quote
	raw := n.raw[1 : len(n.raw)-1]
	out := 0
	for j := 0; j < len(raw) && out < i; {
		c := raw[j]
		if c == '\\' && j+1 < len(raw) {
			switch raw[j+1] {
			case 'u':
				r, w := decodeUnicodeEscape(raw[j:])
				out += utf8.RuneLen(r)
				j += w
				col += w
			default:
				out++
				j += 2
				col += 2
			}
			continue
		}
		r, w := utf8.DecodeRuneInString(raw[j:])
		if r == '\n' { // cannot occur in valid JSON; kept for safety
			line++
			col = 0
		}
		out += w
		j += w
		col++
	}
	return Pos{Line: line, Column: col}
}

// decodeUnicodeEscape decodes "\uXXXX" (and a following low surrogate) at
// the start of s and returns the rune and the number of bytes it spans.
func decodeUnicodeEscape(s string) (rune, int) {
	if len(s) < 6 {
		return utf8.RuneError, len(s)
	}
	v, err := strconv.ParseUint(s[2:6], 16, 32)
	if err != nil {
		return utf8.RuneError, 6
	}
	r := rune(v)
	if utf16.IsSurrogate(r) && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
		if v2, err := strconv.ParseUint(s[8:12], 16, 32); err == nil {
			if d := utf16.DecodeRune(r, rune(v2)); d != utf8.RuneError {
				return d, 12
			}
		}
	}
	if utf16.IsSurrogate(r) {
		return utf8.RuneError, 6
	}
	return r, 6
}

// toAny converts n to the plain Go value encoding/json would produce, for
// hashing and for rendering.
func (n *node) toAny() any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case kindBool:
		return n.boolean
	case kindNumber:
		if f, err := strconv.ParseFloat(n.str, 64); err == nil {
			return f
		}
		return n.str
	case kindString:
		return n.str
	case kindObject:
		m := make(map[string]any, len(n.members))
		for _, mb := range n.members {
			m[mb.key] = mb.value.toAny()
		}
		return m
	case kindArray:
		a := make([]any, len(n.items))
		for i, it := range n.items {
			a[i] = it.toAny()
		}
		return a
	}
	return nil
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

// parseJSON parses src into a positioned tree. Errors are *probity.Error
// values whose Where is "line L, column C".
func parseJSON(src []byte) (*node, error) {
	p := &jsonParser{src: src, line: 1, lineStart: 0}
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) { // a UTF-8 byte-order mark
		p.off = 3
		p.lineStart = 3
	}
	p.skipSpace()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.off < len(p.src) {
		return nil, p.errorf("unexpected %s after the JSON value", p.describe())
	}
	return n, nil
}

type jsonParser struct {
	src       []byte
	off       int
	line      int
	lineStart int
}

func (p *jsonParser) pos() Pos {
	col := utf8.RuneCount(p.src[p.lineStart:p.off]) + 1
	return Pos{Line: p.line, Column: col}
}

func (p *jsonParser) errorf(format string, args ...any) error {
	pos := p.pos()
	return &probity.Error{Code: probity.EINVALID, Where: fmt.Sprintf("line %d, column %d", pos.Line, pos.Column), Message: fmt.Sprintf(format, args...)}
}

func (p *jsonParser) describe() string {
	if p.off >= len(p.src) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(p.src[p.off:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", p.src[p.off])
	}
	return strconv.QuoteRune(r)
}

func (p *jsonParser) skipSpace() {
	for p.off < len(p.src) {
		switch p.src[p.off] {
		case '\n':
			p.off++
			p.line++
			p.lineStart = p.off
		case ' ', '\t', '\r':
			p.off++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nesting deeper than %d", maxDepth)
	}
	if p.off >= len(p.src) {
		return nil, p.errorf("unexpected end of file, want a JSON value")
	}
	start := p.pos()
	switch c := p.src[p.off]; {
	case c == '{':
		return p.object(start, depth)
	case c == '[':
		return p.array(start, depth)
	case c == '"':
		s, raw, err := p.string()
		if err != nil {
			return nil, err
		}
		return &node{kind: kindString, str: s, raw: raw, pos: start}, nil
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.src[p.off:], []byte(lit)) {
				p.off += len(lit)
				n := &node{kind: kindNull, pos: start}
				if lit != "null" {
					n.kind, n.boolean = kindBool, lit == "true"
				}
				return n, nil
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(start)
	}
	return nil, p.errorf("unexpected %s, want a JSON value", p.describe())
}

func (p *jsonParser) object(start Pos, depth int) (*node, error) {
	n := &node{kind: kindObject, pos: start}
	p.off++ // {
	p.skipSpace()
	if p.off < len(p.src) && p.src[p.off] == '}' {
		p.off++
		return n, nil
	}
	for {
		p.skipSpace()
		if p.off >= len(p.src) || p.src[p.off] != '"' {
			return nil, p.errorf("unexpected %s, want a quoted object key", p.describe())
		}
		kp := p.pos()
		key, _, err := p.string()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.off >= len(p.src) || p.src[p.off] != ':' {
			return nil, p.errorf("unexpected %s after key %q, want ':'", p.describe(), key)
		}
		p.off++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: key, keyPos: kp, value: v})
		p.skipSpace()
		if p.off >= len(p.src) {
			return nil, p.errorf("unexpected end of file in an object, want ',' or '}'")
		}
		switch p.src[p.off] {
		case ',':
			p.off++
		case '}':
			p.off++
			return n, nil
		default:
			return nil, p.errorf("unexpected %s in an object, want ',' or '}'", p.describe())
		}
	}
}

func (p *jsonParser) array(start Pos, depth int) (*node, error) {
	n := &node{kind: kindArray, pos: start}
	p.off++ // [
	p.skipSpace()
	if p.off < len(p.src) && p.src[p.off] == ']' {
		p.off++
		return n, nil
	}
	for {
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		p.skipSpace()
		if p.off >= len(p.src) {
			return nil, p.errorf("unexpected end of file in an array, want ',' or ']'")
		}
		switch p.src[p.off] {
		case ',':
			p.off++
		case ']':
			p.off++
			return n, nil
		default:
			return nil, p.errorf("unexpected %s in an array, want ',' or ']'", p.describe())
		}
	}
}

func (p *jsonParser) number(start Pos) (*node, error) {
	i := p.off
	if p.src[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(p.src) && p.src[i] >= '0' && p.src[i] <= '9' {
			i++
		}
		return i - j
	}
	if digits() == 0 {
		p.off = i
		return nil, p.errorf("malformed number")
	}
	if i < len(p.src) && p.src[i] == '.' {
		i++
		if digits() == 0 {
			p.off = i
			return nil, p.errorf("malformed number: want digits after '.'")
		}
	}
	if i < len(p.src) && (p.src[i] == 'e' || p.src[i] == 'E') {
		i++
		if i < len(p.src) && (p.src[i] == '+' || p.src[i] == '-') {
			i++
		}
		if digits() == 0 {
			p.off = i
			return nil, p.errorf("malformed number: want digits in the exponent")
		}
	}
	lit := string(p.src[p.off:i])
	p.off = i
	return &node{kind: kindNumber, str: lit, pos: start}, nil
}

// string reads a JSON string literal and returns its value and raw text.
func (p *jsonParser) string() (string, string, error) {
	start := p.off
	p.off++ // "
	var b strings.Builder
	for {
		if p.off >= len(p.src) {
			return "", "", p.errorf("unterminated string")
		}
		c := p.src[p.off]
		switch {
		case c == '"':
			p.off++
			return b.String(), string(p.src[start:p.off]), nil
		case c == '\\':
			if p.off+1 >= len(p.src) {
				p.off++
				return "", "", p.errorf("unterminated string")
			}
			e := p.src[p.off+1]
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if p.off+6 > len(p.src) {
					return "", "", p.errorf("malformed \\u escape")
				}
				if _, err := strconv.ParseUint(string(p.src[p.off+2:p.off+6]), 16, 32); err != nil {
					return "", "", p.errorf("malformed \\u escape")
				}
				r, w := decodeUnicodeEscape(string(p.src[p.off:min(len(p.src), p.off+12)]))
				b.WriteRune(r)
				p.off += w
				continue
			default:
				return "", "", p.errorf("unknown escape \\%c", e)
			}
			p.off += 2
		case c < 0x20:
			return "", "", p.errorf("control character 0x%02x in a string (escape it)", c)
		default:
			r, w := utf8.DecodeRune(p.src[p.off:])
			if r == utf8.RuneError && w == 1 {
				return "", "", p.errorf("invalid UTF-8 in a string")
			}
			b.WriteRune(r)
			p.off += w
		}
	}
}

// parseYAML parses YAML src into a positioned tree (the first document).
// The YAML library can panic on malformed input; that is an error here.
func parseYAML(src []byte) (n *node, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("malformed YAML (%v)", r)}
		}
	}()
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, yamlx.Error(err)
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil, &probity.Error{Code: probity.EINVALID, Where: "line 1, column 1", Message: "empty YAML document"}
	}
	return fromYAML(f.Docs[0].Body, 0)
}

func yamlPos(n ast.Node) Pos {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return Pos{Line: tk.Position.Line, Column: tk.Position.Column}
	}
	return Pos{}
}

func yamlQuoted(n ast.Node) bool {
	tk := n.GetToken()
	return tk != nil && (tk.Type == token.DoubleQuoteType || tk.Type == token.SingleQuoteType)
}

func fromYAML(an ast.Node, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("nesting deeper than %d", maxDepth)}
	}
	switch v := an.(type) {
	case *ast.MappingNode:
		n := &node{kind: kindObject, pos: yamlPos(v)}
		for _, kv := range v.Values {
			m, err := yamlMember(kv, depth)
			if err != nil {
				return nil, err
			}
			n.members = append(n.members, m)
		}
		if len(v.Values) > 0 {
			n.pos = yamlPos(v.Values[0].Key)
		}
		return n, nil
	case *ast.MappingValueNode:
		m, err := yamlMember(v, depth)
		if err != nil {
			return nil, err
		}
		return &node{kind: kindObject, pos: m.keyPos, members: []member{m}}, nil
	case *ast.SequenceNode:
		n := &node{kind: kindArray, pos: yamlPos(v)}
		for _, it := range v.Values {
			c, err := fromYAML(it, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, c)
		}
		return n, nil
	case *ast.StringNode:
		return &node{kind: kindString, str: v.Value, pos: yamlPos(v), quoted: yamlQuoted(v)}, nil
	case *ast.LiteralNode:
		p := yamlPos(v)
		p.Line++ // a block scalar's text starts on the next line
		p.Column = 1
		s := ""
		if v.Value != nil {
			s = v.Value.Value
			if pp := yamlPos(v.Value); pp.Line > 0 {
				p = pp
			}
		}
		return &node{kind: kindString, str: s, pos: p}, nil
	case *ast.IntegerNode, *ast.FloatNode:
		return &node{kind: kindNumber, str: an.GetToken().Value, pos: yamlPos(an)}, nil
	case *ast.BoolNode:
		return &node{kind: kindBool, boolean: v.Value, pos: yamlPos(v)}, nil
	case *ast.NullNode:
		return &node{kind: kindNull, pos: yamlPos(v)}, nil
	case *ast.TagNode:
		return fromYAML(v.Value, depth+1)
	case *ast.AnchorNode:
		return fromYAML(v.Value, depth+1)
	case *ast.CommentGroupNode:
		return &node{kind: kindNull, pos: yamlPos(v)}, nil
	case nil:
		return &node{kind: kindNull}, nil
	}
	// Aliases, merge keys, directives and the rest: plain strings are enough
	// for tool definitions, and refusing is clearer than guessing.
	p := yamlPos(an)
	return nil, &probity.Error{Code: probity.EINVALID, Where: fmt.Sprintf("line %d, column %d", p.Line, p.Column), Message: fmt.Sprintf("unsupported YAML node %s in tool definitions", an.Type())}
}

func yamlMember(kv *ast.MappingValueNode, depth int) (member, error) {
	key := kv.Key.String()
	if k, ok := kv.Key.(*ast.StringNode); ok {
		key = k.Value
	}
	v, err := fromYAML(kv.Value, depth+1)
	if err != nil {
		return member{}, err
	}
	return member{key: key, keyPos: yamlPos(kv.Key), value: v}, nil
}
