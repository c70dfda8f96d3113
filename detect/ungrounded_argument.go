package detect

import "github.com/probity/probity"

// UngroundedArgument is the ungrounded-argument detector (placeholder: not built yet).
type UngroundedArgument struct{}

// ID returns "ungrounded-argument".
func (UngroundedArgument) ID() string { return "ungrounded-argument" }

// Detect is not built yet and finds nothing.
func (UngroundedArgument) Detect(*Context) []probity.Finding { return nil }
