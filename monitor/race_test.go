//go:build race

package monitor

// raceEnabled reports whether the race detector is on: the simulation has
// no concurrency for it to check and runs ten times slower under it.
const raceEnabled = true
