// Package provenance extracts the values (atoms) an agent states or passes to
// tools and traces each back to the evidence the agent could see.
//
// # Atoms
//
// Extract scans text for numbers (with %, currency and k/M suffixes), money,
// dates ("2024-05-20", "May 20th", "20/05/2024", "tomorrow" given a clock),
// clock times, identifiers (#W2378156, ZFA04Y, HAT069, credit_card_9513926,
// long digit runs), emails, phone numbers, URLs, file paths, quoted strings
// and partial references ("card ending in 2478"). ExtractArgs walks a tool
// call's JSON arguments and uses key names to type the leaves (order_id is an
// id, amount is money). Every atom carries a normalised form (see Atom) so
// "#W2378156" and "W2378156", or "$1,234.50" and 1234.5, compare equal.
//
// # Classes
//
// For an atom an actor states at step i, the sources are what that actor
// could see before i: every input step (system, user, tool result,
// retrieval, return) and every message of another actor (a shared
// multi-agent history, as in Who&When). Once more than one agent calls
// tools (nested agents, as in OTLP traces), a tool result is seen only by
// the agent whose call it answers: a parent learns a sub-agent's findings
// through its return or its messages. The actor's own earlier outputs are
// not evidence; they only carry on the class they had. Each atom is classified, first match
// wins:
//
//  1. grounded: a visible value has the same normalised form or an alias
//     of it ("#W2378156" and the bare "2378156"; a user id and the local
//     part of a visible email). A full date also matches the same month and
//     day written without a year, when its year is within one of the clock's
//     (never another year's full date); a partial reference matches a
//     visible value that ends in its digits. A value a calculator tool
//     returned is derived rather than grounded.
//  2. carried: the same actor stated it before; a grounded or derived value
//     becomes derived, a near-miss or ungrounded one stays so ("repeats").
//  3. near-miss: a visible value of the same family is one edit away (one
//     character changed or two adjacent characters swapped; for values of
//     seven or more characters also one added or dropped). Only values
//     specific enough for that to signal a corrupted copy qualify: ids of 5+
//     characters, amounts of 3+, integers of 4+ digits, other numbers of 5+
//     characters, emails and phone numbers; dates never do (nearby dates are
//     normal). When one arithmetic step over the last AmbiguityWindow steps
//     also explains the value, the result says so in AlsoDerived: for short
//     integers that coincidence is common and detectors treat such
//     near-misses as weaker evidence.
//  4. derived, one step: a difference or sum of two operands, 2..9 (or a
//     visible count) times one, a visible percentage applied to one; a date
//     that is the clock's date or a recent visible date moved by a number of
//     days an input states ("30 days"), or by one day or one week when the
//     user or system spoke of "the day after", "next day", "week". Small
//     integers (counts, days) only multiply, percentages only scale, and
//     measures with units ("512GB") take no part, so "192 - 7" explains
//     nothing.
//  5. derived, broad: a sum of three or four operands, or a small multiple
//     of a sum of two; never for a whole amount stated in a message, which
//     such sums explain by coincidence.
//  6. ungrounded: none of the above. The nearest visible amount (within
//     50%) or date (within a month) is still given as Source.
//
// Operands are the distinct numbers in the last DerivedWindow steps (at most
// DerivedOperands of them, newest first) plus the supported numbers earlier
// in the same step, so the search is bounded by O(DerivedOperands²) per
// unexplained number. Limits, honestly: a value computed by a longer formula
// or from older operands is called ungrounded; a wrong value that happens to
// equal some sum of visible numbers is called derived; world knowledge
// (airport codes, a country's capital) is not a source; visibility across
// nested agents is approximated by actor names (another agent's message is
// visible to all, arithmetic operands are not scoped); a
// count ("3 t-shirts available") is a weak atom and never checked; a value is
// compared by value, not by what it is said about (a correct tracking number
// attributed to the wrong order is grounded).
//
// Analysis follows each value by Key through the trace (Occurrences,
// Consumers) and, for full dates, their year too (YearKey), which is what a
// cascade's blast radius is made of.
//
// # Cost
//
// Index keeps a hash map from normalised value to its first occurrences, so
// adding a step costs time linear in its length and classifying an atom
// costs one probe, plus, only for a value that is not grounded, about 40
// probes per character for near-misses (every one-edit variant) and the
// bounded derived search: the whole trace is analysed in time that grows
// with its size, not its square. Measured with
// `go test -run XXX -bench Analyze -benchmem ./provenance`.
//
// # Entry points
//
// Analyze runs over a whole trace, for detectors. A runtime guard that sees a
// conversation step by step feeds an Index with Add and asks ClassifyCall
// about a tool call before it runs.
package provenance

import (
	"github.com/probity/probity"
)

// Analysis is the provenance of every value in one trace. It is read-only
// once Analyze returns, so detectors may call Values, Occurrences, FirstSeen
// and Consumers concurrently (Index is not safe for that).
type Analysis struct {
	trace   *probity.Trace
	index   *Index
	results [][]Result
}

// Analyze computes the provenance of every value in t. It reads the trace
// once, in order; t.Clock, when set, resolves relative dates. Options
// (WithToolClasses) come after the clock, so WithClock overrides it.
func Analyze(t *probity.Trace, opts ...Option) *Analysis {
	x := NewIndex(append([]Option{WithClock(t.Clock)}, opts...)...)
	// The step count is known: size the per-step tables once instead of
	// growing them step by step.
	x.steps = make([]stepRec, 0, len(t.Steps))
	x.byPos = make(map[int]int, len(t.Steps))
	a := &Analysis{trace: t, index: x, results: make([][]Result, len(t.Steps))}
	for i := range t.Steps {
		a.results[i] = x.Add(t.Steps[i], i)
	}
	return a
}

// Values returns the classified atoms of step i (an index into
// Trace.Steps): those of agent outputs (assistant text, tool calls, final
// answers, handoffs). Input steps return nil. A nil Analysis has no values.
func (a *Analysis) Values(i int) []Result {
	if a == nil || i < 0 || i >= len(a.results) {
		return nil
	}
	return a.results[i]
}

// Occurrences returns the indexes in Trace.Steps of every step in which the
// value with the given key (Atom.Key) appears, inputs and outputs alike,
// ascending.
func (a *Analysis) Occurrences(key string) []int {
	if a == nil {
		return nil
	}
	return a.index.Occurrences(key)
}

// FirstSeen returns the index of the first step the value with key appears
// in, or -1.
func (a *Analysis) FirstSeen(key string) int {
	occ := a.Occurrences(key)
	if len(occ) == 0 {
		return -1
	}
	return occ[0]
}

// Consumers returns the steps after step i that carry the value with key:
// every later occurrence, in tool calls, messages and tool results alike.
// It is what a cascade's blast radius is made of.
func (a *Analysis) Consumers(key string, i int) []int {
	var out []int
	for _, s := range a.Occurrences(key) {
		if s > i {
			out = append(out, s)
		}
	}
	return out
}

// Index returns the index built over the whole trace, for questions the
// accessors above do not answer (Classify a hypothetical atom at the end of
// the run). It is nil for a nil Analysis.
func (a *Analysis) Index() *Index {
	if a == nil {
		return nil
	}
	return a.index
}
