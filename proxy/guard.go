package proxy

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/probity/probity/internal/wire"
	"github.com/probity/probity/proxy/cassette"
)

// RefusalText is what the agent's model reads in place of a tool call the
// guard denied.
func RefusalText(tool, message string) string {
	if message == "" {
		message = "not allowed by policy"
	}
	return fmt.Sprintf("[probity guard] The call to tool %q was blocked: %s", tool, message)
}

// RefusedCode is the error code (the X-Probity-Error header and the
// error's type) of a response the guard refused because it could not read
// and check it.
const RefusedCode = "probity_guard_unchecked"

// guardedEncodings are the content encodings the guard decodes; the
// upstream is asked for these only, and a response in any other is
// refused.
const guardedEncodings = "gzip, deflate, br"

// guarded copies a 2xx response through the guard: tool calls are checked
// before the agent sees them, denied ones replaced by a refusal. A response
// the guard cannot fully read and check (an encoding it cannot decode, a
// body that is not the API's shape, a stream cut inside a call) is never
// passed on: the agent gets an error naming the reason, and the refusal
// goes to Options.Refused (the audit log).
func (p *Proxy) guarded(ctx context.Context, w http.ResponseWriter, resp *http.Response, body io.Reader, ex *exchange, a wire.API, rec *capBuffer) {
	g := &guardState{ctx: ctx, run: ex.run, guard: p.opts.Guard}
	decide := g.decide
	refuse := func(reason string) {
		ex.err = "guard refused the response: " + reason
		if p.opts.Refused != nil {
			p.opts.Refused(ctx, ex.run, reason)
		}
		p.log.Warn("guard refused a response it could not check", "run", ex.run, "reason", reason)
	}
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	plain, err := decodingReader(enc, body)
	if err != nil {
		reason := err.Error()
		refuse(reason)
		ex.status = http.StatusBadGateway
		writeError(w, http.StatusBadGateway, RefusedCode, "probity guard: the model's response could not be checked, so it was not passed on: "+reason)
		return
	}
	// The agent gets the decoded body: the guard may have rewritten it.
	resp.Header.Del("Content-Encoding")
	ex.respHeader.Del("Content-Encoding")
	if ex.stream {
		copyHeader(w.Header(), resp.Header)
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		n, err := g.stream(w, plain, a, rec, decide)
		ex.respSize = n
		ex.guard = g.decisions
		var ue *wire.UncheckedError
		switch {
		case errors.As(err, &ue):
			refuse(ue.Reason)
		case err != nil:
			ex.err = describeCopyError(err, ctx, n)
		}
		return
	}
	raw, err := io.ReadAll(plain)
	if err != nil {
		var ce *codingError
		if errors.As(err, &ce) {
			refuse(ce.Error())
			ex.status = http.StatusBadGateway
			writeError(w, http.StatusBadGateway, RefusedCode, "probity guard: the model's response could not be checked, so it was not passed on: "+ce.Error())
			return
		}
		ex.err = describeCopyError(err, ctx, int64(len(raw)))
		writeError(w, http.StatusBadGateway, "probity_upstream_body", "probity proxy: the upstream response was cut short")
		ex.status = http.StatusBadGateway
		return
	}
	out, _, err := wire.FilterBody(a, raw, decide)
	ex.guard = g.decisions
	if err != nil {
		refuse(err.Error())
		ex.status = http.StatusBadGateway
		if rec != nil {
			rec.Write(raw) // the recording keeps what the upstream said
		}
		writeError(w, http.StatusBadGateway, RefusedCode, "probity guard: the model's response could not be checked, so it was not passed on: "+err.Error())
		return
	}
	copyHeader(w.Header(), resp.Header)
	w.Header().Del("Content-Length")
	w.WriteHeader(resp.StatusCode)
	if rec != nil {
		rec.Write(out)
	}
	n, werr := w.Write(out)
	ex.respSize = int64(n)
	if werr != nil {
		ex.err = describeCopyError(&writeErr{werr}, ctx, int64(n))
	}
}

// codingError is a failure to decode a content encoding.
type codingError struct {
	enc string
	err error
}

func (e *codingError) Error() string {
	return fmt.Sprintf("the %s-encoded body does not decode: %v", e.enc, e.err)
}

