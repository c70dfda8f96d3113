package eval_test

import (
	"fmt"

	"github.com/probity/probity/eval"
)

// The suite interval counts a case's trials as correlated. METHODS §1's
// clustered example (four cases of three trials) is worth 5.4 independent
// trials, not 12.
func ExampleSuiteInterval() {
	cases := [][]float64{{1, 1, 1}, {0, 0, 1}, {1, 1, 0}, {0, 0, 0}}
	p, lo, hi, lower, nEff, deff := eval.SuiteInterval(cases, 0.95)
	fmt.Printf("pass rate %.2f, 95%% CI [%.2f, %.2f], one-sided lower %.2f, design effect %.2f, effective n %.1f\n", p, lo, hi, lower, deff, nEff)
	// Output:
	// pass rate 0.50, 95% CI [0.10, 0.90], one-sided lower 0.14, design effect 2.22, effective n 5.4
}
