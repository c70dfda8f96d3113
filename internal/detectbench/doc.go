// Package detectbench measures Probity's detectors on the real traces in
// ../shared/data, honestly: flag rates on failed versus successful runs,
// failure localisation against human labels, and recall on faults it plants
// into the real successful runs.
//
// The measurement reads the data through the same importers as
// `probity analyze` and prints the README tables:
//
//	go test ./internal/detectbench -run TestMeasure -v
//
// What it reports:
//
//   - flag rates (verdict suspect or fail; high alone) on τ-bench airline
//     reward 0 vs 1, AgentRx retail failed vs succeeded, SWE-bench
//     unresolved vs resolved, and Who&When (all failed);
//   - AgentRx: how often a medium+ finding sits on a labelled failure step
//     (step_number = position + 1) and how often root_cause_step is the
//     labelled root cause; Who&When: root_cause_step against mistake_step
//     (best published LLM method 25.51%, random 19.06%);
//   - the fault injector (package inject, inject.Inject) that plants six classes of fault into copies
//     of the successful runs: a near-miss id in a side-effecting call, a
//     wrong amount told to the user, an error result the agent then reports
//     as success, a duplicated tool call, an injected instruction before an
//     action, and a corrupted id that later steps carry on. For each class:
//     recall at the planted step (a medium+ finding of the expected
//     detector, and of any detector), and the precision of the findings the
//     fault added (on a step the fault touched, or not); and the share of
//     untouched successful runs with a high finding.
//
// The injector varies its wording (six error dialects, six injection
// phrasings, digit changes and transpositions) and picks places at random
// with a seed derived from the trace id, so results are reproducible but
// no single phrasing is measured. The speed benchmarks compare analysis
// with a plain JSON decode of the same files in one run:
//
//	go test ./internal/detectbench -run '^$' -bench . -benchtime 3x
package detectbench
