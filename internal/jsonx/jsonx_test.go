package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/probity/probity"
)

func TestReaderUTF8(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		wantOff int64 // -1: valid
	}{
		{"ascii", `{"a": "b"}`, -1},
		{"multibyte", `{"a": "héllo ✓ 𝄞"}`, -1},
		{"bad byte", "{\"a\": \"\xff\"}", 7},
		{"overlong", "{\"a\": \"\xc0\xaf\"}", 7},
		{"surrogate", "{\"a\": \"\xed\xa0\x80\"}", 7},
		{"truncated rune at end", "\"\xe2\x9c", 1},
		{"bom", "\xef\xbb\xbf[1]", -1},
		{"bom then bad", "\xef\xbb\xbf[\"\xff\"]", 5},
	} {
		// Whole, and one byte at a time so that runes straddle reads.
		for _, split := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.in)
			if split {
				r = iotest.OneByteReader(r)
			}
			jr := NewReader(r, 0)
			out, err := io.ReadAll(jr)
			var ee *EncodingError
			switch {
			case tc.wantOff < 0 && err != nil:
				t.Errorf("%s (split %v): ReadAll = %v, want no error", tc.name, split, err)
			case tc.wantOff >= 0 && !errors.As(err, &ee):
				t.Errorf("%s (split %v): ReadAll = %v, want an EncodingError", tc.name, split, err)
			case tc.wantOff >= 0 && ee.Offset != tc.wantOff:
				t.Errorf("%s (split %v): offset %d, want %d", tc.name, split, ee.Offset, tc.wantOff)
			case tc.wantOff >= 0 && int64(len(out))+jr.bom > tc.wantOff+3:
				// At most the start of the bad rune reaches the caller.
				t.Errorf("%s (split %v): delivered %d bytes before the error, want at most %d", tc.name, split, len(out), tc.wantOff+3)
			}
			if tc.wantOff < 0 && string(out) != strings.TrimPrefix(tc.in, "\xef\xbb\xbf") {
				t.Errorf("%s (split %v): ReadAll = %q", tc.name, split, out)
			}
		}
	}
}

