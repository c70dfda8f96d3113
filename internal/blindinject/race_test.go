//go:build race

package blindinject_test

// raceEnabled reports whether the race detector is on. The measurement
// plants thousands of faults and analyses each once: it has no shared
// state for the detector to check and runs about ten times slower under
// it, so it runs in .ci/run's separate step without -race instead.
const raceEnabled = true
