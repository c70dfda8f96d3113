package drill

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/probity/probity/stats"
)

// probProblem is a probability drill with its exact answer.
type probProblem struct {
	difficulty, prompt, from, explanation string
	value, tolerance                      float64
}

// The kinds of probability problem, easiest first; makeProb rotates
// through them so a set gets a mix.
var probKinds = []func(*rand.Rand) probProblem{probPassHatK, probAbove, probPaired, probSampleSize}

func probPassHatK(rng *rand.Rand) probProblem {
	n := 4 + rng.IntN(7)       // 4..10 trials
	c := n/2 + rng.IntN(n-n/2) // at least half passed, not all
	k := 2 + rng.IntN(3)       // 2..4
	if k > n {
		k = n
	}
	v := stats.PassHatK(n, c, k)
	return probProblem{
		difficulty: Easy,
		prompt: fmt.Sprintf("An agent ran the same task %d times and passed %d. Estimate pass^%d: the chance that %d fresh runs of the task all pass "+
			"(use the unbiased estimator C(c,k)/C(n,k), as τ-bench does).", n, c, k, k),
		from:        fmt.Sprintf("stats.PassHatK(%d, %d, %d)", n, c, k),
		explanation: fmt.Sprintf("pass^%d = C(%d,%d)/C(%d,%d) = %.4f. The single-run pass rate is %.2f, but an agent that must succeed %d times in a row succeeds far less often: reliability is not accuracy.", k, c, k, n, k, v, float64(c)/float64(n), k),
		value:       v,
		tolerance:   0.02,
	}
}

func probAbove(rng *rand.Rand) probProblem {
	n := 10 + rng.IntN(21)
	c := n*6/10 + rng.IntN(n-n*6/10+1)
	t := []float64{0.7, 0.75, 0.8, 0.9}[rng.IntN(4)]
	v := stats.ProbAbove(c, n, 1, 1, t)
	return probProblem{
		difficulty: Medium,
		prompt: fmt.Sprintf("%d of %d trials passed. With a uniform Beta(1,1) prior on the pass rate, what is the posterior probability that the true pass rate is above %.2f (the SLO)?",
			c, n, t),
		from: fmt.Sprintf("stats.ProbAbove(%d, %d, 1, 1, %.2f)", c, n, t),
		explanation: fmt.Sprintf("The posterior is Beta(%d, %d); P(p > %.2f) = 1 − I_%.2f(%d, %d) = %.4f. The observed rate %.2f alone says nothing about how sure we are; %d trials leave a wide posterior.",
			c+1, n-c+1, t, t, c+1, n-c+1, v, float64(c)/float64(n), n),
		value:     v,
		tolerance: 0.05,
	}
}

func probPaired(rng *rand.Rand) probProblem {
	n := 10 + rng.IntN(11)
	before := n/2 + rng.IntN(n/2-1)
	up := 1 + rng.IntN(min(3, n-before)) // fail → pass
	down := rng.IntN(min(2, before) + 1) // pass → fail
	after := before - down + up
	// PairedPosterior(n00, n01, n10, n11) is P(θ_A − θ_B > 0) with n01 =
	// A fails/B passes: A is the version after the change.
	n11 := before - down
	n00 := n - before - up
	v := stats.PairedPosterior(n00, down, up, n11, 0, 0, 0)
	return probProblem{
		difficulty: Medium,
		prompt: fmt.Sprintf("The same %d tasks ran once before and once after a prompt change: %d passed before, %d after. %d tasks went from fail to pass and %d from pass to fail. "+
			"With a uniform Dirichlet prior on the four paired outcomes, how likely is it that the change helped (the pass rate after is higher than before)?",
			n, before, after, up, down),
		from: fmt.Sprintf("stats.PairedPosterior(%d, %d, %d, %d, 0, 0, 0)", n00, down, up, n11),
		explanation: fmt.Sprintf("Only the %d discordant tasks carry information about the difference (%d up, %d down); the posterior probability that the pass rate rose is %.4f. "+
			"It is not certain even though the count went up: with so few tasks a change this size can be luck.", up+down, up, down, v),
		value:     v,
		tolerance: 0.05,
	}
}

func probSampleSize(rng *rand.Rand) probProblem {
	p1 := []float64{0.7, 0.8, 0.85}[rng.IntN(3)]
	p2 := p1 + []float64{0.05, 0.1}[rng.IntN(2)]
	v := math.Ceil(stats.UnpairedSampleSize(p1, p2, 0.05, 0.8))
	return probProblem{
		difficulty: Hard,
		prompt: fmt.Sprintf("How many independent trials per version do you need to tell a pass rate of %.2f from %.2f, with a two-sided test at α = 0.05 and 80%% power (normal approximation)?",
			p1, p2),
		from: fmt.Sprintf("stats.UnpairedSampleSize(%.2f, %.2f, 0.05, 0.8)", p1, p2),
		explanation: fmt.Sprintf("n = (z₀.₉₇₅ + z₀.₈)² · (p₁(1−p₁) + p₂(1−p₂)) / (p₁ − p₂)² ≈ %.0f per version. Small differences between good agents need hundreds of trials; "+
			"running both versions on the same tasks (a paired design) needs a third to half as many.", v),
		value:     v,
		tolerance: math.Max(1, math.Round(v*0.1)),
	}
}
