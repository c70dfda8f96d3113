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

// Scalar renders a JSON value as text the way importers read a field that
// is usually a string: a string's content unquoted, "" for null or
// nothing, anything else (numbers, booleans, objects) verbatim.
func Scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}
