package proxy

import (
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
