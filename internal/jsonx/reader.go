// Package jsonx holds the streaming-JSON plumbing every importer shares: a
// guarded reader that keeps hostile input (endless devices, invalid UTF-8,
// oversized records) from hanging or exhausting memory, a Stream that walks a
// top-level array element by element, and errors that name the file and the
// exact line and column of the bad byte.
//
// Importers stop foreign formats at the boundary; this package only knows
// JSON, never a format.
package jsonx

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Default limits. A record is one element of a top-level array, one JSON
// Lines line, or a whole single-object file.
const (
	// DefaultMaxRecordBytes caps the size of a single record. The largest
	// real record we know (a SWE-agent trajectory) is a few MiB.
	DefaultMaxRecordBytes = 256 << 20
	// MaxWhitespaceRun caps a run of whitespace: no real file has a MiB of
	// consecutive blanks, but an endless stream of them would otherwise be
	// buffered by encoding/json forever.
	MaxWhitespaceRun = 1 << 20
)

// LimitError reports that input exceeded a limit. Offset is where in the
// input the limit was crossed.
type LimitError struct {
	What   string // "record", "whitespace run"
	Limit  int64
	Offset int64
}

// Error says which limit was crossed.
func (e *LimitError) Error() string {
	if e.What == "record" {
		return fmt.Sprintf("record larger than the limit of %d bytes", e.Limit)
	}
	return fmt.Sprintf("%s longer than %d bytes", e.What, e.Limit)
}

// EncodingError reports bytes that are not UTF-8. RFC 8259 requires JSON
// exchanged between systems to be UTF-8; encoding/json would silently turn
// them into U+FFFD and so hide corruption.
type EncodingError struct{ Offset int64 }

// Error describes the problem; the offset goes into the position.
func (e *EncodingError) Error() string { return "invalid UTF-8" }

// Reader guards an input stream. It counts bytes, strips a leading UTF-8
// byte-order mark, rejects invalid UTF-8 and endless whitespace, and fails
// once the current record grows beyond MaxRecordBytes. When the underlying
// reader is an io.ReaderAt (an *os.File positioned at its start), errors can
// be translated to line and column by re-reading, at no cost on the good path.
type Reader struct {
	r       io.Reader
	at      io.ReaderAt
	max     int64
	n       int64 // bytes delivered to the caller (after the BOM)
	bom     int64 // 3 when a BOM was stripped: file offsets are n+bom
	mark    int64 // offset where the current record began
	wsRun   int64
	started bool
	carry   [utf8.UTFMax]byte // incomplete rune at the end of the last chunk
	ncarry  int
	err     error
	peeked  []byte // read ahead by Peek, not yet returned by Read
}

// NewReader wraps r. maxRecord <= 0 means DefaultMaxRecordBytes. If r is
// already a *Reader it is returned unchanged, so an importer can call
// NewReader on whatever ingest handed it and keep ingest's limits.
func NewReader(r io.Reader, maxRecord int64) *Reader {
	if jr, ok := r.(*Reader); ok {
		return jr
	}
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecordBytes
	}
	jr := &Reader{r: r, max: maxRecord}
	if at, ok := r.(io.ReaderAt); ok {
		jr.at = at
	}
	return jr
}

// MaxRecordBytes returns the record limit in force.
func (r *Reader) MaxRecordBytes() int64 { return r.max }

// Offset returns the number of bytes read so far (file offset, BOM included).
func (r *Reader) Offset() int64 { return r.n + r.bom }

// Mark starts a new record at offset off (in the caller's coordinates, as
// returned by json.Decoder.InputOffset): the record limit counts from here.
func (r *Reader) Mark(off int64) { r.mark = off }

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if len(r.peeked) > 0 {
		n := copy(p, r.peeked)
		r.peeked = r.peeked[n:]
		return n, nil
	}
	return r.pull(p)
}

// Peek returns up to n bytes ahead without consuming them (fewer at the end
// of input or before an error), so an importer can choose how to parse a
// file without losing the ability to re-read it for positions. The bytes
// have passed the same checks as Read's.
func (r *Reader) Peek(n int) []byte {
	for len(r.peeked) < n {
		buf := make([]byte, n-len(r.peeked))
		k, err := r.pull(buf)
		r.peeked = append(r.peeked, buf[:k]...)
		if err != nil {
			break
		}
	}
	return r.peeked[:min(n, len(r.peeked))]
}

