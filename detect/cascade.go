package detect

import "github.com/probity/probity"

// Cascade is the cascade detector (placeholder: not built yet).
type Cascade struct{}

// ID returns "cascade".
func (Cascade) ID() string { return "cascade" }

// Detect is not built yet and finds nothing.
func (Cascade) Detect(*Context) []probity.Finding { return nil }
