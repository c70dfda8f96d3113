package drill

import (
	"context"
	"errors"
	"testing"
)

// keyAnswers returns the key's own answers, as an answers file would hold them.
func keyAnswers(k *Key) map[string]Answer {
	out := map[string]Answer{}
	for _, e := range k.Drills {
		out[e.ID] = e.Answer
	}
	return out
}

// TestGradeKeyAgainstItself: the key is a perfect answer sheet, read back
// from disk; a key with every answer changed scores low; missing answers
// score zero.
func TestGradeKeyAgainstItself(t *testing.T) {
	_, dir := makeSet(t, examples(t), Options{Count: 12, Seed: 1})
	set, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if set.Key == nil || len(set.Drills) != 12 {
		t.Fatalf("Load: %d drills, key %v", len(set.Drills), set.Key != nil)
	}
	r, err := Grade(set.Key, keyAnswers(set.Key))
	if err != nil {
		t.Fatal(err)
	}
	if r.Max < 12 || r.Score != r.Max {
		t.Errorf("key against itself: %v/%v, want full marks", r.Score, r.Max)
	}
	for _, s := range Skills {
		if got := r.BySkill[s]; got[0] != got[1] {
			t.Errorf("skill %s: %v, want full marks", s, got)
		}
	}

	wrong := map[string]Answer{}
	for id, a := range keyAnswers(set.Key) {
		w := Answer{}
		if a.Failed != nil {
			w.Failed = ptr(!*a.Failed)
		}
		if a.Step != nil {
			w.Step = ptr(*a.Step + 1)
		}
		if a.Class != nil {
			w.Class = ptr("x" + *a.Class)
		}
		if a.Reached != nil {
			w.Reached = &[]int{-1}
		}
		if a.Rule != nil {
			w.Rule = ptr("x" + *a.Rule)
		}
		if a.Value != nil {
			w.Value = ptr(*a.Value + 1000)
		}
		wrong[id] = w
	}
	r, err = Grade(set.Key, wrong)
	if err != nil {
		t.Fatal(err)
	}
	if r.Score > 0.1*r.Max {
		t.Errorf("a wrong key scores %v/%v, want at most a tenth", r.Score, r.Max)
	}

	r, err = Grade(set.Key, map[string]Answer{})
	if err != nil || r.Score != 0 || r.Max == 0 {
		t.Errorf("no answers: %v/%v, %v; want 0 of the full max", r.Score, r.Max, err)
	}
	for _, d := range r.Drills {
		if d.Given != nil {
			t.Errorf("%s: given %+v, want null for an unanswered drill", d.ID, d.Given)
		}
	}
}

func TestGradeUnknownDrill(t *testing.T) {
	s, _ := makeSet(t, examples(t), Options{Count: 3, Seed: 1})
	_, err := Grade(s.Key, map[string]Answer{"d99": {Failed: ptr(true)}})
	var u *UnknownDrillError
	if !errors.As(err, &u) || u.ID != "d99" {
		t.Fatalf("Grade with d99 = %v, want an UnknownDrillError naming d99", err)
	}
}

func TestGradePartialCredit(t *testing.T) {
	k := &Key{Drills: []KeyEntry{
		{ID: "d01", Answer: Answer{Reached: &[]int{3, 5}}},
		{ID: "d02", Answer: Answer{Value: ptr(0.5)}, Tolerance: 0.05},
		{ID: "d03", Answer: Answer{Value: ptr(0.5)}, Tolerance: 0.05},
	}}
	r, err := Grade(k, map[string]Answer{"d01": {Reached: &[]int{3}}, "d02": {Value: ptr(0.58)}, "d03": {Value: ptr(0.52)}})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.5, 0.5, 1}
	for i, d := range r.Drills {
		if d.Score != want[i] {
			t.Errorf("%s: score %v, want %v", d.ID, d.Score, want[i])
		}
	}
}
