package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/probity/probity"
	"github.com/probity/probity/otlp"
	"github.com/probity/probity/store"
)

// Request size limits. An export larger than these is refused with 413;
// OTLP exporters send far smaller batches (the Go SDK's default is 512
// spans).
const (
	// MaxRequestBytes bounds a request body as sent (compressed or not).
	MaxRequestBytes = 16 << 20
	// MaxDecodedBytes bounds a request body after gzip.
	MaxDecodedBytes = 64 << 20
)

// spanOverhead is what one split span costs in memory beyond the request
// bytes it points into (its store.Span and the strings in it), counted
// against the ingest budget.
const spanOverhead = 256

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 4<<20 {
		bufPool.Put(b)
	}
}

// otlpError is an OTLP failure: its HTTP status comes from the error table;
// the body is a google.rpc.Status in the request's encoding.
func (s *Server) writeOTLPError(w http.ResponseWriter, isJSON bool, transport string, err error) {
	code := errorCode(err)
	s.m.requests.WithLabelValues(transport, outcome(code)).Inc()
	st := httpStatus(err)
	msg := err.Error()
	if st == http.StatusInternalServerError {
		s.log.Error("otlp export", "err", err)
		msg = "internal error"
	}
	if st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", fmt.Sprint(retryAfterSeconds))
	}
	body := &spb.Status{Code: int32(grpcCode(err)), Message: msg}
	s.writeOTLP(w, isJSON, st, body)
}

func (s *Server) writeOTLP(w http.ResponseWriter, isJSON bool, status int, m proto.Message) {
	var b []byte
	var err error
	if isJSON {
		w.Header().Set("Content-Type", "application/json")
		b, err = protojson.Marshal(m)
	} else {
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, err = proto.Marshal(m)
	}
	if err != nil {
		s.log.Error("encode otlp response", "err", err)
	}
	w.WriteHeader(status)
	w.Write(b)
}

func outcome(code string) string {
	switch code {
	case "":
		return "ok"
	case probity.EINVALID:
		return "invalid"
	case codeOverloaded:
		return "overloaded"
	case codeUnavailable:
		return "unavailable"
	case codeUnauthorized:
		return "unauthorized"
	case codeTooLarge:
		return "too_large"
	case codeUnsupported:
		return "unsupported"
	}
	return "error"
}

