package drill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/probity/probity"
)

// maxAnswersBytes caps an answers file: a set of a thousand drills fits in
// a few hundred KiB, so anything bigger is not an answers file.
const maxAnswersBytes = 16 << 20

// ReadAnswers reads an answers file (see ParseAnswers).
func ReadAnswers(path string) (map[string]Answer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &probity.Error{Code: probity.ENOTFOUND, File: path, Message: "no answers file", Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAnswersBytes+1))
	if err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: "read answers", Err: err}
	}
	if len(b) > maxAnswersBytes {
		return nil, &probity.Error{Code: probity.EINVALID, File: path, Message: fmt.Sprintf("larger than %d bytes; not an answers file", maxAnswersBytes)}
	}
	return ParseAnswers(path, b)
}

// ParseAnswers decodes an answers file: one JSON object whose keys are
// drill ids and whose values hold the answers by question id,
//
//	{"d03": {"failed": true, "step": 14, "class": "cascade-corrupted-id",
//	         "reached": [16, 18], "rule": "ids-must-be-grounded"},
//	 "d07": {"value": 0.83}}
//
// A question left out, or null, is unanswered. Unknown question keys, a
// drill answered twice and values of the wrong type are errors that name
// file and the line and column, since a typo would otherwise score zero
// without a word.
func ParseAnswers(file string, b []byte) (map[string]Answer, error) {
	bad := func(off int64, msg string, err error) error {
		return &probity.Error{Code: probity.EINVALID, File: file, Where: lineCol(b, off), Message: msg, Err: err}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, bad(dec.InputOffset(), "want a JSON object of answers by drill id", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, bad(dec.InputOffset()-1, `want a JSON object of answers by drill id, like {"d01": {"failed": true}}`, nil)
	}
	out := map[string]Answer{}
	for dec.More() {
		at := skipSep(b, dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return nil, bad(at, "malformed JSON", err)
		}
		id, _ := tok.(string)
		if _, dup := out[id]; dup {
			return nil, bad(at, fmt.Sprintf("drill %q answered twice", id), nil)
		}
		var raw json.RawMessage
		vat := dec.InputOffset()
		if err := dec.Decode(&raw); err != nil {
			return nil, bad(vat, fmt.Sprintf("drill %q: malformed JSON", id), err)
		}
		a, err := decodeAnswer(raw)
		if err != nil {
			// Point into the answer: the offset of the decoder's error
			// within raw, after the whitespace before it.
			off := skipSep(b, vat)
			if se, ok := err.(*json.UnmarshalTypeError); ok {
				off += se.Offset
			}
			return nil, bad(off, fmt.Sprintf("drill %q", id), err)
		}
		out[id] = a
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad(dec.InputOffset(), "malformed JSON", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad(dec.InputOffset(), "text after the answers object", nil)
	}
	return out, nil
}

func decodeAnswer(raw json.RawMessage) (Answer, error) {
	var a Answer
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return a, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return a, fmt.Errorf("want an object with failed, step, class, reached, rule or value: %w", err)
	}
	return a, nil
}

// skipSep moves off past whitespace and the separators between tokens, so
// an error points at the token itself.
func skipSep(b []byte, off int64) int64 {
	for off < int64(len(b)) {
		switch b[off] {
		case ' ', '\n', '\t', '\r', ':', ',':
			off++
		default:
			return off
		}
	}
	return off
}
