package detect

import "github.com/probity/probity"

// ContradictedClaim is the contradicted-claim detector (placeholder: not built yet).
type ContradictedClaim struct{}

// ID returns "contradicted-claim".
func (ContradictedClaim) ID() string { return "contradicted-claim" }

// Detect is not built yet and finds nothing.
func (ContradictedClaim) Detect(*Context) []probity.Finding { return nil }
