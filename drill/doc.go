// Package drill turns real agent traces into failure drills: exercises that
// train and assess engineers to see that a fluent, successful-looking run is
// wrong, say where it went wrong, how far the error spread and which rule
// would have contained it, and reason about pass rates with intervals.
//
// A drill set is a folder: one file per drill (dNN.json: the trace as
// OTLP/JSON, which `probity show` reads, with the questions under a "drill"
// key) and key.json with the answers and their explanations, kept apart so
// a set can be handed out without its key.
//
// Drills come from four sources, each with a key that is right by
// construction:
//
//   - planted: a fault planted (package inject) into a real successful run;
//     the key is where and what was planted, how far it reached (the steps
//     it changed or that carry it), and the first policy rule whose
//     violation the fault added. Its difficulty is what Probity's own
//     detectors make of it: easy when the expected detector flags the
//     planted step, medium when some finding lands on a step the fault
//     touched, hard when no detector sees it (kept, and marked so);
//   - labelled: a real failed run whose source labels the outcome (and, for
//     Who&When, the step where it went wrong); the labels become the key;
//   - clean: a real successful run, where "nothing is wrong" is the answer;
//     a clean run that Probity flags anyway is hard (a false alarm to
//     resist);
//   - probability: questions computed exactly by package stats (paired
//     posterior that a change helped, sample sizes, pass^k, posterior
//     probability above a target), graded with a tolerance.
//
// Make builds a set from traces, deterministically for a seed; Grade scores
// answers against the key; Take runs a set interactively; WriteKit writes a
// self-contained HTML interview kit. The labels a source carries are used
// only as answer keys here, for training and measurement, never as inputs
// to a detector.
package drill
