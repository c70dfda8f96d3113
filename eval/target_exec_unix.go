//go:build unix

package eval

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup runs cmd in a process group of its own and makes the
// trial's end (timeout or cancel) kill the whole group: an agent started by
// a shell script, or one that forks workers, leaves nothing running behind
// its trial.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
}

// killGroup kills cmd's process group, if it started.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	// The group id is the leader's pid; a negative pid names the group.
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
