package stats_test

import (
	"fmt"

	"github.com/probity/probity/stats"
)

// A case passed 17 of 20 trials. Wilson is the default frequentist interval;
// Jeffreys is a posterior, so it also answers "how likely is the rate above
// 80%?".
func ExampleWilson() {
	w := stats.Wilson(17, 20, 0.95)
	j := stats.Jeffreys(17, 20, 0.95)
	fmt.Printf("Wilson   [%.3f, %.3f]\n", w.Lo, w.Hi)
	fmt.Printf("Jeffreys [%.3f, %.3f]\n", j.Lo, j.Hi)
	fmt.Printf("P(p > 0.8) = %.3f\n", stats.ProbAbove(17, 20, 0.5, 0.5, 0.8))
	// Output:
	// Wilson   [0.640, 0.948]
	// Jeffreys [0.651, 0.956]
	// P(p > 0.8) = 0.697
}

// A gate "the pass rate is at least 90% with 95% confidence" after 30 of 30
// passes: the exact one-sided bound clears 0.90 only just.
func ExampleClopperPearsonLower() {
	fmt.Printf("%.4f\n", stats.ClopperPearsonLower(30, 30, 0.95))
	// Output:
	// 0.9050
}

// Five tasks run 8 times each. pass^4 asks "does it succeed 4 times out of
// 4?"; the interval comes from resampling whole tasks.
func ExamplePassHatKBootstrap() {
	tasks := []stats.TaskCounts{{N: 8, C: 8}, {N: 8, C: 7}, {N: 8, C: 5}, {N: 8, C: 8}, {N: 8, C: 2}}
	est, ci := stats.PassHatKBootstrap(tasks, 4, 10000, 1, 0.95)
	fmt.Printf("pass^4 = %.3f, 95%% CI [%.2f, %.2f]\n", est, ci.Lo, ci.Hi)
	fmt.Printf("pass^1 = %.3f\n", stats.PassHatK(40, 30, 1))
	// Output:
	// pass^4 = 0.514, 95% CI [0.14, 0.90]
	// pass^1 = 0.750
}

// Three trials of each of four tasks: the task, not the trial, is the
// independent unit.
func ExampleClusteredSE() {
	mean, se := stats.ClusteredSE([][]float64{{1, 1, 1}, {0, 0, 1}, {1, 1, 0}, {0, 0, 0}})
	fmt.Printf("mean %.2f, clustered SE %.3f\n", mean, se)
	// Output:
	// mean 0.50, clustered SE 0.186
}
