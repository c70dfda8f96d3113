package jsonx

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/probity/probity"
)

// MaxDepth is the deepest nesting a record may have, as in encoding/json.
const MaxDepth = 10000

// Stream reads a top-level JSON array element by element, or single JSON
// values, and turns every failure into a *probity.Error that names the
// file, the record and the exact line and column. Records are numbered from
// 0, like Position.Index.
//
// It does not use json.Decoder: a small scanner finds where each record
// ends (tracking only strings and bracket depth), and the record is then
// validated and decoded in one json.Unmarshal. That is faster than the
// streaming decoder, and because the scanner counts lines as it goes and
// holds the current record, positions are exact even on stdin.
type Stream struct {
	path string
	r    *Reader
	br   *bufio.Reader

	off       int64 // file offset of the next byte to read (BOM included)
	line      int   // 1-based line of the next byte
	lineStart int64 // file offset where that line starts

	// The current record, for positions inside it.
	buf       []byte
	recStart  int64
	recLine   int
	recLStart int64

	inArray bool  // between BeginArray and EndArray
	elems   int   // elements read from the current array
	err     error // sticky error from the reader
}

// NewStream reads from r, which ingest normally hands over as a *Reader
// with its limits already set. path is used in error messages only.
func NewStream(path string, r io.Reader) *Stream {
	jr := NewReader(r, 0)
	// The BOM, if any, is stripped by the reader; offsets include it.
	s := &Stream{path: path, r: jr, br: bufio.NewReaderSize(jr, 64<<10), line: 1}
	s.peek() // settles the BOM so that offsets start right
	s.off, s.lineStart = jr.bom, jr.bom
	return s
}

// Reader returns the guarded reader under the stream.
func (s *Stream) Reader() *Reader { return s.r }

// peek returns the next byte without consuming it; ok is false at the end
// of input or on a read error (kept in s.err).
func (s *Stream) peek() (byte, bool) {
	b, err := s.br.Peek(1)
	if err != nil {
		if err != io.EOF && s.err == nil {
			s.err = err
		}
		return 0, false
	}
	return b[0], true
}

// next consumes one byte, keeping the line count.
func (s *Stream) next() (byte, bool) {
	c, err := s.br.ReadByte()
	if err != nil {
		if err != io.EOF && s.err == nil {
			s.err = err
		}
		return 0, false
	}
	s.off++
	if c == '\n' {
		s.line++
		s.lineStart = s.off
	}
	return c, true
}

// skipSpace consumes whitespace and returns the next byte, unconsumed.
func (s *Stream) skipSpace() (byte, bool) {
	for {
		c, ok := s.peek()
		if !ok || !isSpace(c) {
			return c, ok
		}
		s.next()
	}
}

// Peek returns the first byte of the next value, skipping whitespace, or 0
// at the end of input. Importers use it to choose how to read a file.
func (s *Stream) Peek() byte {
	c, _ := s.skipSpace()
	return c
}

// BeginArray consumes the '[' that opens a top-level array. what describes
// the expected content for the error message ("a JSON list of τ-bench runs").
func (s *Stream) BeginArray(what string) error {
	c, ok := s.skipSpace()
	if !ok {
		return s.eofError(NoRecord)
	}
	if c != '[' {
		return s.Errorf(NoRecord, s.off, "want %s, got %s", what, describeByte(c))
	}
	s.next()
	s.inArray, s.elems = true, 0
	return nil
}

// More reports whether the current array has another element. It is false
// at the closing bracket and at the end of input (which EndArray reports).
func (s *Stream) More() bool {
	c, ok := s.skipSpace()
	return ok && c != ']'
}

// Element reads the next element (or, outside an array, the next value)
// whole and returns its bytes and the file offset of its first byte. The
// bytes are valid until the next call. It enforces the record limit and
// MaxDepth, so hostile input fails fast.
func (s *Stream) Element(record int) (json.RawMessage, int64, error) {
	if err := s.separator(record); err != nil {
		return nil, 0, err
	}
	if err := s.scan(record); err != nil {
		return nil, 0, err
	}
	if !json.Valid(s.buf) {
		var v json.RawMessage
		return nil, 0, s.unmarshalError(record, json.Unmarshal(s.buf, &v))
	}
	return s.buf, s.recStart, nil
}

