//go:build unix

package provisioner

import (
	"os/exec"
	"syscall"
)

// setProcessGroup runs cmd in a process group of its own and makes
// cancellation kill the whole group, so that what the shell started dies
// with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
