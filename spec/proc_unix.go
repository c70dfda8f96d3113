//go:build unix

package spec

import (
	"os/exec"
	"syscall"
)

// isolate starts cmd in a process group of its own, so that killGroup can
// stop everything it spawned: "npx server" and "sh -c ..." leave children
// that would otherwise outlive the linter and hold its output open.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills cmd's process group, if it was started.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.Process.Pid > 0 {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
