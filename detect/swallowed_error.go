package detect

import "github.com/probity/probity"

// SwallowedError is the swallowed-error detector (placeholder: not built yet).
type SwallowedError struct{}

// ID returns "swallowed-error".
func (SwallowedError) ID() string { return "swallowed-error" }

// Detect is not built yet and finds nothing.
func (SwallowedError) Detect(*Context) []probity.Finding { return nil }
