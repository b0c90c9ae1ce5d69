//go:build linux

package provisioner

import (
	"context"
	"os/exec"
	"runtime"
	"syscall"
)

// supervisor is the script of the shell that the server starts (Linux):
// it runs the command in a child shell and waits for it, and when it gets
// SIGTERM (its parent-death signal: the server died) it kills its whole
// process group, the command's children included. $0 is the shell that
// runs the command, $1 the command.
//
// The kernel's parent-death signal reaches only the server's direct child;
// the command's own children would outlive the server with the credentials
// in their environment. A process that SIGKILL ends runs no code, so the
// signal is SIGTERM, caught here. The command runs in the background (a
// non-interactive shell then gives it /dev/null as stdin, which the
// command had anyway, and ignores SIGINT and SIGQUIT for it); `wait`
// returns its exit status, which becomes the supervisor's.
const supervisor = `trap 'kill -s KILL 0' TERM; "$0" -c "$1" & wait $!`

// newCommand returns the command that runs script with shell: under a
// supervisor shell that is the leader of a process group of its own and
// gets SIGTERM when the server dies (see supervisor). Cancelling ctx kills
// the whole group.
func newCommand(ctx context.Context, shell, script string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", supervisor, shell, script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}

// run runs cmd on an OS thread of its own. Linux sends the parent-death
// signal when the thread that started the child exits, not the process:
// the Go runtime ends a thread when a goroutine that locked it exits
// without unlocking, and any goroutine may run on the thread that started
// the child once the starting goroutine blocks. Locking the thread from
// Start to the end of Wait keeps every other goroutine off it, so it lives
// exactly as long as the child is watched, and the signal comes only when
// the server process dies (or after the child has exited).
func run(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Run()
}
