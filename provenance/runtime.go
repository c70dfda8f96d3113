package provenance

import "github.com/probity/probity"

// rank orders classes from least to best supported.
var rank = map[Class]int{Ungrounded: 0, NearMiss: 1, Derived: 2, Grounded: 3}

// Weakest returns the least supported class among the results that count
// (Weak atoms such as small integers are skipped), or Grounded when none
// count: it answers provenance(x) for a value made of several atoms.
func Weakest(rs []Result) Class {
	w := Grounded
	for _, r := range rs {
		if r.Atom.Weak() {
			continue
		}
		if rank[r.Class] < rank[w] {
			w = r.Class
		}
	}
	return w
}

// AllGrounded reports whether every result that counts is grounded or
// derived: nothing in the value was invented or miscopied. It answers
// grounded(args) before a tool call runs.
func AllGrounded(rs []Result) bool {
	w := Weakest(rs)
	return w == Grounded || w == Derived
}

// Untrusted reports whether r's value first reached the agent through
// content nobody vouches for: a tool result or a retrieved document rather
// than the system prompt, the user or another agent. The source is the
// first visible occurrence, so a value a tool returned before the user
// repeated it still counts as from the tool.
func (r Result) Untrusted() bool {
	return r.Source != nil && (r.Source.Kind == probity.KindToolResult || r.Source.Kind == probity.KindRetrieval)
}

// AnyUntrusted reports whether some result that counts came from untrusted
// content (see Result.Untrusted): the value is tainted by what a tool or a
// document said.
func AnyUntrusted(rs []Result) bool {
	for _, r := range rs {
		if !r.Atom.Weak() && r.Untrusted() {
			return true
		}
	}
	return false
}
