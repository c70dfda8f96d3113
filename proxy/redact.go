package proxy

import (
	"bytes"
	"encoding/json"

	"github.com/probity/probity/internal/redact"
)

// Redacted replaces every secret the recorder removes.
const Redacted = redact.Redacted

// newRedactor returns the redactor of a proxy: opts.Redactor when the
// caller shares one with other writers (the guard's audit log), else one
// of its own.
func newRedactor(opts Options) *redact.Redactor {
	if opts.Redactor != nil {
		return opts.Redactor
	}
	return redact.New(opts.RedactHeaders, opts.RedactFields)
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