// pull reads from the underlying reader, applying the checks.
func (r *Reader) pull(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Never hand out more than the record allows, plus one byte so that
	// crossing the limit is detected.
	if room := r.mark + r.max + 1 - r.n; room < int64(len(p)) {
		if room <= 0 {
			r.err = &LimitError{What: "record", Limit: r.max, Offset: r.mark + r.max + r.bom}
			return 0, r.err
		}
		p = p[:room]
	}
	var n int
	var err error
	if !r.started && len(p) >= 3 {
		// Read at least 3 bytes first so a BOM is seen whole.
		n, err = io.ReadAtLeast(r.r, p, 3)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
	} else {
		n, err = r.r.Read(p)
	}
	if n > 0 && !r.started {
		r.started = true
		// Strip a BOM; it may arrive split only on absurd readers, ignore that.
		if n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF {
			copy(p, p[3:n])
			n -= 3
			r.bom = 3
		}
	}
	if n > 0 {
		if verr := r.check(p[:n]); verr != nil {
			// Deliver the good bytes before the bad one first, so the
			// decoder is inside the right record when it meets the error.
			r.err = verr
			good := 0
			var ee *EncodingError
			if errors.As(verr, &ee) {
				good = max(0, min(n, int(ee.Offset-r.bom-r.n)))
			}
			r.n += int64(good)
			if good == 0 {
				return 0, verr
			}
			return good, nil
		}
		r.n += int64(n)
		if r.n-r.mark > r.max {
			r.err = &LimitError{What: "record", Limit: r.max, Offset: r.mark + r.max + r.bom}
			return 0, r.err
		}
	}
	if err == io.EOF && r.ncarry > 0 {
		r.err = &EncodingError{Offset: r.n + r.bom - int64(r.ncarry)}
		return n, r.err
	}
	return n, err
}

// check validates UTF-8 and whitespace runs in the chunk b that starts at
// offset r.n.
func (r *Reader) check(b []byte) error {
	// Whitespace: only the run reaching into the next chunk matters; a
	// long run inside one chunk is bounded by the record limit anyway.
	last := len(b) - 1
	for last >= 0 && isSpace(b[last]) {
		last--
	}
	if last < 0 {
		r.wsRun += int64(len(b))
		if r.wsRun > MaxWhitespaceRun {
			return &LimitError{What: "whitespace run", Limit: MaxWhitespaceRun, Offset: r.n + r.bom}
		}
	} else {
		r.wsRun = int64(len(b) - 1 - last)
	}

	// UTF-8, carrying an incomplete rune across chunk boundaries.
	start := 0
	if r.ncarry > 0 {
		need := 0
		for i := 0; i < len(b) && r.ncarry+i < utf8.UTFMax; i++ {
			r.carry[r.ncarry+i] = b[i]
			if utf8.FullRune(r.carry[:r.ncarry+i+1]) {
				need = i + 1
				break
			}
		}
		if need == 0 {
			if r.ncarry+len(b) < utf8.UTFMax {
				r.ncarry += len(b)
				return nil
			}
			return &EncodingError{Offset: r.n + r.bom - int64(r.ncarry)}
		}
		if ru, _ := utf8.DecodeRune(r.carry[:r.ncarry+need]); ru == utf8.RuneError {
			return &EncodingError{Offset: r.n + r.bom - int64(r.ncarry)}
		}
		start = need
		r.ncarry = 0
	}
	rest := b[start:]
	if utf8.Valid(rest) {
		return nil
	}
	// Find the first bad rune; a truncated rune at the very end is carried.
	for i := 0; i < len(rest); {
		c := rest[i]
		if c < utf8.RuneSelf {
			i++
			continue
		}
		if !utf8.FullRune(rest[i:]) {
			if len(rest)-i < utf8.UTFMax && validPrefix(rest[i:]) {
				r.ncarry = copy(r.carry[:], rest[i:])
				return nil
			}
			return &EncodingError{Offset: r.n + r.bom + int64(start+i)}
		}
		ru, size := utf8.DecodeRune(rest[i:])
		if ru == utf8.RuneError && size <= 1 {
			return &EncodingError{Offset: r.n + r.bom + int64(start+i)}
		}
		i += size
	}
	return nil
}

// validPrefix reports whether b could begin a valid multi-byte rune.
func validPrefix(b []byte) bool {
	c := b[0]
	if c < 0xC2 || c > 0xF4 {
		return false
	}
	for _, x := range b[1:] {
		if x&0xC0 != 0x80 {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// LineCol translates a file offset into a 1-based line and column (in
// bytes) by re-reading the input, which is only possible when it is an
// io.ReaderAt. ok is false otherwise.
func (r *Reader) LineCol(off int64) (line, col int, ok bool) {
	if r.at == nil || off < 0 {
		return 0, 0, false
	}
	return LineColAt(r.at, off)
}

// ReaderAt returns the re-readable input under r, when there is one.
func (r *Reader) ReaderAt() (io.ReaderAt, bool) { return r.at, r.at != nil }

// LineColAt scans ra up to off and returns the 1-based line and column of
// the byte at off.
func LineColAt(ra io.ReaderAt, off int64) (line, col int, ok bool) {
	if ra == nil || off < 0 {
		return 0, 0, false
	}
	buf := make([]byte, 64<<10)
	line, lineStart := 1, int64(0)
	for pos := int64(0); pos < off; {
		n, err := ra.ReadAt(buf[:min(int64(len(buf)), off-pos)], pos)
		for i := 0; i < n; i++ {
			if buf[i] == '\n' {
				line++
				lineStart = pos + int64(i) + 1
			}
		}
		pos += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) && n > 0 {
				continue
			}
			if pos < off {
				return 0, 0, false
			}
		}
	}
	return line, int(off-lineStart) + 1, true
}
