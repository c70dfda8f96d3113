package detect

import "github.com/probity/probity"

// Loop is the loop detector (placeholder: not built yet).
type Loop struct{}

// ID returns "loop".
func (Loop) ID() string { return "loop" }

// Detect is not built yet and finds nothing.
func (Loop) Detect(*Context) []probity.Finding { return nil }
