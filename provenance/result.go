package provenance

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/probity/probity"
)

// Class is the provenance class of a value.
type Class string

// The classes, from best supported to least.
const (
	// Grounded: the value appears in something the actor could see.
	Grounded Class = "grounded"
	// Derived: the value is computed from visible values (a sum,
	// difference, product or percentage; a date offset), or a calculator
	// tool returned it, or the same actor derived it earlier.
	Derived Class = "derived"
	// NearMiss: nothing visible has the value, but a visible value is one
	// edit away (a changed, dropped, added or swapped character): the
	// signature of a corrupted copy.
	NearMiss Class = "near-miss"
	// Ungrounded: nothing visible supports the value.
	Ungrounded Class = "ungrounded"
)

// Source says where a value was found.
type Source struct {
	// Step is the index in Trace.Steps (or the pos given to Index.Add).
	Step int `json:"step"`
	// Pos is that step's source position.
	Pos probity.Position `json:"pos"`
	// Kind and Actor describe the step; Tool names the tool of a tool
	// result. Policies use Kind to tell trusted input (system, user) from
	// untrusted content (tool results, retrieved documents).
	Kind  probity.Kind `json:"kind"`
	Actor string       `json:"actor,omitempty"`
	Tool  string       `json:"tool,omitempty"`
	// Value is the matching value as written at the source.
	Value string `json:"value"`

	// text and [start, end) locate Value for Snippet, which is computed
	// only when asked for: most sources are never shown.
	text       string
	start, end int
	path       string
	fam        byte
	norm       string
}

// Key returns the matching value's Atom.Key, to follow it through the
// trace with Analysis.Occurrences; "" for a Source built by hand.
func (s *Source) Key() string {
	if s == nil || s.fam == 0 {
		return ""
	}
	return keyOf(s.fam, s.norm)
}

// Snippet quotes the source around Value on one line, at most about 100
// bytes; for a value from tool-call arguments it is "path: value".
func (s *Source) Snippet() string {
	if s == nil {
		return ""
	}
	if s.path != "" || s.end > len(s.text) || s.start > s.end {
		return strings.TrimPrefix(s.path+": ", ": ") + s.Value
	}
	return Excerpt(s.text, s.start, s.end)
}

// MarshalJSON includes the snippet.
func (s Source) MarshalJSON() ([]byte, error) {
	type plain Source
	return json.Marshal(struct {
		plain
		Snippet string `json:"snippet"`
	}{plain(s), s.Snippet()})
}

// Result is the provenance of one atom.
type Result struct {
	// Atom is the value.
	Atom Atom `json:"atom"`
	// Step is the index of the step the atom is in.
	Step int `json:"step"`
	// Class is how well the value is supported.
	Class Class `json:"class"`
	// Source is the supporting value for grounded and derived atoms, the
	// nearby value for near-misses, and the nearest value of the same kind,
	// if any, for ungrounded ones (nil when there is none).
	Source *Source `json:"source,omitempty"`
	// Note says the relation in words ("one digit changed: 2378165 vs
	// 2378156", "sum of 121 and 100").
	Note string `json:"note,omitempty"`
	// AlsoDerived is set on a near-miss that one arithmetic step over
	// visible values also explains, with that derivation in words: the
	// value is less certainly a corrupted copy.
	AlsoDerived string `json:"also_derived,omitempty"`
	// Origin is the step where this value (by Key) first appeared anywhere
	// in the trace; Origin == Step means this step introduced it.
	Origin int `json:"origin"`
}

// Excerpt quotes text[start:end] with about 40 bytes of context on each
// side, on one line, cut at rune boundaries, "…" marking a cut: how
// evidence quotes a source, in findings and in policy decisions alike.
func Excerpt(text string, start, end int) string {
	lo, hi := start-40, end+40
	if lo < 0 {
		lo = 0
	}
	if hi > len(text) {
		hi = len(text)
	}
	for lo > 0 && !utf8.RuneStart(text[lo]) {
		lo--
	}
	for hi < len(text) && !utf8.RuneStart(text[hi]) {
		hi++
	}
	s := strings.Join(strings.Fields(text[lo:hi]), " ")
	if lo > 0 {
		s = "…" + s
	}
	if hi < len(text) {
		s += "…"
	}
	return s
}
