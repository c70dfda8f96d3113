package localize

import (
	"fmt"

	"github.com/probity/probity"
)

// bySiblings compares t with the passing runs among sibs, side-effecting
// calls only (read-only look-ups come in any order and wording differs
// from trial to trial): the failing run departs at the first call that no
// passing run makes at that point, after the longest prefix it shares with
// any of them. Arguments compare canonically (case, spacing, number form,
// list order), which is the normalisation that matters for calls.
func bySiblings(t *probity.Trace, sibs []*probity.Trace, tools Classifier) []scored {
	var passing [][]call
	for _, s := range sibs {
		if s == nil || s == t {
			continue
		}
		if _, ok := Outcome(s); ok {
			passing = append(passing, sideEffectCalls(s, tools))
		}
	}
	if len(passing) == 0 {
		return nil
	}
	got := sideEffectCalls(t, tools)
	best, bestRun := -1, 0
	for r, p := range passing {
		n := 0
		for n < len(got) && n < len(p) && got[n].key == p[n].key {
			n++
		}
		if n == len(got) && n == len(p) {
			return nil // the failing run did what a passing run did
		}
		if n > best {
			best, bestRun = n, r
		}
	}
	against := fmt.Sprintf("every passing sibling run (%d)", len(passing))
	d := departure{kind: "missing"}
	p := passing[bestRun]
	if best < len(got) {
		d.got, d.kind = &got[best], "extra"
		if best < len(p) {
			d.want, d.kind = &p[best], "wrong"
		}
	} else {
		d.want = &p[best]
	}
	return departureVotes(t, d, MethodSiblings, against)
}
