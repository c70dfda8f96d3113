// Package inject plants faults with a known ground truth into copies of real
// agent runs: the failures Probity's detectors know (a near-miss id in an
// action, a wrong amount told to the user, an error reported as success, a
// repeated call, an injected instruction, a corrupted id carried on) and
// intent failures that leave every value grounded (acting on the wrong one
// of the user's orders, acting without the confirmation the user was asked
// for).
//
// Two users share it: the detector measurement (internal/detectbench), which
// reports recall on the planted faults, and failure drills (package drill),
// which turn the planted runs into exercises whose key is right by
// construction. Choices of place and wording are random but seeded by the
// trace id and class (and, for drills, the drill seed), so a run of either
// is reproducible.
package inject
