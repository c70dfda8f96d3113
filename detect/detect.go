// Package detect finds quiet failures in a trace: values nothing supports,
// claims the evidence contradicts, cascades and their blast radius, swallowed
// errors, unverified success, loops and injected instructions. It makes no
// LLM calls; every finding quotes its evidence.
package detect

import (
	"github.com/probity/probity"
	"github.com/probity/probity/provenance"
)

// Context is what a detector sees: one trace, its provenance (computed once
// and shared by all detectors) and the configuration.
type Context struct {
	Trace  *probity.Trace
	Prov   *provenance.Analysis
	Config *Config
}

// Detector is one check over a trace. ID is stable: users filter and
// suppress findings by it.
type Detector interface {
	ID() string
	Detect(c *Context) []probity.Finding
}

// Default returns every built-in detector in a stable order.
func Default() []Detector {
	return []Detector{
		UngroundedArgument{},
		ContradictedClaim{},
		Cascade{},
		SwallowedError{},
		UnverifiedSuccess{},
		Loop{},
		InjectedInstruction{},
	}
}
