package probity

import (
	"errors"
	"fmt"
)

// Error codes. Each transport maps them once: the CLI to exit codes, HTTP to
// status codes.
const (
	EINVALID  = "invalid"   // bad input: malformed file, bad flag, bad policy
	ENOTFOUND = "not_found" // a file, trace or record that does not exist
	ECONFLICT = "conflict"  // a request that does not match the recording
	EINTERNAL = "internal"  // a bug or an unexpected failure
	ETIMEOUT  = "timeout"   // an operation ran out of time
)

// Error is Probity's error type. It says which input and where, so a user
// can find the bad byte.
type Error struct {
	// Code is one of the E* constants.
	Code string
	// File is the input file, when the error concerns one.
	File string
	// Where locates the problem inside File: "line 3", "offset 1024",
	// "record 17", "line 4, column 9".
	Where string
	// Message describes the problem for a person.
	Message string
	// Err is the underlying error, if any.
	Err error
}

// Error formats as "file: where: message: cause".
func (e *Error) Error() string {
	s := ""
	if e.File != "" {
		s = e.File + ": "
	}
	if e.Where != "" {
		s += e.Where + ": "
	}
	s += e.Message
	if e.Err != nil {
		if s != "" && e.Message != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// other non-nil errors and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
