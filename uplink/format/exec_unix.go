//go:build unix

package format

import (
	"os/exec"
	"syscall"
)

// killProcessGroup runs the command in a process group of its own and
// makes the timeout kill the whole group: a script's children (a curl it
// started) must not outlive it and pile up, one per retried batch.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
