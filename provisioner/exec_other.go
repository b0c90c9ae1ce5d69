//go:build !unix

package provisioner

import (
	"context"
	"os/exec"
)

// newCommand returns the command that runs script with shell. Without Unix
// process groups, cancellation kills the shell only, and a command still
// running when the server is killed outlives it.
func newCommand(ctx context.Context, shell, script string) *exec.Cmd {
	return exec.CommandContext(ctx, shell, "-c", script)
}

// run runs cmd.
func run(cmd *exec.Cmd) error { return cmd.Run() }
