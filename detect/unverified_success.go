package detect

import "github.com/probity/probity"

// UnverifiedSuccess is the unverified-success detector (placeholder: not built yet).
type UnverifiedSuccess struct{}

// ID returns "unverified-success".
func (UnverifiedSuccess) ID() string { return "unverified-success" }

// Detect is not built yet and finds nothing.
func (UnverifiedSuccess) Detect(*Context) []probity.Finding { return nil }