// decodingReader returns body decoded from enc as it is read. An encoding
// the guard cannot decode is an error, not a pass-through.
func decodingReader(enc string, body io.Reader) (io.Reader, error) {
	src := &sourceReader{r: body}
	var zr io.Reader
	var err error
	switch enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err = gzip.NewReader(bufio.NewReader(src))
	case "deflate":
		// RFC 9110's deflate is zlib; some servers send raw deflate.
		br := bufio.NewReader(src)
		if h, perr := br.Peek(2); perr == nil && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
			zr, err = zlib.NewReader(br)
		} else {
			zr = flate.NewReader(br)
		}
	case "br":
		zr = brotli.NewReader(src)
	default:
		return nil, fmt.Errorf("content encoding %q cannot be decoded by the guard", enc)
	}
	if err != nil {
		if src.err != nil {
			return nil, fmt.Errorf("the %s-encoded body could not be read: %v", enc, src.err)
		}
		return nil, &codingError{enc, err}
	}
	return &codingReader{r: zr, src: src, enc: enc}, nil
}

// sourceReader remembers the error of the encoded body's reader, so a
// decoder's failure is told apart from the connection's.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// codingReader marks decoding failures (corrupt or truncated data that
// arrived in full) as *codingError; a failing connection under the decoder
// is reported as it is.
type codingReader struct {
	r   io.Reader
	src *sourceReader
	enc string
}

func (c *codingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF && c.src.err == nil {
		err = &codingError{c.enc, err}
	}
	return n, err
}

type guardState struct {
	ctx       context.Context
	run       string
	guard     GuardFunc
	decisions []cassette.GuardDecision
}

// decide asks the guard about one call and records the decision.
func (g *guardState) decide(c wire.Call) (bool, string) {
	tc := c.ToolCall()
	allow, msg := g.guard(g.ctx, g.run, tc)
	g.decisions = append(g.decisions, cassette.GuardDecision{Tool: c.Name, CallID: c.ID, Allow: allow, Message: msg})
	if allow {
		return true, ""
	}
	return false, RefusalText(c.Name, msg)
}

// stream copies an event stream through the guard's filter. When the
// filter cannot check an event, the stream ends there with an error event
// and nothing the filter holds is sent.
func (g *guardState) stream(w http.ResponseWriter, body io.Reader, a wire.API, rec *capBuffer, decide wire.Decide) (int64, error) {
	rc := http.NewResponseController(w)
	var n int64
	emit := func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		if rec != nil {
			rec.Write(b)
		}
		k, err := w.Write(b)
		n += int64(k)
		if err != nil {
			return &writeErr{err}
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return &writeErr{err}
		}
		return nil
	}
	emitAll := func(bs [][]byte) error {
		for _, b := range bs {
			if err := emit(b); err != nil {
				return err
			}
		}
		return nil
	}
	fail := func(err error) (int64, error) {
		msg := "probity guard: the model's response could not be checked, so the rest of it was not passed on: " + err.Error()
		emit(wire.ErrorEvent(a, RefusedCode, msg))
		return n, err
	}
	f := wire.NewStreamFilter(a, decide)
	br := bufio.NewReaderSize(body, 64<<10)
	for {
		raw, err := wire.ReadEvent(br)
		if len(raw) > 0 && (err == nil || err == io.EOF) {
			out, ferr := f.Event(raw)
			if ferr != nil {
				return fail(ferr)
			}
			if werr := emitAll(out); werr != nil {
				return n, werr
			}
		}
		var ce *codingError
		switch {
		case err == io.EOF:
			out, ferr := f.End()
			if ferr != nil {
				return fail(ferr)
			}
			return n, emitAll(out)
		case errors.Is(err, wire.ErrEventTooLarge):
			return fail(&wire.UncheckedError{Reason: err.Error()})
		case errors.As(err, &ce):
			return fail(&wire.UncheckedError{Reason: ce.Error()})
		case err != nil:
			// Cut off: what the filter holds is an incomplete call that
			// was never checked, so it is dropped, not released.
			if _, ferr := f.End(); ferr != nil {
				emit(wire.ErrorEvent(a, "probity_upstream_body", "probity proxy: the upstream stream was cut inside a tool call"))
			}
			return n, err
		}
	}
}