// Decode reads the next element (or value) and decodes it into v. It
// returns the file offset where the value begins. A value of the wrong JSON
// type is consumed whole (skipped is true), so the caller may report it and
// go on with the next record; any other error leaves the stream unusable.
func (s *Stream) Decode(record int, v any) (from int64, skipped bool, err error) {
	if err := s.separator(record); err != nil {
		return s.off, false, err
	}
	if err := s.scan(record); err != nil {
		return s.off, false, err
	}
	if err := json.Unmarshal(s.buf, v); err != nil {
		var te *json.UnmarshalTypeError
		return s.recStart, errors.As(err, &te), s.unmarshalError(record, err)
	}
	return s.recStart, false, nil
}

// Start returns the file offset of the first byte of the value Decode read
// from from. With this scanner they are the same; it is kept so that
// importers need not know.
func (s *Stream) Start(from int64) int64 { return from }

// separator consumes the comma between array elements.
func (s *Stream) separator(record int) error {
	c, ok := s.skipSpace()
	if !ok {
		return s.eofError(record)
	}
	if s.inArray && s.elems > 0 {
		if c != ',' {
			return s.Errorf(record, s.off, "malformed JSON: expected a comma or ']' after element %d, got %s", s.elems-1, describeByte(c))
		}
		s.next()
	}
	s.elems++
	return nil
}

// scan reads one value into s.buf, stopping right after it. Only strings
// and brackets are tracked; json.Unmarshal validates the rest.
func (s *Stream) scan(record int) error {
	c, ok := s.skipSpace()
	if !ok {
		return s.eofError(record)
	}
	if !startsValue(c) {
		return s.Errorf(record, s.off, "malformed JSON: %s where a value should start", describeByte(c))
	}
	s.buf = s.buf[:0]
	s.recStart, s.recLine, s.recLStart = s.off, s.line, s.lineStart
	s.r.Mark(s.off)
	max := s.r.MaxRecordBytes()
	depth := 0
	for {
		c, ok := s.peek()
		if !ok {
			if depth == 0 && len(s.buf) > 0 {
				return nil // a number or literal at the end of input
			}
			return s.eofError(record)
		}
		if depth == 0 && len(s.buf) > 0 && !literalByte(c) {
			return nil // end of a number or literal; Unmarshal judges it
		}
		s.next()
		s.buf = append(s.buf, c)
		if int64(len(s.buf)) > max {
			return s.Errorf(record, s.off-1, "%s", (&LimitError{What: "record", Limit: max}).Error())
		}
		switch c {
		case '"':
			if err := s.scanString(record, max); err != nil {
				return err
			}
			if depth == 0 {
				return nil
			}
		case '{', '[':
			depth++
			if depth > MaxDepth {
				return s.Errorf(record, s.off-1, "malformed JSON: nesting deeper than %d", MaxDepth)
			}
		case '}', ']':
			depth--
			if depth < 0 {
				return s.Errorf(record, s.off-1, "malformed JSON: unexpected %q", c)
			}
			if depth == 0 {
				return nil
			}
		}
	}
}

// scanString copies the rest of a string (after its opening quote) into
// s.buf, a run of plain bytes at a time.
func (s *Stream) scanString(record int, max int64) error {
	for {
		chunk, _ := s.br.Peek(s.br.Buffered())
		if len(chunk) == 0 {
			if _, ok := s.peek(); !ok {
				return s.eofError(record)
			}
			continue
		}
		// Find the closing quote, skipping escaped characters. An escape
		// cut by the end of the buffer is left for the next round.
		end, n := -1, len(chunk)
		for i := 0; i < len(chunk); i++ {
			c := chunk[i]
			if c == '\\' {
				if i+1 >= len(chunk) {
					n = i
					break
				}
				i++
				continue
			}
			if c == '"' {
				end, n = i, i+1
				break
			}
		}
		if n == 0 {
			// The buffer holds only a backslash: take it and the byte it
			// escapes one at a time.
			for range 2 {
				c, ok := s.next()
				if !ok {
					return s.eofError(record)
				}
				s.buf = append(s.buf, c)
			}
			continue
		}
		part := chunk[:n]
		s.buf = append(s.buf, part...)
		if nl := bytes.Count(part, []byte{'\n'}); nl > 0 {
			s.line += nl
			s.lineStart = s.off + int64(bytes.LastIndexByte(part, '\n')) + 1
		}
		s.off += int64(n)
		s.br.Discard(n)
		if int64(len(s.buf)) > max {
			return s.Errorf(record, s.recStart+max, "%s", (&LimitError{What: "record", Limit: max}).Error())
		}
		if end >= 0 {
			return nil
		}
	}
}

