package drill_test

import (
	"fmt"

	"github.com/probity/probity/drill"
)

// Grade scores answers against a key: a point per question the key
// answers, partial credit for the reached steps and for near numbers.
func ExampleGrade() {
	yes, step, none := true, 14, "none"
	reached := []int{16, 18}
	p := 0.66
	key := &drill.Key{Drills: []drill.KeyEntry{
		{ID: "d01", Answer: drill.Answer{Failed: &yes, Step: &step, Reached: &reached, Rule: &none}},
		{ID: "d02", Answer: drill.Answer{Value: &p}, Tolerance: 0.05},
	}}
	answers, err := drill.ParseAnswers("answers.json", []byte(
		`{"d01": {"failed": true, "step": 15, "reached": [16], "rule": "none"}, "d02": {"value": 0.75}}`))
	if err != nil {
		panic(err)
	}
	r, err := drill.Grade(key, answers)
	if err != nil {
		panic(err)
	}
	fmt.Printf("score %.1f of %.0f\n", r.Score, r.Max)
	for _, s := range drill.Skills {
		fmt.Printf("%s %v\n", s, r.BySkill[s])
	}
	// Output:
	// score 3.0 of 5
	// detect [1 1]
	// localize [0.5 2]
	// contain [1 1]
	// reason [0.5 1]
}