func TestReaderLimits(t *testing.T) {
	jr := NewReader(strings.NewReader(strings.Repeat("x", 100)), 10)
	_, err := io.ReadAll(jr)
	var le *LimitError
	if !errors.As(err, &le) || le.What != "record" || le.Limit != 10 {
		t.Errorf("record limit: %v", err)
	}
	// Mark moves the window: 3 records of 8 bytes fit a 10-byte limit.
	jr = NewReader(strings.NewReader(strings.Repeat("12345678", 3)), 10)
	buf := make([]byte, 8)
	for i := 0; i < 3; i++ {
		jr.Mark(int64(i * 8))
		if _, err := io.ReadFull(jr, buf); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	jr = NewReader(strings.NewReader(strings.Repeat(" ", MaxWhitespaceRun+10)), 1<<30)
	_, err = io.ReadAll(jr)
	if !errors.As(err, &le) || le.What != "whitespace run" {
		t.Errorf("whitespace limit: %v", err)
	}
}

func TestPeek(t *testing.T) {
	jr := NewReader(iotest.HalfReader(strings.NewReader("[1, 2, 3]")), 0)
	if got := string(jr.Peek(4)); got != "[1, " {
		t.Errorf("Peek(4) = %q", got)
	}
	if got := string(jr.Peek(100)); got != "[1, 2, 3]" {
		t.Errorf("Peek(100) = %q", got)
	}
	all, err := io.ReadAll(jr)
	if string(all) != "[1, 2, 3]" || err != nil {
		t.Errorf("ReadAll after Peek = %q, %v", all, err)
	}
}

func TestLineColAt(t *testing.T) {
	in := "ab\ncd\n\nef"
	for _, tc := range []struct {
		off       int64
		line, col int
	}{{0, 1, 1}, {1, 1, 2}, {3, 2, 1}, {4, 2, 2}, {6, 3, 1}, {8, 4, 2}} {
		line, col, ok := LineColAt(strings.NewReader(in), tc.off)
		if !ok || line != tc.line || col != tc.col {
			t.Errorf("LineColAt(%d) = %d:%d %v, want %d:%d", tc.off, line, col, ok, tc.line, tc.col)
		}
	}
	// A large input crosses the scan buffer.
	big := strings.Repeat("x\n", 100_000) + "yz"
	if line, col, ok := LineColAt(strings.NewReader(big), int64(len(big)-1)); !ok || line != 100_001 || col != 2 {
		t.Errorf("LineColAt(big) = %d:%d %v", line, col, ok)
	}
}

func TestStreamErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"missing comma", "[1,\n 2 3]", "f.json: record 2, line 2, column 4: malformed JSON"},
		{"not a list", `{"a": 1}`, "f.json: line 1, column 1: want a list, got an object"},
		{"empty", "", "f.json: empty input"},
		{"truncated", "[1, 2", "f.json: record 2, line 1, column 6: unexpected end of input (truncated file?)"},
		{"garbage after", "[1] [2]", "f.json: line 1, column 5: an array after the end of the JSON value"},
		{"bad start", "  ]", "f.json: line 1, column 3: want a list, got \"]\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStream("f.json", strings.NewReader(tc.in))
			err := func() error {
				if err := s.BeginArray("a list"); err != nil {
					return err
				}
				rec := 0
				for ; s.More(); rec++ {
					if _, _, err := s.Element(rec); err != nil {
						return err
					}
				}
				return s.EndArray(rec)
			}()
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.Code != probity.EINVALID || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestElementOffsets(t *testing.T) {
	in := "[\n  {\"a\": 1},\n  \"x\",  12 ,[3]\n]"
	s := NewStream("f", strings.NewReader(in))
	if err := s.BeginArray("list"); err != nil {
		t.Fatal(err)
	}
	for rec := 0; s.More(); rec++ {
		raw, start, err := s.Element(rec)
		if err != nil {
			t.Fatal(err)
		}
		if got := in[start : start+int64(len(raw))]; got != string(raw) {
			t.Errorf("record %d: bytes at start %d = %q, want %q", rec, start, got, raw)
		}
	}
}

func TestHasKey(t *testing.T) {
	head := []byte(`{"content": "the \"traj\" word", "traj" : []}`)
	if !HasKey(head, "traj") || HasKey(head, "word") || HasKey(head, "missing") {
		t.Errorf("HasKey wrong on %s", head)
	}
	if FirstByte([]byte("\xef\xbb\xbf \n[")) != '[' || FirstByte([]byte("  ")) != 0 {
		t.Errorf("FirstByte wrong")
	}
}

// FuzzStream compares the stream with encoding/json: an input that
// json.Unmarshal accepts as an array must yield the same elements at the
// right offsets, and one it rejects must fail with a positioned error.
func FuzzStream(f *testing.F) {
	f.Add([]byte(`[{"a": 1}, "x", [1, 2]]`))
	f.Add([]byte("\xef\xbb\xbf[\"\xe2\x9c\x93\"]"))
	f.Add([]byte(`[1, -2.5e3, true, null, "a\\\"b", {"k": [{}]}]`))
	f.Add([]byte(`[1 2]`))
	f.Add([]byte(`[1,]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The stream strips a UTF-8 byte-order mark; encoding/json does not.
		var want []json.RawMessage
		wantErr := json.Unmarshal(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), &want)
		if wantErr == nil && want == nil {
			return // "null"
		}
		s := NewStream("f", bytes.NewReader(data))
		var got []json.RawMessage
		err := func() error {
			if err := s.BeginArray("list"); err != nil {
				return err
			}
			rec := 0
			for ; s.More(); rec++ {
				raw, start, err := s.Element(rec)
				if err != nil {
					return err
				}
				body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
				bom := int64(len(data) - len(body))
				if start < bom || start-bom+int64(len(raw)) > int64(len(body)) || !bytes.Equal(body[start-bom:start-bom+int64(len(raw))], raw) {
					t.Fatalf("record %d at %d does not match the input", rec, start)
				}
				got = append(got, append(json.RawMessage(nil), raw...))
			}
			return s.EndArray(rec)
		}()
		if err != nil {
			var pe *probity.Error
			if !errors.As(err, &pe) || pe.File != "f" || pe.Code != probity.EINVALID {
				t.Fatalf("error %v is not an EINVALID *probity.Error", err)
			}
			if wantErr == nil && utf8.Valid(data) {
				t.Fatalf("stream rejects what encoding/json accepts: %v", err)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("stream accepts what encoding/json rejects (%v)", wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("%d elements, encoding/json has %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("element %d = %s, encoding/json has %s", i, got[i], want[i])
			}
		}
	})
}

// TestDecodeTypeErrors checks that Decode reports a wrong type at the bad
// value, skips that record, and carries on.
func TestDecodeTypeErrors(t *testing.T) {
	in := "[\n {\"a\": 1},\n {\"a\": \"x\"} ,\n  {\"a\": 3}, 4]"
	s := NewStream("f.json", strings.NewReader(in))
	if err := s.BeginArray("list"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for rec := 0; s.More(); rec++ {
		var v struct{ A int }
		from, skipped, err := s.Decode(rec, &v)
		switch {
		case err != nil && skipped:
			got = append(got, err.Error())
		case err != nil:
			t.Fatalf("record %d: %v", rec, err)
		default:
			got = append(got, fmt.Sprintf("a=%d at %d", v.A, s.Start(from)))
		}
	}
	want := []string{
		"a=1 at 3",
		"f.json: record 1, line 3, column 10: A: want a number, got string",
		"a=3 at 29",
		"f.json: record 3, line 4, column 13: want an object, got number",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode results differ (-want +got):\n%s", diff)
	}
	if err := s.EndArray(4); err != nil {
		t.Errorf("EndArray: %v", err)
	}
}
