package detect

import "github.com/probity/probity"

// InjectedInstruction is the injected-instruction detector (placeholder: not built yet).
type InjectedInstruction struct{}

// ID returns "injected-instruction".
func (InjectedInstruction) ID() string { return "injected-instruction" }

// Detect is not built yet and finds nothing.
func (InjectedInstruction) Detect(*Context) []probity.Finding { return nil }
