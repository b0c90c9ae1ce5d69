//go:build unix && !linux

package provisioner

import (
	"context"
	"os/exec"
	"syscall"
)

// newCommand returns the command that runs script with shell in a process
// group of its own; cancelling ctx kills the whole group. These systems
// have no parent-death signal: a command still running when the server is
// killed (SIGKILL) outlives it.
func newCommand(ctx context.Context, shell, script string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, shell, "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}

// run runs cmd.
func run(cmd *exec.Cmd) error { return cmd.Run() }
