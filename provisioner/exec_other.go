//go:build !unix

package provisioner

import "os/exec"

// setProcessGroup leaves cmd as it is: without Unix process groups,
// cancellation kills the shell only.
func setProcessGroup(cmd *exec.Cmd) {}
