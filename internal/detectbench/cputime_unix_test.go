//go:build unix

package detectbench

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used (user + system, all
// threads). On a shared machine it measures work done, where wall time also
// counts waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
