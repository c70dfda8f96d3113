// Package cassette defines Probity's cassette: the versioned file format in
// which the recording proxy keeps every exchange of one agent run with a
// model API, and from which the replay server answers. The format is
// specified in ../CASSETTE.md; this package is its only reader and writer,
// so the specification and the code change together.
package cassette

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/probity/probity"
)

// FormatName is the value of the "format" field of every cassette.
const FormatName = "probity-cassette"

// Version is the cassette format version this package writes. Readers
// accept every version up to it; a newer file is refused with a clear
// error rather than half-read.
const Version = 1

// Cassette is the recording of one run: every exchange the agent had with
// the model API, in the order the requests arrived.
type Cassette struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Run     string    `json:"run"`
	Created time.Time `json:"created,omitzero"`
	// Upstream is the base URL the exchanges were forwarded to.
	Upstream     string        `json:"upstream,omitempty"`
	Interactions []Interaction `json:"interactions"`
}

// New returns an empty cassette for run.
func New(run, upstream string, created time.Time) *Cassette {
	return &Cassette{Format: FormatName, Version: Version, Run: run, Created: created.UTC(), Upstream: upstream,
		Interactions: []Interaction{}}
}

// Interaction is one request and what came of it.
type Interaction struct {
	// Seq is the 0-based position of the request in the run.
	Seq   int       `json:"seq"`
	Start time.Time `json:"start,omitzero"`
	// DurationMS is the time from request to the response's last byte;
	// FirstByteMS the time to its first byte.
	DurationMS  float64   `json:"duration_ms"`
	FirstByteMS float64   `json:"first_byte_ms,omitempty"`
	Request     Request   `json:"request"`
	Response    *Response `json:"response,omitempty"`
	// Error says what went wrong when the exchange did not complete
	// normally: upstream unreachable or timed out, the client went away
	// mid-stream, the body was cut short. Empty means it completed.
	Error string `json:"error,omitempty"`
	// Guard lists the decisions of the tool-call guard on this response.
	Guard []GuardDecision `json:"guard,omitempty"`
}

// GuardDecision records one tool call the guard looked at.
type GuardDecision struct {
	Tool    string `json:"tool"`
	CallID  string `json:"call_id,omitempty"`
	Allow   bool   `json:"allow"`
	Message string `json:"message,omitempty"`
}

// Request is what the agent sent, with secrets redacted.
type Request struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query,omitempty"`
	Header http.Header `json:"header,omitempty"`
	Body   Body        `json:"body"`
}

// Response is what the agent received, with secrets redacted.
type Response struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Body   Body        `json:"body"`
	// Stream is true for server-sent events, which replay sends event by
	// event.
	Stream bool `json:"stream,omitempty"`
}

// Body holds a message body. Text bodies are kept as text so a cassette can
// be read and diffed by people; anything else is base64. A body the upstream
// compressed is stored decoded, and DecodedFrom names the encoding removed
// (replay then serves it uncompressed, which every client accepts).
type Body struct {
	Text        string `json:"text,omitempty"`
	Base64      string `json:"base64,omitempty"`
	DecodedFrom string `json:"decoded_from,omitempty"`
	// Encoding names a content encoding the body is still in because it
	// could not be decoded (an unknown or broken encoding); replay then
	// serves the bytes with that Content-Encoding.
	Encoding string `json:"encoding,omitempty"`
	// Withheld, when set, says why the body's bytes were not stored: it
	// was in a content encoding the recorder could not decode, so
	// redaction could not look inside it. Replay sends an empty body.
	Withheld string `json:"withheld,omitempty"`
	// Truncated is true when the body was longer than the recorder keeps,
	// or was cut short on the wire.
	Truncated bool `json:"truncated,omitempty"`
	// Size is the full length of the body on the wire before truncation.
	Size int64 `json:"size,omitempty"`
}

// NewBody returns b as a Body: text when it is valid UTF-8 without NUL
// bytes, base64 otherwise.
func NewBody(b []byte) Body {
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return Body{Text: string(b)}
	}
	return Body{Base64: base64.StdEncoding.EncodeToString(b)}
}

// Bytes returns the body's bytes.
func (b Body) Bytes() ([]byte, error) {
	if b.Base64 != "" {
		return base64.StdEncoding.DecodeString(b.Base64)
	}
	return []byte(b.Text), nil
}

// Marshal encodes c as indented JSON followed by a newline.
func Marshal(c *Cassette) ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode cassette: %w", err)
	}
	return append(b, '\n'), nil
}

// Sniff reports whether head, the first bytes of a file, looks like a
// Probity cassette.
func Sniff(head []byte) bool {
	return bytes.Contains(head, []byte(`"format"`)) && bytes.Contains(head, []byte(FormatName))
}

