// Package cputime reads the CPU time the process has used, so benchmarks
// on a shared machine can report a cost per item that other processes'
// load does not inflate (wall-clock rates drop when the machine is busy;
// CPU per item does not).
package cputime

import (
	"syscall"
	"time"
)

// Used returns the user plus system CPU time of the process so far.
func Used() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
