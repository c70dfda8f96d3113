package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"

	"github.com/probity/probity"
)

// More server-side codes (see ingest.go for the retryable ones).
const (
	codeTooLarge    = "too_large"   // a request over the size limit
	codeUnsupported = "unsupported" // a content type or encoding the server does not read
)

// statusOf maps error codes to HTTP statuses: the one place it happens
// for HTTP. A code not listed (a plain error) is internal.
var statusOf = map[string]int{
	probity.EINVALID:  http.StatusBadRequest,
	probity.ENOTFOUND: http.StatusNotFound,
	probity.ECONFLICT: http.StatusConflict,
	probity.ETIMEOUT:  http.StatusGatewayTimeout,
	probity.EINTERNAL: http.StatusInternalServerError,
	codeOverloaded:    http.StatusTooManyRequests,
	codeUnavailable:   http.StatusServiceUnavailable,
	codeUnauthorized:  http.StatusUnauthorized,
	codeForbidden:     http.StatusForbidden,
	codeTooLarge:      http.StatusRequestEntityTooLarge,
	codeUnsupported:   http.StatusUnsupportedMediaType,
}

// grpcCodeOf maps error codes to gRPC codes: the one place it happens for
// gRPC. RESOURCE_EXHAUSTED and UNAVAILABLE are the ones OTLP exporters
// retry.
var grpcCodeOf = map[string]codes.Code{
	probity.EINVALID:  codes.InvalidArgument,
	probity.ENOTFOUND: codes.NotFound,
	probity.ECONFLICT: codes.Aborted,
	probity.ETIMEOUT:  codes.DeadlineExceeded,
	probity.EINTERNAL: codes.Internal,
	codeOverloaded:    codes.ResourceExhausted,
	codeUnavailable:   codes.Unavailable,
	codeUnauthorized:  codes.Unauthenticated,
	codeForbidden:     codes.PermissionDenied,
	codeTooLarge:      codes.ResourceExhausted,
	codeUnsupported:   codes.Unimplemented,
}

// errorCode is probity.ErrorCode, except that a cancelled or timed-out
// request is unavailable (the client may retry) rather than internal.
func errorCode(err error) string {
	var pe *probity.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return codeUnavailable
	}
	return probity.ErrorCode(err)
}

func httpStatus(err error) int {
	if st, ok := statusOf[errorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

func grpcCode(err error) codes.Code {
	if c, ok := grpcCodeOf[errorCode(err)]; ok {
		return c
	}
	return codes.Internal
}

// retryAfterSeconds is the delay a client is told to wait when the server
// is overloaded or its store failed.
const retryAfterSeconds = 1

// errorBody is the API's error shape.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers an API request with err as JSON.
func writeError(w http.ResponseWriter, err error) {
	var b errorBody
	b.Error.Code = errorCode(err)
	b.Error.Message = err.Error()
	st := httpStatus(err)
	if st == http.StatusInternalServerError {
		// internal details stay in the log
		b.Error.Message = "internal error"
	}
	if st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, st, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
