package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/probity/probity"
)

// NoRecord is passed as the record number when an error concerns the file
// as a whole rather than one element of it.
const NoRecord = -1

// Stream reads JSON values from one input, element by element, and turns
// every failure into a *probity.Error that names the file, the record and
// the position. Records are numbered from 0, like Position.Index.
type Stream struct {
	path string
	r    *Reader
	dec  *json.Decoder
}

// NewStream reads from r, which ingest normally hands over as a *Reader
// with its limits already set. path is used in error messages only.
func NewStream(path string, r io.Reader) *Stream {
	jr := NewReader(r, 0)
	return &Stream{path: path, r: jr, dec: json.NewDecoder(jr)}
}

// Reader returns the guarded reader under the stream.
func (s *Stream) Reader() *Reader { return s.r }

// BeginArray consumes the '[' that opens a top-level array. what describes
// the expected content for the error message ("a JSON list of τ-bench runs").
func (s *Stream) BeginArray(what string) error {
	tok, err := s.dec.Token()
	if err != nil {
		return s.decodeError(NoRecord, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return s.Errorf(NoRecord, 0, "want %s, got %s", what, describeToken(tok))
	}
	return nil
}

// More reports whether the current array has another element.
func (s *Stream) More() bool { return s.dec.More() }

// Element reads the next value whole and returns its bytes and the file
// offset of its first byte. It enforces the record limit from its first
// byte and the nesting limit of encoding/json, so hostile input fails fast.
func (s *Stream) Element(record int) (json.RawMessage, int64, error) {
	from := s.dec.InputOffset() + s.r.bom
	s.r.Mark(from)
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return nil, 0, DecodeError(s.path, s.r, from, record, err)
	}
	start := s.dec.InputOffset() + s.r.bom - int64(len(raw))
	return raw, start, nil
}

// Decode decodes the next value straight into v, in one pass over its
// bytes (Element followed by json.Unmarshal scans them four times). It
// returns the file offset where the value began (see Start). A value of
// the wrong JSON type is consumed whole (skipped is true), so the caller
// may report it and go on with the next record; its error names the field
// and points into the value when the input can be re-read. Any other error
// leaves the stream unusable.
func (s *Stream) Decode(record int, v any) (from int64, skipped bool, err error) {
	from = s.dec.InputOffset() + s.r.bom
	s.r.Mark(from)
	err = s.dec.Decode(v)
	if err == nil {
		return from, false, nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// Type errors count from just after the separator before the value.
		base := s.r.afterSeparator(from)
		off := base
		if te.Offset > 0 {
			off = base + te.Offset - 1
		}
		e := s.typeError(record, off, te)
		if s.r.at == nil {
			e.Where = Where(s.r, record, from)
			e.Where = strings.Replace(e.Where, "offset", "near offset", 1)
		}
		return from, true, e
	}
	return from, false, DecodeError(s.path, s.r, from, record, err)
}

// Start returns the file offset of the first byte of the value that Decode
// began reading at from (skipping a separator and blanks), or from itself
// when the input cannot be re-read. It is meant for error positions.
func (s *Stream) Start(from int64) int64 {
	if s.r.at == nil {
		return from
	}
	off, _ := s.r.skipBlanks(s.r.afterSeparator(from))
	return off
}

func (s *Stream) typeError(record int, off int64, te *json.UnmarshalTypeError) *probity.Error {
	if te.Field == "" {
		return s.Errorf(record, off, "want %s, got %s", kindOf(te.Type), te.Value)
	}
	return s.Errorf(record, off, "%s: want %s, got %s", te.Field, kindOf(te.Type), te.Value)
}

// EndArray consumes the closing ']' and checks that only whitespace
// follows, so a second value glued to the file is not silently dropped.
func (s *Stream) EndArray(records int) error {
	if _, err := s.dec.Token(); err != nil {
		return s.decodeError(records, err)
	}
	return s.End()
}

// End checks that nothing but whitespace is left in the input.
func (s *Stream) End() error {
	s.r.Mark(s.dec.InputOffset() + s.r.bom)
	tok, err := s.dec.Token()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return s.decodeError(NoRecord, err)
	}
	return s.Errorf(NoRecord, s.dec.InputOffset()+s.r.bom-1, "%s after the end of the JSON value", describeToken(tok))
}

// Errorf returns an EINVALID *probity.Error for record at file offset off
// (off < 0: no position known).
func (s *Stream) Errorf(record int, off int64, format string, args ...any) *probity.Error {
	return &probity.Error{Code: probity.EINVALID, File: s.path, Where: s.Where(record, off), Message: fmt.Sprintf(format, args...)}
}

// Where formats a position: "record 3, line 10, column 5", falling back to
// "offset N" when the input cannot be re-read to count lines.
func (s *Stream) Where(record int, off int64) string {
	return Where(s.r, record, off)
}

// Where formats a position for r; see Stream.Where.
func Where(r *Reader, record int, off int64) string {
	var parts []string
	if record >= 0 {
		parts = append(parts, fmt.Sprintf("record %d", record))
	}
	if off >= 0 {
		if line, col, ok := r.LineCol(off); ok {
			parts = append(parts, fmt.Sprintf("line %d, column %d", line, col))
		} else {
			parts = append(parts, fmt.Sprintf("offset %d", off))
		}
	}
	return strings.Join(parts, ", ")
}

// decodeError converts an error from the json.Decoder into a positioned
// *probity.Error.
func (s *Stream) decodeError(record int, err error) *probity.Error {
	return DecodeError(s.path, s.r, s.dec.InputOffset()+s.r.bom, record, err)
}

