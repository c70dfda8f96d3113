//go:build !race

package localize_test

const raceEnabled = false
