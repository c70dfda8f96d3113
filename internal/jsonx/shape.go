package jsonx

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Limits of a Shape. They bound the memory structural detection uses
// however large the input: key paths deeper than ShapeDepth, beyond
// ShapeMaxKeys, or longer than ShapeMaxKeyBytes are not recorded.
const (
	ShapeDepth       = 3
	ShapeMaxKeys     = 512
	ShapeMaxKeyBytes = 128
	// maxNesting stops pathological nesting ([[[[...) before the scanner's
	// recursion grows large; encoding/json refuses such input too.
	maxNesting = 10000
)

// Shape is what format detection needs to know of a JSON input: whether it
// is an object, an array or a sequence of values (JSON Lines), and the key
// paths of its first record. The first record is the object itself, the
// first element of a top-level array, or the first value of JSON Lines.
//
// Key paths are relative to the first record: "history", "info.exit_status",
// "messages[].role" (a key of an array's first element). Only the first
// element of each array is described, so a Shape is small however long the
// input is, yet it sees a key however far into the record it sits.
type Shape struct {
	// Kind is '{' or '[' for the first top-level value, 0 when the input
	// holds no JSON value.
	Kind byte
	// Lines is true when a second top-level value follows the first.
	Lines bool
	// Keys are the key paths of the first record, in the order met.
	Keys []string
	// Complete is false when the scan stopped early (a syntax error or
	// the end of a truncated head) and Keys may miss some.
	Complete bool
}

// Has reports whether the first record has the key path p.
func (s Shape) Has(p string) bool { return slices.Contains(s.Keys, p) }

// HasAny reports whether the first record has any of the key paths.
func (s Shape) HasAny(ps ...string) bool {
	for _, p := range ps {
		if s.Has(p) {
			return true
		}
	}
	return false
}

// ShapeOf describes b, which may be a truncated head of a file: the Shape
// then holds what the head shows and Complete is false.
func ShapeOf(b []byte) Shape {
	s, _ := ReadShape(bytes.NewReader(b), int64(len(b))+1)
	return s
}

// ReadShape reads r until the first record's keys are known: to the end of
// a single object (the keys that identify a format may follow a history of
// many megabytes), or to the end of the first element of an array. It
// streams: string values are skipped without being held, so memory stays
// within the Shape limits. maxRecord bounds the bytes read (<= 0 means
// DefaultMaxRecordBytes); endless whitespace and invalid UTF-8 stop it as
// they stop Reader. On a syntax error or a limit it returns what it had
// seen and the error.
func ReadShape(r io.Reader, maxRecord int64) (Shape, error) {
	sc := &shapeScanner{r: bufio.NewReaderSize(NewReader(r, maxRecord), 64<<10), seen: map[string]bool{}}
	var s Shape
	c, err := sc.skipSpace()
	if err != nil {
		if err == io.EOF {
			return s, nil
		}
		return s, err
	}
	switch c {
	case '{':
		s.Kind = '{'
		err = sc.object("", 0, true)
		if err == nil {
			// One more value after the first object makes JSON Lines.
			if c, e := sc.skipSpace(); e == nil && (c == '{' || c == '[') {
				s.Lines = true
			}
		}
	case '[':
		s.Kind = '['
		err = sc.firstElement()
	default:
		err = sc.syntax(c, "'{' or '['")
	}
	s.Keys = sc.keys
	s.Complete = err == nil
	return s, err
}

// ShapeError is a syntax error met while reading a Shape, at a byte
// offset of the input.
type ShapeError struct {
	Offset int64
	Msg    string
}

