//go:build !unix

package detectbench

import "time"

// cpuTime is not measured on this platform; the CPU ratio then reads 0/0.
func cpuTime() time.Duration { return 0 }
