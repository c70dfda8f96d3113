// Package eval is Probity's evaluation harness: it runs every case of a suite
// k times against a real target (an HTTP endpoint, a subprocess, or a chat
// model with tools), checks each trial with assertions, and summarises the
// trials with honest statistics from package stats: per-case intervals and
// classes (stable-pass, stable-fail, flaky), the suite pass rate with a
// cluster-aware interval, pass@k and pass^k, early stopping, and a CI gate.
//
// Agents are stochastic, so one run of a case proves little. The pieces:
//
//   - Suite (suite.go) is the YAML contract users write; LoadSuite rejects
//     unknown keys and bad values with their line and column.
//   - Case (dataset.go) is one item of the dataset (JSONL, CSV, YAML or
//     τ-bench tasks).
//   - Target (target*.go) runs one trial of one case and returns an Output;
//     a target that crashes, hangs or answers garbage yields an error result,
//     which is kept apart from a failed assertion.
//   - Assertion (assert*.go) judges one Output.
//   - Runner (runner.go) schedules trials with bounded concurrency, rate
//     limits, retries, a disk cache and sequential stopping, and streams every
//     trial to a run file (runfile.go) as it completes, so a crash or Ctrl-C
//     loses nothing and Resume continues.
//   - Summarize (summary.go) and Compare (compare.go) turn run files into the
//     reports people and CI systems read (report.go).
package eval
