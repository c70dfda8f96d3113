package blindinject

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/probity/probity"
)

// CheckTrace reports the first way t is not a well-formed trace: positions
// out of order or with gaps, parts not increasing within a record, a record
// with two actors, unknown kinds, tool steps without a tool, arguments that
// are not JSON, a result whose call id answers no earlier call of the same
// tool, a call with an id that no result answers. Real importers produce
// traces that pass; a planted trace must pass too.
func CheckTrace(t *probity.Trace) error {
	if len(t.Steps) == 0 {
		return fmt.Errorf("trace %s has no steps", t.ID)
	}
	callName := map[string]string{} // latest call id → tool
	answered := map[string]bool{}
	pending := map[string]int{} // tool → calls without id waiting for a result
	for i, s := range t.Steps {
		where := fmt.Sprintf("trace %s step %d (position %d.%d)", t.ID, i, s.Pos.Index, s.Pos.Part)
		if !s.Kind.Valid() {
			return fmt.Errorf("%s: unknown kind %q", where, s.Kind)
		}
		if i > 0 {
			prev := t.Steps[i-1]
			switch {
			case s.Pos.Index == prev.Pos.Index:
				if s.Pos.Part <= prev.Pos.Part {
					return fmt.Errorf("%s: part %d does not follow part %d", where, s.Pos.Part, prev.Pos.Part)
				}
				if s.Actor != prev.Actor {
					return fmt.Errorf("%s: one record with two actors (%q, %q)", where, prev.Actor, s.Actor)
				}
			case s.Pos.Index != prev.Pos.Index+1 && prev.Pos.Index >= 0:
				return fmt.Errorf("%s: position %d follows %d", where, s.Pos.Index, prev.Pos.Index)
			}
		}
		switch s.Kind {
		case probity.KindToolCall:
			if s.Tool == nil || s.Tool.Name == "" {
				return fmt.Errorf("%s: tool call without a tool", where)
			}
			if len(s.Tool.Args) > 0 && !json.Valid(s.Tool.Args) {
				return fmt.Errorf("%s: arguments are not JSON: %.80s", where, s.Tool.Args)
			}
			if s.Tool.ID != "" {
				if callName[s.Tool.ID] != "" && !answered[s.Tool.ID] {
					return fmt.Errorf("%s: call id %s reused before its result", where, s.Tool.ID)
				}
				callName[s.Tool.ID] = s.Tool.Name
				answered[s.Tool.ID] = false
			} else {
				pending[s.Tool.Name]++
			}
		case probity.KindToolResult:
			if s.Tool == nil {
				return fmt.Errorf("%s: tool result without a tool", where)
			}
			if s.Tool.ID != "" {
				name, ok := callName[s.Tool.ID]
				if !ok {
					return fmt.Errorf("%s: result for call id %s that no earlier call has", where, s.Tool.ID)
				}
				if s.Tool.Name != "" && name != s.Tool.Name {
					return fmt.Errorf("%s: result of %s answers call %s to %s", where, s.Tool.Name, s.Tool.ID, name)
				}
				answered[s.Tool.ID] = true
			} else {
				if pending[s.Tool.Name] == 0 {
					return fmt.Errorf("%s: result of %s with no call waiting for it", where, s.Tool.Name)
				}
				pending[s.Tool.Name]--
			}
		}
	}
	for id, ok := range answered {
		if !ok {
			return fmt.Errorf("trace %s: call %s (%s) has no result", t.ID, id, callName[id])
		}
	}
	return nil
}

// Validate checks a planted trace and its truth together: the trace is
// well formed (CheckTrace), every position of the truth exists, the fault
// begins on a step of the kind its class needs, and the reached positions
// come after it.
func Validate(t *probity.Trace, truth Truth) error {
	if err := CheckTrace(t); err != nil {
		return err
	}
	kinds := map[int][]probity.Kind{}
	for _, s := range t.Steps {
		kinds[s.Pos.Index] = append(kinds[s.Pos.Index], s.Kind)
	}
	if len(truth.Origin) != len(kinds) {
		return fmt.Errorf("truth maps %d positions, the trace has %d", len(truth.Origin), len(kinds))
	}
	last, removed := -1, false
	for _, o := range truth.Origin {
		if o < 0 {
			continue
		}
		if o <= last {
			return fmt.Errorf("truth origin %d after %d: base positions out of order", o, last)
		}
		removed = removed || last >= 0 && o > last+1
		last = o
	}
	if truth.Detector == "" || truth.Detector != truth.Class.Detector() {
		return fmt.Errorf("truth detector %q for class %s", truth.Detector, truth.Class)
	}
	for _, p := range truth.Related() {
		if _, ok := kinds[p]; !ok {
			return fmt.Errorf("truth position %d is not in the trace", p)
		}
	}
	if !slices.Contains(truth.At, truth.Step) {
		return fmt.Errorf("truth step %d is not among the accepted positions %v", truth.Step, truth.At)
	}
	for _, r := range truth.Reaches {
		if r <= truth.Step {
			return fmt.Errorf("truth reaches position %d, not after the fault's start %d", r, truth.Step)
		}
	}
	if len(truth.Edited) == 0 && !removed {
		return fmt.Errorf("nothing was changed")
	}
	want := map[Class][]probity.Kind{
		NearMissID:          {probity.KindToolCall},
		ContradictedClaim:   {probity.KindAssistant},
		SwallowedError:      {probity.KindToolResult},
		UnverifiedSuccess:   {probity.KindAssistant},
		Loop:                {probity.KindToolCall},
		InjectedInstruction: {probity.KindToolResult, probity.KindRetrieval, probity.KindReturn, probity.KindUser},
		Cascade:             {probity.KindToolCall, probity.KindAssistant},
	}[truth.Class]
	ok := false
	for _, k := range kinds[truth.Step] {
		ok = ok || slices.Contains(want, k)
	}
	if !ok {
		return fmt.Errorf("%s fault begins at position %d of kind %v, want one of %v", truth.Class, truth.Step, kinds[truth.Step], want)
	}
	return nil
}