// handleOTLPHTTP is OTLP/HTTP's POST /v1/traces: protobuf or JSON,
// optionally gzip-compressed. It answers 200 only once every accepted span
// is durable; 400 for a payload it cannot decode, with the reason (200
// with partial_success when only some spans are bad); 429 with
// Retry-After when its ingest budget is spent; 503 when the store fails.
func (s *Server) handleOTLPHTTP(transport string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		isJSON := ct == "application/json"
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			s.writeOTLPError(w, isJSON, transport, &probity.Error{Code: probity.EINVALID, Message: "method " + r.Method + " not allowed: POST an ExportTraceServiceRequest"})
			return
		}
		if !isJSON && ct != "application/x-protobuf" && ct != "application/protobuf" {
			s.writeOTLPError(w, isJSON, transport, &probity.Error{Code: codeUnsupported, Message: fmt.Sprintf("content type %q: want application/x-protobuf or application/json", ct)})
			return
		}
		enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
		if enc != "" && enc != "identity" && enc != "gzip" {
			s.writeOTLPError(w, isJSON, transport, &probity.Error{Code: codeUnsupported, Message: fmt.Sprintf("content encoding %q: want gzip or none", enc)})
			return
		}
		if r.ContentLength > MaxRequestBytes {
			s.writeOTLPError(w, isJSON, transport, &probity.Error{Code: codeTooLarge, Message: fmt.Sprintf("request of %d bytes: at most %d", r.ContentLength, MaxRequestBytes)})
			return
		}
		// Take the budget before reading a byte: an overloaded server
		// refuses without buffering the request.
		held := r.ContentLength
		if held < 0 {
			held = 64 << 10 // chunked: a nominal share, adjusted once read
		}
		if !s.budget.take(held) {
			s.writeOTLPError(w, isJSON, transport, errOverloaded)
			return
		}
		// The budget and the buffers the spans point into are released
		// once the spans are written, which may be after this handler
		// returns (a client that hangs up does not cancel a queued write).
		raw := getBuf()
		body := raw
		owned := true
		release := func() {
			s.budget.give(held)
			if body != raw {
				putBuf(body)
			}
			putBuf(raw)
		}
		defer func() {
			if owned {
				release()
			}
		}()
		if r.ContentLength > 0 {
			raw.Grow(int(r.ContentLength) + bytes.MinRead) // no doubling past the size
		}
		if _, err := raw.ReadFrom(http.MaxBytesReader(w, r.Body, MaxRequestBytes)); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.writeOTLPError(w, isJSON, transport, &probity.Error{Code: codeTooLarge, Message: fmt.Sprintf("request over %d bytes", MaxRequestBytes)})
				return
			}
			s.writeOTLPError(w, isJSON, transport, &probity.Error{Code: probity.EINVALID, Message: "read request body", Err: err})
			return
		}
		if enc == "gzip" {
			body = getBuf()
			zr, err := gzip.NewReader(bytes.NewReader(raw.Bytes()))
			if err == nil {
				_, err = body.ReadFrom(io.LimitReader(zr, MaxDecodedBytes+1))
			}
			if err != nil {
				s.writeOTLPError(w, isJSON, transport, &probity.Error{Code: probity.EINVALID, Message: "bad gzip body", Err: err})
				return
			}
			if body.Len() > MaxDecodedBytes {
				s.writeOTLPError(w, isJSON, transport, &probity.Error{Code: codeTooLarge, Message: fmt.Sprintf("request over %d bytes after gzip", MaxDecodedBytes)})
				return
			}
		}
		need := int64(raw.Len())
		if body != raw {
			need += int64(body.Len())
		}
		if need > held {
			if !s.budget.grow(held, need-held) {
				s.writeOTLPError(w, isJSON, transport, errOverloaded)
				return
			}
			held = need
		}
		spans := make([]store.Span, 0, 64)
		emit := func(sp *otlp.Span) { spans = append(spans, toStore(sp)) }
		var split otlp.Split
		var err error
		if isJSON {
			split, err = otlp.SplitJSON(body.Bytes(), emit)
		} else {
			split, err = otlp.SplitProto(body.Bytes(), emit)
		}
		if err != nil {
			s.m.spansRejected.Add(float64(split.Rejected))
			s.writeOTLPError(w, isJSON, transport, &probity.Error{Code: probity.EINVALID, Message: "bad export request", Err: err})
			return
		}
		// The spans' own structs count too, until they are written.
		extra := int64(len(spans)) * spanOverhead
		if !s.budget.grow(held, extra) {
			s.writeOTLPError(w, isJSON, transport, errOverloaded)
			return
		}
		held += extra
		owned = false
		resp, err := s.accept(r.Context(), transport, spans, split, release)
		if err != nil {
			s.writeOTLPError(w, isJSON, transport, err)
			return
		}
		s.writeOTLP(w, isJSON, http.StatusOK, resp)
	})
}

// accept stores a split request's spans and builds the OTLP answer. A
// request whose every span was rejected is invalid as a whole.
// release is called once the spans no longer need the memory they point
// into.
func (s *Server) accept(ctx context.Context, transport string, spans []store.Span, split otlp.Split, release func()) (*coltrace.ExportTraceServiceResponse, error) {
	s.m.spansRejected.Add(float64(split.Rejected))
	if len(spans) == 0 {
		release()
		if split.Rejected > 0 {
			return nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("all %d spans rejected: %s", split.Rejected, split.Reason)}
		}
		s.m.requests.WithLabelValues(transport, "ok").Inc()
		return &coltrace.ExportTraceServiceResponse{}, nil
	}
	if err := s.ingest.submit(ctx, spans, release, s.stopping); err != nil {
		return nil, err
	}
	s.m.spansReceived.WithLabelValues(transport).Add(float64(len(spans)))
	resp := &coltrace.ExportTraceServiceResponse{}
	if split.Rejected > 0 {
		resp.PartialSuccess = &coltrace.ExportTracePartialSuccess{RejectedSpans: int64(split.Rejected), ErrorMessage: split.Reason}
		s.m.requests.WithLabelValues(transport, "partial").Inc()
	} else {
		s.m.requests.WithLabelValues(transport, "ok").Inc()
	}
	return resp, nil
}
