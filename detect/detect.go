// Package detect finds quiet failures in a trace: values nothing supports,
// claims the evidence contradicts, cascades and their blast radius, swallowed
// errors, unverified success, loops and injected instructions. It makes no
// LLM calls; every finding quotes its evidence.
//
// Run is the entry point: it computes the trace's provenance once, runs every
// detector over it, and sums the findings up into a Report with a verdict and
// the root-cause step.
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

	// failures memoises failure(i): several detectors ask about the same
	// results, and reading a long command output is the costly part.
	failures []failureMemo
	// results indexes tool results by call id and name (see resultFor).
	results *resultIndex
	// classes memoises Config.Class per tool name: every detector asks
	// about every call, and classifying splits the name into words.
	classes map[string]ToolClass
	// noOps memoises Config.NoOp per tool name, for the same reason.
	noOps map[string]bool
}

type failureMemo struct {
	done, ok bool
	f        failure
}

// failure reports whether step i is a result that signals failure, reading
// each step once per trace.
func (c *Context) failure(i int) (failure, bool) {
	if c.failures == nil {
		c.failures = make([]failureMemo, len(c.Trace.Steps))
	}
	m := &c.failures[i]
	if !m.done {
		m.f, m.ok = failureOf(&c.Trace.Steps[i])
		m.done = true
	}
	return m.f, m.ok
}

// failed reports whether step i is a failed result.
func (c *Context) failed(i int) bool {
	_, ok := c.failure(i)
	return ok
}

// Detector is one check over a trace. ID is stable: users filter and
// suppress findings by it. Detect must not modify the trace and must return
// findings whose StepIndex indexes c.Trace.Steps and whose Step is that
// step's Pos.Index.
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

// SideEffecting reports whether the tool named is known to have side
// effects under the context's configuration (see Config.SideEffecting).
func (c *Context) SideEffecting(tool string) bool { return c.class(tool) == ClassSideEffect }

// class is the detectors' class of tool (toolclass.Config.VerbClass),
// computed once per tool name and trace.
func (c *Context) class(tool string) ToolClass {
	if cl, ok := c.classes[tool]; ok {
		return cl
	}
	if c.classes == nil {
		c.classes = make(map[string]ToolClass)
	}
	cl := c.Config.Classes().VerbClass(tool)
	c.classes[tool] = cl
	return cl
}

// noOp reports whether tool is a scratchpad (think, plan, reflect) under
// the context's configuration (toolclass.Config.NoOp): calling it records
// the agent's own words and changes nothing.
func (c *Context) noOp(tool string) bool {
	if v, ok := c.noOps[tool]; ok {
		return v
	}
	if c.noOps == nil {
		c.noOps = make(map[string]bool)
	}
	v := c.Config.Classes().NoOp(tool)
	c.noOps[tool] = v
	return v
}

// finding fills the position fields of a finding for step i of c.Trace, so
// Step and StepIndex never disagree.
func (c *Context) finding(i int, f probity.Finding) probity.Finding {
	f.StepIndex = i
	f.Step = c.Trace.Steps[i].Pos.Index
	if f.Evidence == nil {
		f.Evidence = []probity.Evidence{}
	}
	if f.BlastRadius == nil {
		f.BlastRadius = []int{}
	}
	return f
}
