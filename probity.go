// Package probity holds the domain model of Probity: reliability engineering
// for LLM agents.
//
// A Trace is one run of an agentic workflow, read from whatever log the agent
// left behind; a Step is one thing that happened in it. Importers (one package
// per foreign format) turn logs into Traces, detectors turn Traces into
// Findings, and reports, stores and servers consume Findings. Everything in
// this package is plain data with no dependencies beyond the standard library,
// so an agent written in Go can import it without pulling in the toolkit.
//
// Data flows one way:
//
//	formats → Trace → provenance → detectors/policies → Findings → reports, store, UI
//
// A package lower in that flow never imports one above it.
package probity
