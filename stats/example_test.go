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

// Stop a case early: the gate needs a pass rate above 0.80, and 0.90 is good
// enough. Feed outcomes as they arrive; the decision is final once it is not
// Continue, and its false-pass rate is at most 5% whenever you stop.
func ExampleSequential() {
	seq := stats.NewSequential(stats.SequentialConfig{P0: 0.80, P1: 0.90})
	outcomes := []bool{true, true, true, true, true, true, true, true, true, true, false}
	for range 3 {
		outcomes = append(outcomes, outcomes...)
	}
	var d stats.Decision
	for _, pass := range outcomes {
		if d = seq.Observe(pass); d != stats.Continue {
			break
		}
	}
	fmt.Printf("%v after %d trials (cap %d), always-valid p = %.4f\n", d, seq.N(), seq.Config().MaxTrials, seq.PValue())
	// Output:
	// accept after 53 trials (cap 328), always-valid p = 0.0498
}

// The exact operating characteristics of a design, and its saving against
// the fixed-n test with the same error rates (METHODS §4).
func ExampleSequentialOC() {
	cfg := stats.SequentialConfig{P0: 0.80, P1: 0.90}
	n, k, _ := stats.FixedNDesign(0.80, 0.90, 0.05, 0.80)
	fmt.Printf("fixed n = %d (pass if >= %d)\n", n, k)
	for _, p := range []float64{0.80, 0.90} {
		oc, _ := stats.SequentialOC(cfg, p)
		fmt.Printf("p=%.2f: P(accept)=%.3f E[N]=%.1f (%.0f%% fewer)\n", p, oc.PAccept, oc.ExpectedN, 100*(1-oc.ExpectedN/float64(n)))
	}
	// Output:
	// fixed n = 82 (pass if >= 72)
	// p=0.80: P(accept)=0.040 E[N]=38.2 (53% fewer)
	// p=0.90: P(accept)=0.853 E[N]=63.6 (22% fewer)
}

// Versions A and B on the same 50 items: 9 items only A passes, 3 only B
// passes. Is B a regression, and how likely is it worse by more than 5
// points?
func ExamplePairedPosterior() {
	oneSided, twoSided := stats.McNemarExact(9, 3)
	fmt.Printf("McNemar one-sided p = %.4f, two-sided p = %.4f\n", oneSided, twoSided)
	// n00 both fail, n01 only B passes, n10 only A passes, n11 both pass.
	fmt.Printf("P(B worse by > 0.05) = %.3f\n", stats.PairedPosterior(3, 3, 9, 35, 0.05, 0, 0))
	// Output:
	// McNemar one-sided p = 0.0730, two-sided p = 0.1460
	// P(B worse by > 0.05) = 0.823
}

// Alert when the production failure rate rises from 5% to 10%.
func ExampleCUSUM() {
	c := stats.NewCUSUM(stats.CUSUMConfig{P0: 0.05, P1: 0.10, H: 4})
	// 20 successful traces, then a burst of failures (pass = false).
	outcomes := make([]bool, 20)
	for i := range outcomes {
		outcomes[i] = true
	}
	outcomes = append(outcomes, false, true, false, false, true, false, false, false)
	for _, pass := range outcomes {
		if c.Observe(pass) {
			fmt.Printf("alarm at trace %d, S = %.3f\n", c.N(), c.Statistic())
			break
		}
	}
	// Output:
	// alarm at trace 28, S = 4.051
}

// Calibration of a judge's stated confidence against whether it was right.
func ExampleBrier() {
	conf := []float64{0.95, 0.9, 0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.55, 0.3}
	right := []bool{true, true, false, true, true, false, true, false, true, false}
	r := stats.Brier(conf, right)
	fmt.Printf("Brier %.4f = REL %.4f - RES %.4f + UNC %.4f\n", r.Score, r.Reliability, r.Resolution, r.Uncertainty)
	for _, b := range r.Bins {
		fmt.Printf("(%.1f, %.1f]: n=%d rate %.2f [%.2f, %.2f]\n", b.Lo, b.Hi, b.N, b.Rate, b.Interval.Lo, b.Interval.Hi)
	}
	// Output:
	// Brier 0.2205 = REL 0.1205 - RES 0.1400 + UNC 0.2400
	// (0.2, 0.3]: n=1 rate 0.00 [0.00, 0.79]
	// (0.5, 0.6]: n=3 rate 0.67 [0.21, 0.94]
	// (0.6, 0.7]: n=1 rate 0.00 [0.00, 0.79]
	// (0.7, 0.8]: n=2 rate 1.00 [0.34, 1.00]
	// (0.8, 0.9]: n=2 rate 0.50 [0.09, 0.91]
	// (0.9, 1.0]: n=1 rate 1.00 [0.21, 1.00]
}
