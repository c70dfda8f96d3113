// Package stats is Probity's statistics core: honest uncertainty for agent
// evaluations run a few times on a few tasks, anytime-valid early stopping,
// regression tests between versions, and production alarms.
//
// Every formula and default follows ../shared/METHODS.md (the methods brief);
// the tests check each of its exact test vectors to 1e-6. Functions never
// panic: invalid input (negative counts, c > n, a level outside (0, 1), NaN)
// yields NaN, or an Interval of NaNs, as each function documents.
//
// # Which method when (METHODS §0)
//
//	Question                              Default                              Alternative / when
//	CI for one pass rate                  Wilson 95%                           Jeffreys when you need a posterior (ProbAbove);
//	                                                                           ClopperPearsonLower for "at least X% with 95%
//	                                                                           confidence" gates. Never Wald below a few
//	                                                                           hundred independent items or at p̂ ∈ {0, 1}.
//	Several trials per task               the task is the unit: ClusteredSE    ClusteredCI with CR1 + t for few tasks;
//	                                      (CR0) for many tasks                 bootstrap tasks.
//	pass@k, pass^k                        PassAtK / PassHatK per task,         PassHatKPosterior per task.
//	                                      averaged; CI by bootstrapping tasks
//	                                      (PassHatKBootstrap)
//	A vs B on the same items              paired: McNemarExact (one-sided for  paired bootstrap for graded scores.
//	                                      regressions) + PairedPosterior
//	Stop early                            Sequential: SPRT e-process when p1   never peek at a fixed-n p-value or a
//	                                      is committed, Beta-mixture or        posterior threshold.
//	                                      betting otherwise; hard cap
//	Production failure rate               CUSUM tuned to an in-control ARL     BOCPD to find when it changed; Window or
//	                                      (SimulateCUSUM checks a tuning)      ForgettingBeta posteriors for dashboards.
//	Calibration                           Brier + Murphy decomposition,        ECE only with its binning scheme stated.
//	                                      ReliabilityDiagram with per-bin
//	                                      counts and intervals
//	Confabulation across resamples        DiscreteSemanticEntropy /            (clustering by entailment is the caller's)
//	                                      SemanticEntropy
//	Which step breaks a long chain        StepHazards (life table, posterior   LLM-judge attribution only as a hint
//	                                      interval); RetryStepSuccess
//
// Conventions: n is the number of trials, c the number of successes, level a
// two-sided confidence level such as 0.95 unless a function says it is
// one-sided. Randomised procedures (bootstraps, Monte Carlo) take an explicit
// uint64 seed and are deterministic for a given seed.
package stats
