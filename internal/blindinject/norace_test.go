//go:build !race

package blindinject_test

const raceEnabled = false