// Error describes the problem and where it is.
func (e *ShapeError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

type shapeScanner struct {
	r    *bufio.Reader
	off  int64 // offset of the next byte
	keys []string
	seen map[string]bool
}

func (sc *shapeScanner) readByte() (byte, error) {
	c, err := sc.r.ReadByte()
	if err == nil {
		sc.off++
	}
	return c, err
}

func (sc *shapeScanner) skipSpace() (byte, error) {
	for {
		c, err := sc.readByte()
		if err != nil {
			return 0, err
		}
		if !isSpace(c) {
			return c, nil
		}
	}
}

func (sc *shapeScanner) syntax(c byte, want string) error {
	return &ShapeError{Offset: sc.off - 1, Msg: fmt.Sprintf("found %s, want %s", describeByte(c), want)}
}

func (sc *shapeScanner) add(p string) {
	if len(sc.keys) < ShapeMaxKeys && !sc.seen[p] {
		sc.seen[p] = true
		sc.keys = append(sc.keys, p)
	}
}

// firstElement describes the first element of a top-level array and stops.
func (sc *shapeScanner) firstElement() error {
	c, err := sc.skipSpace()
	if err != nil {
		return eof(err)
	}
	switch c {
	case ']':
		return nil
	case '{':
		return sc.object("", 1, true)
	case '[':
		return sc.array("[]", 1, true)
	}
	return sc.scalar(c)
}

// value reads one value whose first byte c was consumed. depth counts
// nesting below the first record; record says whether keys are recorded.
func (sc *shapeScanner) value(c byte, path string, depth int, record bool) error {
	if depth > maxNesting {
		return &ShapeError{Offset: sc.off - 1, Msg: "nested too deeply"}
	}
	switch c {
	case '{':
		return sc.object(path, depth, record)
	case '[':
		return sc.array(path+"[]", depth, record)
	}
	return sc.scalar(c)
}

func (sc *shapeScanner) object(path string, depth int, record bool) error {
	for first := true; ; first = false {
		c, err := sc.skipSpace()
		if err != nil {
			return eof(err)
		}
		if c == '}' && first {
			return nil
		}
		if c != '"' {
			return sc.syntax(c, "a string key")
		}
		key, err := sc.str(record)
		if err != nil {
			return err
		}
		if c, err = sc.skipSpace(); err != nil {
			return eof(err)
		}
		if c != ':' {
			return sc.syntax(c, "':'")
		}
		p := key
		if path != "" {
			p = path + "." + key
		}
		if record {
			sc.add(p)
		}
		if c, err = sc.skipSpace(); err != nil {
			return eof(err)
		}
		if err := sc.value(c, p, depth+1, record && depth+1 < ShapeDepth); err != nil {
			return err
		}
		if c, err = sc.skipSpace(); err != nil {
			return eof(err)
		}
		switch c {
		case ',':
		case '}':
			return nil
		default:
			return sc.syntax(c, "',' or '}'")
		}
	}
}

func (sc *shapeScanner) array(path string, depth int, record bool) error {
	for first := true; ; first = false {
		c, err := sc.skipSpace()
		if err != nil {
			return eof(err)
		}
		if c == ']' && first {
			return nil
		}
		// Only the first element is described: later ones are skipped.
		if err := sc.value(c, path, depth+1, record && first); err != nil {
			return err
		}
		if c, err = sc.skipSpace(); err != nil {
			return eof(err)
		}
		switch c {
		case ',':
		case ']':
			return nil
		default:
			return sc.syntax(c, "',' or ']'")
		}
	}
}

// scalar skips a string, number or literal whose first byte c was read.
func (sc *shapeScanner) scalar(c byte) error {
	if c == '"' {
		_, err := sc.str(false)
		return err
	}
	if !literalByte(c) {
		return sc.syntax(c, "a value")
	}
	for {
		b, err := sc.r.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if !literalByte(b[0]) {
			return nil
		}
		sc.readByte()
	}
}

// str reads the rest of a string whose opening quote was consumed. With
// keep it returns the raw text (escapes as written), cut at
// ShapeMaxKeyBytes; otherwise it only skips, however long the string is.
func (sc *shapeScanner) str(keep bool) (string, error) {
	var buf []byte
	backslashes := 0 // run of backslashes ending the text read so far
	for {
		chunk, err := sc.r.ReadSlice('"')
		sc.off += int64(len(chunk))
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return "", eof(err)
		}
		body := chunk
		if err == nil {
			body = chunk[:len(chunk)-1]
		}
		n := 0
		for n < len(body) && body[len(body)-1-n] == '\\' {
			n++
		}
		if n == len(body) {
			n += backslashes
		}
		if keep && len(buf) < ShapeMaxKeyBytes {
			buf = append(buf, body...)
		}
		if err != nil { // buffer full: no quote in this chunk yet
			backslashes = n
			continue
		}
		if n%2 == 0 {
			if len(buf) > ShapeMaxKeyBytes {
				buf = buf[:ShapeMaxKeyBytes]
			}
			return string(buf), nil
		}
		// An escaped quote belongs to the string.
		if keep {
			buf = append(buf, '"')
		}
		backslashes = 0
	}
}

// eof turns the end of input inside a value into an error; a truncated
// head ends this way.
func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// String lists the key paths, for error messages and tests.
func (s Shape) String() string {
	k := "none"
	switch {
	case s.Lines:
		k = "JSON Lines"
	case s.Kind == '{':
		k = "object"
	case s.Kind == '[':
		k = "array"
	}
	return k + " {" + strings.Join(s.Keys, ", ") + "}"
}
