package blindinject

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"

	"github.com/probity/probity"
)

// Class is a kind of fault.
type Class string

// The classes of fault Plant knows.
const (
	NearMissID          Class = "near-miss-id"
	ContradictedClaim   Class = "contradicted-claim"
	SwallowedError      Class = "swallowed-error"
	UnverifiedSuccess   Class = "unverified-success"
	Loop                Class = "loop"
	InjectedInstruction Class = "injected-instruction"
	Cascade             Class = "cascade"
)

// Classes returns every Class in a stable order.
func Classes() []Class {
	return []Class{NearMissID, ContradictedClaim, SwallowedError, UnverifiedSuccess, Loop, InjectedInstruction, Cascade}
}

// Detector returns the id of the detector (as listed in the README's JSON
// contracts) that should report a fault of class c.
func (c Class) Detector() string {
	switch c {
	case NearMissID:
		return "ungrounded-argument"
	case ContradictedClaim:
		return "contradicted-claim"
	case SwallowedError:
		return "swallowed-error"
	case UnverifiedSuccess:
		return "unverified-success"
	case Loop:
		return "loop"
	case InjectedInstruction:
		return "injected-instruction"
	case Cascade:
		return "cascade"
	}
	return ""
}

// Variants returns the names of the variants (carrier and phrasing) of class
// c, in the order Plant knows them.
func Variants(c Class) []string {
	var out []string
	for _, v := range registry[c] {
		out = append(out, v.name)
	}
	return out
}

// ErrNotApplicable is returned by Plant when the trace offers no place for a
// fault of the class (a run with no side-effecting call has no action to
// corrupt). It is not a failure of the injector.
var ErrNotApplicable = errors.New("blindinject: no place for this fault in the trace")

// Truth describes a planted fault. Positions are source positions
// (Position.Index) in the planted trace.
type Truth struct {
	// Class is the kind of fault.
	Class Class `json:"class"`
	// Variant names the carrier or form of the fault ("http-status-line",
	// "html-comment", "digit-slip").
	Variant string `json:"variant"`
	// Phrasing names how an injected instruction is worded
	// ("policy-impersonation", "language-de"); empty for other classes.
	Phrasing string `json:"phrasing,omitempty"`
	// Step is the position where the fault begins.
	Step int `json:"step"`
	// Detector is the detector id that should report the fault.
	Detector string `json:"detector"`
	// At lists the positions where a finding by Detector counts as catching
	// the fault: Step and, for classes whose fault spans two steps (an error
	// and the claim that swallows it; an instruction and the action it
	// causes; the repetitions of a loop), the others.
	At []int `json:"at"`
	// Reaches lists the later positions the fault reaches.
	Reaches []int `json:"reaches"`
	// Edited lists the positions the injector wrote or changed.
	Edited []int `json:"edited"`
	// Note says in words what was planted.
	Note string `json:"note"`
	// Origin maps each position of the planted trace to the position of the
	// base trace it came from, or -1 for a step the injector wrote.
	Origin []int `json:"origin"`
}

// Related returns every position the fault touches (Step, At, Reaches and
// Edited), sorted and without duplicates: a new finding anywhere else is a
// false alarm caused by the planting.
func (t Truth) Related() []int {
	out := append([]int{t.Step}, t.At...)
	out = append(out, t.Reaches...)
	out = append(out, t.Edited...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Plant returns a copy of base with one fault of class c planted, and its
// Truth. The same base, class and seed give the same result; different seeds
// choose other variants and places. It returns ErrNotApplicable when the
// trace has no place for the class.
func Plant(base *probity.Trace, c Class, seed int64) (*probity.Trace, Truth, error) {
	vs, ok := registry[c]
	if !ok {
		return nil, Truth{}, fmt.Errorf("blindinject: unknown class %q", c)
	}
	if base == nil || len(base.Steps) == 0 {
		return nil, Truth{}, ErrNotApplicable
	}
	h := fnv.New64a()
	h.Write([]byte(base.ID))
	h.Write([]byte{0})
	h.Write([]byte(c))
	rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	for _, i := range rng.Perm(len(vs)) {
		p := newPlanter(base, rng)
		note, err := vs[i].plant(p)
		if errors.Is(err, errNA) {
			continue
		}
		if err != nil {
			return nil, Truth{}, fmt.Errorf("blindinject: plant %s/%s: %w", c, vs[i].name, err)
		}
		t, truth := p.finish()
		truth.Class, truth.Variant, truth.Detector, truth.Note, truth.Phrasing = c, vs[i].name, c.Detector(), note, p.phrasing
		if err := Validate(t, truth); err != nil {
			return nil, Truth{}, fmt.Errorf("blindinject: plant %s/%s broke the trace: %w", c, vs[i].name, err)
		}
		return t, truth, nil
	}
	return nil, Truth{}, ErrNotApplicable
}

// errNA is what a variant returns when it has no place in the trace.
var errNA = errors.New("not applicable")

// variant is one way of planting a class of fault. plant edits p and returns
// a note for Truth.Note, or errNA.
type variant struct {
	name  string
	plant func(p *planter) (string, error)
}

// registry lists the variants of each class. It is a value built once, not
// an init-time registration.
var registry = map[Class][]variant{
	NearMissID:          nearMissVariants,
	ContradictedClaim:   contradictionVariants,
	SwallowedError:      swallowVariants,
	UnverifiedSuccess:   unverifiedVariants,
	Loop:                loopVariants,
	InjectedInstruction: injectionVariants,
	Cascade:             cascadeVariants,
}
