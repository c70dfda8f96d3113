package detect

import (
	"sort"

	"github.com/probity/probity"
)

// resultIndex answers probity.Trace.ResultFor in logarithmic time. The
// trace method scans forward from the call, which is fine once but makes a
// detector that asks for every call quadratic, and a hostile trace of many
// unanswered calls would then stall analysis.
type resultIndex struct {
	byID       map[string][]int // results with a call id, by id
	byNameNoID map[string][]int // results without a call id, by tool name ("" included)
	byName     map[string][]int // all results, by tool name
}

func newResultIndex(t *probity.Trace) *resultIndex {
	x := &resultIndex{byID: map[string][]int{}, byNameNoID: map[string][]int{}, byName: map[string][]int{}}
	for j := range t.Steps {
		s := &t.Steps[j]
		if s.Kind != probity.KindToolResult || s.Tool == nil {
			continue
		}
		if s.Tool.ID != "" {
			x.byID[s.Tool.ID] = append(x.byID[s.Tool.ID], j)
		} else {
			x.byNameNoID[s.Tool.Name] = append(x.byNameNoID[s.Tool.Name], j)
		}
		x.byName[s.Tool.Name] = append(x.byName[s.Tool.Name], j)
	}
	return x
}

// after returns the first index in the sorted list xs greater than i, or -1.
func after(xs []int, i int) int {
	k := sort.SearchInts(xs, i+1)
	if k < len(xs) {
		return xs[k]
	}
	return -1
}

// earliest returns the smallest non-negative of its arguments, or -1.
func earliest(js ...int) int {
	best := -1
	for _, j := range js {
		if j >= 0 && (best < 0 || j < best) {
			best = j
		}
	}
	return best
}

// resultFor is probity.Trace.ResultFor: the result answering the call at
// step i, matched by call id, else by tool name; -1 when none.
func (c *Context) resultFor(i int) int {
	call := c.Trace.Steps[i].Tool
	if call == nil {
		return -1
	}
	if c.results == nil {
		c.results = newResultIndex(c.Trace)
	}
	x := c.results
	if call.ID != "" {
		// A result with an id answers only its own call; one without an
		// id answers by name, as in the trace method.
		return earliest(after(x.byID[call.ID], i), after(x.byNameNoID[call.Name], i), after(x.byNameNoID[""], i))
	}
	return earliest(after(x.byName[call.Name], i), after(x.byName[""], i))
}
