//go:build race

package localize_test

// raceEnabled reports whether the race detector is on. The measurements
// localise a few hundred shared runs one after another: nothing concurrent
// for the detector to check, and several times slower under it, so they run
// in .ci/run's separate step without -race instead.
const raceEnabled = true
