// Package provenance extracts the values (atoms) an agent states or passes to
// tools and traces each back to the evidence the agent could see.
package provenance

import "github.com/probity/probity"

// Analysis is the provenance of every value in one trace.
type Analysis struct{}

// Analyze computes the provenance of every value in t.
func Analyze(t *probity.Trace) *Analysis { return &Analysis{} }