// DecodeError converts an error from a json.Decoder reading from r into a
// positioned *probity.Error. from is the file offset where the failing value
// (or token) began: json.Decoder's own offsets are not reliable enough to
// show a user, so when r can be re-read the bad byte is located exactly by
// validating the input again from there. Without that (stdin), the error
// says "near" the value's start.
func DecodeError(path string, r *Reader, from int64, record int, err error) *probity.Error {
	mk := func(off int64, format string, args ...any) *probity.Error {
		return &probity.Error{Code: probity.EINVALID, File: path, Where: Where(r, record, off), Message: fmt.Sprintf(format, args...)}
	}
	var le *LimitError
	var ee *EncodingError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &le):
		return mk(le.Offset, "%s", le.Error())
	case errors.As(err, &ee):
		return mk(ee.Offset, "invalid UTF-8 (JSON must be UTF-8)")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return mk(r.Offset(), "unexpected end of input (truncated file?)")
	case err == io.EOF:
		if r.Offset() == r.bom {
			return mk(-1, "empty input")
		}
		return mk(r.Offset(), "unexpected end of input (truncated file?)")
	case errors.As(err, &se):
		msg := strings.TrimPrefix(se.Error(), "json: ")
		if strings.Contains(msg, "expected comma") || strings.Contains(msg, "after array element") || strings.Contains(msg, "after object key:value pair") {
			// A missing separator: the culprit is the first byte after the
			// previous value, which is where from points (give or take blanks).
			if off, ok := r.skipBlanks(from); ok {
				return mk(off, "malformed JSON: %s", msg)
			}
		}
		if off, ok := r.locate(from); ok {
			return mk(off, "malformed JSON: %s", msg)
		}
		e := mk(from, "malformed JSON: %s", msg)
		e.Where = strings.Replace(e.Where, "offset", "near offset", 1)
		return e
	}
	return &probity.Error{Code: probity.EINVALID, File: path, Where: Where(r, record, r.Offset()), Message: "read", Err: err}
}

// afterSeparator returns the offset just past the ',' or ':' that follows
// from (after blanks), or from when there is none: where json.Decoder
// starts counting a value's offsets.
func (r *Reader) afterSeparator(from int64) int64 {
	off, ok := r.skipBlanks(from)
	if !ok {
		return from
	}
	var b [1]byte
	if n, _ := r.at.ReadAt(b[:], off); n == 1 && (b[0] == ',' || b[0] == ':') {
		return off + 1
	}
	return from
}

// skipBlanks returns the offset of the first non-whitespace byte at or
// after from, by re-reading.
func (r *Reader) skipBlanks(from int64) (int64, bool) {
	if r.at == nil || from < 0 {
		return 0, false
	}
	buf := make([]byte, 4096)
	for off := from; off < r.Offset(); {
		n, err := r.at.ReadAt(buf[:min(int64(len(buf)), r.Offset()-off)], off)
		for i := 0; i < n; i++ {
			if !isSpace(buf[i]) {
				return off + int64(i), true
			}
		}
		off += int64(n)
		if err != nil || n == 0 {
			break
		}
	}
	return r.Offset(), true
}

// locate re-reads the input from offset from (the start of a value, or the
// comma before it) to what has been read so far and returns the offset of
// the first byte that makes it invalid JSON.
func (r *Reader) locate(from int64) (int64, bool) {
	if r.at == nil || from < 0 {
		return 0, false
	}
	end := r.Offset()
	if end <= from {
		return end, true
	}
	buf := make([]byte, end-from)
	n, err := r.at.ReadAt(buf, from)
	if n < len(buf) && err != nil {
		return 0, false
	}
	i := 0
	for i < len(buf) && isSpace(buf[i]) {
		i++
	}
	if i < len(buf) && (buf[i] == ',' || buf[i] == ':') {
		i++
	}
	for i < len(buf) && isSpace(buf[i]) {
		i++
	}
	var raw json.RawMessage
	uerr := json.Unmarshal(buf[i:], &raw)
	var se *json.SyntaxError
	if errors.As(uerr, &se) {
		return from + int64(i) + se.Offset - 1, true
	}
	return from + int64(i), true
}

// describeToken names a JSON token for error messages.
func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			return "an array"
		case '{':
			return "an object"
		}
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// kindOf names the JSON kind a Go type expects, for "want X, got Y".
func kindOf(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return kindOf(t.Elem())
	}
	return t.String()
}

// FirstByte returns the first non-whitespace byte of b (after a UTF-8 BOM),
// or 0. Sniffers use it to tell arrays from objects cheaply.
func FirstByte(b []byte) byte {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	for _, c := range b {
		if !isSpace(c) {
			return c
		}
	}
	return 0
}

// HasKey reports whether head contains "key" followed by a colon: a cheap
// test that a JSON object in head has that key.
func HasKey(head []byte, key string) bool {
	k := `"` + key + `"`
	for rest := head; ; {
		i := bytes.Index(rest, []byte(k))
		if i < 0 {
			return false
		}
		rest = rest[i+len(k):]
		j := 0
		for j < len(rest) && isSpace(rest[j]) {
			j++
		}
		if j < len(rest) && rest[j] == ':' {
			return true
		}
	}
}

// AsError returns err as a *probity.Error, wrapping other errors as EINVALID
// for path.
func AsError(path string, err error) *probity.Error {
	var pe *probity.Error
	if errors.As(err, &pe) {
		return pe
	}
	return &probity.Error{Code: probity.EINVALID, File: path, Message: "read", Err: err}
}