// Read decodes a cassette from r. name is the file name used in errors. A
// malformed or unsupported file returns a *probity.Error with code EINVALID
// that names the file and the byte offset or the interaction at fault.
func Read(r io.Reader, name string) (*Cassette, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read cassette %s: %w", name, err)
	}
	return Decode(data, name)
}

// Decode is Read for bytes already in memory.
func Decode(data []byte, name string) (*Cassette, error) {
	var c Cassette
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, invalid(name, err)
	}
	if dec.More() {
		return nil, &probity.Error{Code: probity.EINVALID, File: name, Where: fmt.Sprintf("offset %d", dec.InputOffset()),
			Message: "unexpected data after the cassette"}
	}
	if err := checkHead(&c, name); err != nil {
		return nil, err
	}
	for i, in := range c.Interactions {
		if err := checkInteraction(in, i, name); err != nil {
			return nil, err
		}
	}
	if c.Interactions == nil {
		c.Interactions = []Interaction{}
	}
	return &c, nil
}

// checkHead refuses a document that is not a cassette this package reads.
func checkHead(c *Cassette, name string) error {
	if c.Format != FormatName {
		return &probity.Error{Code: probity.EINVALID, File: name,
			Message: fmt.Sprintf("not a Probity cassette (format %q, want %q)", c.Format, FormatName)}
	}
	if c.Version < 1 || c.Version > Version {
		return &probity.Error{Code: probity.EINVALID, File: name,
			Message: fmt.Sprintf("cassette version %d is not supported (this probity reads versions 1 to %d)", c.Version, Version)}
	}
	return nil
}

// checkInteraction refuses an interaction replay could not serve.
func checkInteraction(in Interaction, i int, name string) error {
	where := fmt.Sprintf("interaction %d", i)
	if in.Request.Method == "" || !strings.HasPrefix(in.Request.Path, "/") {
		return &probity.Error{Code: probity.EINVALID, File: name, Where: where,
			Message: "request needs a method and a path starting with /"}
	}
	bodies := []Body{in.Request.Body}
	if in.Response != nil {
		if in.Response.Status < 100 || in.Response.Status > 999 {
			return &probity.Error{Code: probity.EINVALID, File: name, Where: where,
				Message: fmt.Sprintf("response status %d is not an HTTP status", in.Response.Status)}
		}
		bodies = append(bodies, in.Response.Body)
	}
	for _, b := range bodies {
		if _, err := b.Bytes(); err != nil {
			return &probity.Error{Code: probity.EINVALID, File: name, Where: where, Message: "bad base64 body", Err: err}
		}
	}
	return nil
}

func invalid(name string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &probity.Error{Code: probity.EINVALID, File: name, Where: fmt.Sprintf("offset %d", se.Offset), Message: "malformed cassette", Err: err}
	case errors.As(err, &te):
		return &probity.Error{Code: probity.EINVALID, File: name, Where: fmt.Sprintf("offset %d", te.Offset),
			Message: fmt.Sprintf("field %s has the wrong type", te.Field)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &probity.Error{Code: probity.EINVALID, File: name, Message: "cassette is empty or cut short", Err: err}
	}
	return &probity.Error{Code: probity.EINVALID, File: name, Message: "malformed cassette", Err: err}
}

// EncodeInteraction encodes one interaction as it appears inside a
// cassette written by Marshal (indented at the depth of the interactions
// array), so a writer can keep interactions encoded on disk and stream a
// cassette out of them with WriteStream instead of holding a run in memory.
func EncodeInteraction(in Interaction) ([]byte, error) {
	b, err := json.MarshalIndent(in, "    ", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode interaction %d: %w", in.Seq, err)
	}
	return append([]byte("    "), b...), nil
}

// WriteStream writes the cassette head (whose Interactions are ignored)
// with n interactions, the i-th written by item as EncodeInteraction
// encoded it. The bytes are those Marshal writes for the whole cassette.
func WriteStream(w io.Writer, head *Cassette, n int, item func(i int, w io.Writer) error) error {
	h := *head
	h.Interactions = []Interaction{}
	b, err := json.MarshalIndent(&h, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cassette: %w", err)
	}
	const empty = "[]\n}"
	if !bytes.HasSuffix(b, []byte(empty)) {
		return fmt.Errorf("encode cassette: interactions are not the last field")
	}
	if n == 0 {
		_, err = w.Write(append(b, '\n'))
		return err
	}
	if _, err := w.Write(append(b[:len(b)-len(empty)], "[\n"...)); err != nil {
		return err
	}
	for i := range n {
		if i > 0 {
			if _, err := io.WriteString(w, ",\n"); err != nil {
				return err
			}
		}
		if err := item(i, w); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "\n  ]\n}\n")
	return err
}