// EndArray consumes the closing ']' and checks that only whitespace
// follows, so a second value glued to the file is not silently dropped.
func (s *Stream) EndArray(records int) error {
	c, ok := s.skipSpace()
	if !ok {
		return s.eofError(records)
	}
	if c != ']' {
		return s.Errorf(records, s.off, "malformed JSON: expected ']', got %s", describeByte(c))
	}
	s.next()
	s.inArray = false
	return s.End()
}

// End checks that nothing but whitespace is left in the input.
func (s *Stream) End() error {
	c, ok := s.skipSpace()
	if !ok {
		if s.err != nil {
			return s.readError(NoRecord)
		}
		return nil
	}
	return s.Errorf(NoRecord, s.off, "%s after the end of the JSON value", describeByte(c))
}

// eofError reports the end of input (or a read error) where a value was
// expected.
func (s *Stream) eofError(record int) error {
	if s.err != nil {
		return s.readError(record)
	}
	if s.off == s.r.bom {
		return s.Errorf(NoRecord, -1, "empty input")
	}
	return s.Errorf(record, s.off, "unexpected end of input (truncated file?)")
}

// readError reports a failure of the guarded reader: a limit, invalid
// UTF-8, or an I/O error.
func (s *Stream) readError(record int) error {
	var le *LimitError
	var ee *EncodingError
	switch {
	case errors.As(s.err, &le):
		return s.Errorf(record, le.Offset, "%s", le.Error())
	case errors.As(s.err, &ee):
		return s.Errorf(record, ee.Offset, "invalid UTF-8 (JSON must be UTF-8)")
	}
	return &probity.Error{Code: probity.EINVALID, File: s.path, Where: s.Where(record, s.off), Message: "read", Err: s.err}
}

// unmarshalError positions an error from json.Unmarshal of the current
// record. Offsets from encoding/json count the bytes read, so the bad byte
// is the one before.
func (s *Stream) unmarshalError(record int, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		off := s.recStart
		if te.Offset > 0 {
			off = s.recStart + te.Offset - 1
		}
		if te.Field == "" {
			return s.Errorf(record, off, "want %s, got %s", kindOf(te.Type), te.Value)
		}
		return s.Errorf(record, off, "%s: want %s, got %s", te.Field, kindOf(te.Type), te.Value)
	case errors.As(err, &se):
		return s.Errorf(record, s.recStart+max(se.Offset-1, 0), "malformed JSON: %s", strings.TrimPrefix(se.Error(), "json: "))
	}
	return s.Errorf(record, s.recStart, "%v", err)
}

// Errorf returns an EINVALID *probity.Error for record at file offset off
// (off < 0: no position known).
func (s *Stream) Errorf(record int, off int64, format string, args ...any) *probity.Error {
	return &probity.Error{Code: probity.EINVALID, File: s.path, Where: s.Where(record, off), Message: fmt.Sprintf(format, args...)}
}

// Where formats a position: "record 3, line 10, column 5". Offsets in the
// current record or at the read position are resolved from what the
// stream has seen; others by re-reading the input, else as "offset N".
func (s *Stream) Where(record int, off int64) string {
	line, col, ok := s.lineCol(off)
	if !ok {
		return Where(s.r, record, off)
	}
	w := fmt.Sprintf("line %d, column %d", line, col)
	if record >= 0 {
		w = fmt.Sprintf("record %d, %s", record, w)
	}
	return w
}

// lineCol resolves off from the stream's own bookkeeping.
func (s *Stream) lineCol(off int64) (int, int, bool) {
	switch {
	case off == s.off:
		return s.line, int(off-s.lineStart) + 1, true
	case off >= s.recStart && off < s.recStart+int64(len(s.buf)):
		part := s.buf[:off-s.recStart]
		line, start := s.recLine, s.recLStart
		if nl := bytes.Count(part, []byte{'\n'}); nl > 0 {
			line += nl
			start = s.recStart + int64(bytes.LastIndexByte(part, '\n')) + 1
		}
		return line, int(off-start) + 1, true
	}
	return 0, 0, false
}

// startsValue reports whether c can begin a JSON value.
func startsValue(c byte) bool {
	switch c {
	case '{', '[', '"', '-', 't', 'f', 'n':
		return true
	}
	return c >= '0' && c <= '9'
}

// literalByte reports whether c can continue a number or literal.
func literalByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '+' || c == '-'
}

// describeByte names what a value starting with c is, for messages.
func describeByte(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '{':
		return "an object"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	case c == ']' || c == '}' || c == ',' || c == ':':
		return fmt.Sprintf("%q", string(c))
	case c >= 0x20 && c < 0x7f:
		return fmt.Sprintf("invalid character %q", string(c))
	}
	return fmt.Sprintf("invalid byte 0x%02x", c)
}
