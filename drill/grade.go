package drill

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/probity/probity"
)

// Result is a graded set. Its JSON form is the `drill grade --format json`
// contract.
type Result struct {
	Score float64 `json:"score"`
	Max   float64 `json:"max"`
	// BySkill holds [points got, points possible] per skill.
	BySkill map[string][2]float64 `json:"by_skill"`
	Drills  []DrillResult         `json:"drills"`
}

// DrillResult is one graded drill.
type DrillResult struct {
	ID string `json:"id"`
	// Correct holds, per question the key scores, whether the answer
	// earned the full point.
	Correct  map[string]bool `json:"correct"`
	Expected Answer          `json:"expected"`
	// Given is nil when the drill was not answered at all.
	Given *Answer `json:"given"`
	// Score and Max are the drill's points, partial credit included.
	Score float64 `json:"score"`
	Max   float64 `json:"max"`
}

// UnknownDrillError is an answer for a drill the set does not have.
type UnknownDrillError struct{ ID string }

func (e *UnknownDrillError) Error() string {
	return fmt.Sprintf("answer for unknown drill %q", e.ID)
}

// Grade scores answers against key. Every question the key answers is
// worth one point; a missing answer scores zero; the reached steps earn
// partial credit (the overlap of the two sets over their union); a numeric
// answer earns the point within the key's tolerance and half of it within
// twice that. An answer for a drill the key does not have is an error (a
// *probity.Error wrapping *UnknownDrillError that names it), since it means
// the answers belong to another set.
func Grade(key *Key, answers map[string]Answer) (*Result, error) {
	var unknown []string
	for id := range answers {
		if _, ok := key.Entry(id); !ok {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, &probity.Error{Code: probity.EINVALID, Message: fmt.Sprintf("the answers are for another set? %s not in this set (it has %s)",
			strings.Join(unknown, ", "), idRange(key)), Err: &UnknownDrillError{ID: unknown[0]}}
	}
	r := &Result{BySkill: map[string][2]float64{}}
	for _, s := range Skills {
		r.BySkill[s] = [2]float64{}
	}
	for _, e := range key.Drills {
		dr := DrillResult{ID: e.ID, Correct: map[string]bool{}, Expected: e.Answer}
		given, ok := answers[e.ID]
		if ok {
			g := given
			dr.Given = &g
		}
		for _, q := range scored(e.Answer) {
			pts := points(q, e, given)
			dr.Score += pts
			dr.Max++
			dr.Correct[q] = pts == 1
			sk := r.BySkill[skillOf(q)]
			sk[0] += pts
			sk[1]++
			r.BySkill[skillOf(q)] = sk
		}
		r.Score += dr.Score
		r.Max += dr.Max
		r.Drills = append(r.Drills, dr)
	}
	return r, nil
}

func idRange(k *Key) string {
	switch len(k.Drills) {
	case 0:
		return "no drills"
	case 1:
		return k.Drills[0].ID
	}
	return k.Drills[0].ID + ".." + k.Drills[len(k.Drills)-1].ID
}

// scored lists the questions the key answers, in question order.
func scored(a Answer) []string {
	var out []string
	if a.Failed != nil {
		out = append(out, QFailed)
	}
	if a.Step != nil {
		out = append(out, QStep)
	}
	if a.Class != nil {
		out = append(out, QClass)
	}
	if a.Reached != nil {
		out = append(out, QReached)
	}
	if a.Rule != nil {
		out = append(out, QRule)
	}
	if a.Value != nil {
		out = append(out, QValue)
	}
	return out
}

func skillOf(q string) string {
	switch q {
	case QFailed, QClass:
		return SkillDetect
	case QStep, QReached:
		return SkillLocalize
	case QRule:
		return SkillContain
	}
	return SkillReason
}

// points is the credit, in [0, 1], for question q.
func points(q string, e KeyEntry, g Answer) float64 {
	want := e.Answer
	switch q {
	case QFailed:
		if g.Failed != nil && *g.Failed == *want.Failed {
			return 1
		}
	case QStep:
		if g.Step != nil && *g.Step == *want.Step {
			return 1
		}
	case QClass:
		if g.Class != nil && strings.EqualFold(strings.TrimSpace(*g.Class), *want.Class) {
			return 1
		}
	case QRule:
		if g.Rule != nil && strings.EqualFold(strings.TrimSpace(*g.Rule), *want.Rule) {
			return 1
		}
	case QReached:
		if g.Reached != nil {
			return jaccard(*g.Reached, *want.Reached)
		}
	case QValue:
		if g.Value == nil || math.IsNaN(*g.Value) {
			return 0
		}
		d := math.Abs(*g.Value - *want.Value)
		switch {
		case d <= e.Tolerance:
			return 1
		case d <= 2*e.Tolerance:
			return 0.5
		}
	}
	return 0
}

// jaccard is |a ∩ b| / |a ∪ b|, and 1 when both are empty ("it reached
// nothing" is an answer that can be right).
func jaccard(a, b []int) float64 {
	as, bs := map[int]bool{}, map[int]bool{}
	for _, x := range a {
		as[x] = true
	}
	for _, x := range b {
		bs[x] = true
	}
	if len(as) == 0 && len(bs) == 0 {
		return 1
	}
	inter := 0
	for x := range as {
		if bs[x] {
			inter++
		}
	}
	return float64(inter) / float64(len(as)+len(bs)-inter)
}

// describe renders an answer to question q for people.
func describe(q string, a Answer) string {
	switch q {
	case QFailed:
		if a.Failed == nil {
			return "—"
		}
		if *a.Failed {
			return "yes"
		}
		return "no"
	case QStep:
		if a.Step == nil {
			return "—"
		}
		return fmt.Sprint(*a.Step)
	case QClass:
		if a.Class == nil {
			return "—"
		}
		return *a.Class
	case QRule:
		if a.Rule == nil {
			return "—"
		}
		return *a.Rule
	case QReached:
		if a.Reached == nil {
			return "—"
		}
		if len(*a.Reached) == 0 {
			return "none"
		}
		s := make([]string, len(*a.Reached))
		for i, x := range *a.Reached {
			s[i] = fmt.Sprint(x)
		}
		return strings.Join(s, ", ")
	case QValue:
		if a.Value == nil {
			return "—"
		}
		return fmt.Sprintf("%.4g", *a.Value)
	}
	return ""
}
