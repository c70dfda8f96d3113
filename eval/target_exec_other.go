//go:build !unix

package eval

import "os/exec"

// ownProcessGroup is a no-op where there are no Unix process groups: the
// timeout kills the direct child only.
func ownProcessGroup(*exec.Cmd) {}

func killGroup(*exec.Cmd) error { return nil }
