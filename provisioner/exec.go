package provisioner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/secrets"
)

// Environment variables that describe the workspace to an exec command.
const (
	EnvWorkspaceID       = "MODELGATE_WORKSPACE_ID"
	EnvWorkspaceOrg      = "MODELGATE_WORKSPACE_ORG"
	EnvWorkspaceName     = "MODELGATE_WORKSPACE_NAME"
	EnvWorkspaceRole     = "MODELGATE_WORKSPACE_ROLE"
	EnvWorkspaceTier     = "MODELGATE_WORKSPACE_TIER"
	EnvWorkspaceRuntime  = "MODELGATE_WORKSPACE_RUNTIME"
	EnvWorkspaceModel    = "MODELGATE_WORKSPACE_MODEL"
	EnvWorkspaceProvider = "MODELGATE_WORKSPACE_PROVIDER"
	EnvWorkspaceParentID = "MODELGATE_WORKSPACE_PARENT_ID"
	EnvWorkspaceAttempt  = "MODELGATE_WORKSPACE_ATTEMPT"
)

// StderrTailBytes is how much of the end of an exec command's stderr a
// failure reports.
const StderrTailBytes = 2 << 10

// execWaitDelay is how long Wait waits for the command's output pipes after
// the process has exited or been killed (a grandchild may hold them open).
const execWaitDelay = 2 * time.Second

// ExecDriver starts a workspace by running a shell command. The command
// runs as `/bin/sh -c Command` in a process group of its own, which is
// killed when the attempt's deadline passes. On Linux the group is also
// killed when the server dies, even by SIGKILL: a supervisor shell leads
// the group and gets a parent-death signal (see newCommand in
// exec_linux.go). On other systems a command running when the server is
// killed outlives it.
//
// Its environment is built from scratch, never inherited: the server's own
// environment may hold MODELGATE_SECRETS_KEY or a database password. It
// holds PATH and HOME (BaseEnv), the MODELGATE_WORKSPACE_* variables
// (EnvWorkspaceID and the others), and the credentials the derived provider
// accepts, under their own names (for example ANTHROPIC_API_KEY). Exit
// status 0 means the workspace started. Otherwise the error reports the exit
// status and the last StderrTailBytes of stderr; stdout is discarded.
type ExecDriver struct {
	// Command is the shell command; it must not be empty.
	Command string
	// Shell runs Command with "-c" (default /bin/sh).
	Shell string
	// BaseEnv is the environment besides the workspace and its credentials,
	// as KEY=value (default: PATH and HOME of the server, or a standard PATH).
	BaseEnv []string
	// Dir is the working directory ("" is the server's).
	Dir string
}

// NewExecDriver returns an ExecDriver for command with the default shell and
// base environment. It returns an error if command is blank.
func NewExecDriver(command string) (*ExecDriver, error) {
	if strings.TrimSpace(command) == "" {
		return nil, errors.New("exec driver: no command (--exec-command)")
	}
	return &ExecDriver{Command: command}, nil
}

// Start runs the command once. It returns nil on exit status 0, and
// otherwise an error holding the exit status (or the reason it could not
// run) and the tail of stderr, less any prefix that could be the end of a
// credential value the tail cut in half (and, for a killed command, any
// suffix that could be the start of one), as it is or in any escaping that
// secrets.Redactor finds, even when the cut falls inside an escape.
func (d *ExecDriver) Start(ctx context.Context, w *modelgate.Workspace, creds map[string]string) error {
	if strings.TrimSpace(d.Command) == "" {
		return errors.New("exec: no command configured")
	}
	shell := d.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	cmd := newCommand(ctx, shell, d.Command)
	cmd.Env = d.env(w, creds)
	cmd.Dir = d.Dir
	tail := &tailBuffer{max: StderrTailBytes}
	cmd.Stderr = tail
	cmd.WaitDelay = execWaitDelay

	err := run(cmd)
	if err == nil {
		return nil
	}
	reason := err.Error()
	stderr := tail.String()
	if ctx.Err() != nil {
		reason = "killed at the attempt deadline (" + reason + ")"
		// Killed mid-write, the command may have printed half a value.
		stderr = trimCutCredentialEnd(stderr, creds)
	}
	if tail.truncated {
		stderr = "…" + trimCutCredential(stderr, creds)
	}
	stderr = strings.TrimSpace(stderr)
	if stderr == "" {
		return fmt.Errorf("exec: %s; stderr was empty", reason)
	}
	return fmt.Errorf("exec: %s; stderr: %s", reason, stderr)
}

// env builds the command's environment. Later entries win over earlier
// ones, so the workspace variables cannot be shadowed by a credential name.
func (d *ExecDriver) env(w *modelgate.Workspace, creds map[string]string) []string {
	base := d.BaseEnv
	if base == nil {
		path := os.Getenv("PATH")
		if path == "" {
			path = "/usr/local/bin:/usr/bin:/bin"
		}
		base = []string{"PATH=" + path}
		if home := os.Getenv("HOME"); home != "" {
			base = append(base, "HOME="+home)
		}
	}
	env := slices.Clone(base)
	names := make([]string, 0, len(creds))
	for name := range creds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		env = append(env, name+"="+creds[name])
	}
	return append(env, WorkspaceEnv(w)...)
}

// WorkspaceEnv returns the MODELGATE_WORKSPACE_* variables describing w, as
// KEY=value. It never fails; empty fields give empty values.
func WorkspaceEnv(w *modelgate.Workspace) []string {
	return []string{
		EnvWorkspaceID + "=" + w.ID,
		EnvWorkspaceOrg + "=" + w.Org,
		EnvWorkspaceName + "=" + w.Name,
		EnvWorkspaceRole + "=" + w.Role,
		EnvWorkspaceTier + "=" + strconv.Itoa(w.Tier),
		EnvWorkspaceRuntime + "=" + w.Runtime,
		EnvWorkspaceModel + "=" + w.Model,
		EnvWorkspaceProvider + "=" + w.Provider,
		EnvWorkspaceParentID + "=" + w.ParentID,
		EnvWorkspaceAttempt + "=" + strconv.Itoa(w.Attempts),
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max       int
	buf       []byte
	truncated bool
}

// Write keeps the end of p; it never fails. os/exec calls it from one
// goroutine only.
func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.truncated = t.truncated || len(t.buf) > 0 || len(p) > t.max
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// trimCutCredential removes from the start of a tail what the cut left of a
// credential value: a suffix of it in any form the redactor finds, even one
// that starts inside an escape ("2Fbbbb%2Fcccc" of a value with slashes,
// URL-escaped), which redacting whole values cannot catch. Whole values
// later in the tail are redacted by the provisioner.
func trimCutCredential(tail string, creds map[string]string) string {
	return credentialRedactor(creds).TrimCutStart(tail)
}

// trimCutCredentialEnd removes from the end of s what a command killed in
// the middle of printing a credential value left of it: a prefix of it in
// any form the redactor finds, even one that ends inside an escape.
func trimCutCredentialEnd(s string, creds map[string]string) string {
	return credentialRedactor(creds).TrimCutEnd(s)
}

// credentialRedactor returns a redactor of the values of creds.
func credentialRedactor(creds map[string]string) *secrets.Redactor {
	return secrets.NewRedactor(slices.Collect(maps.Values(creds))...)
}
