// Package pgcluster runs a throwaway PostgreSQL cluster for tests that must
// control the server itself: stop it in the middle of a run, start it again.
// The shared test server (MODELGATE_TEST_DATABASE_URL) cannot be used for
// that, since other tests run on it at the same time.
//
// A cluster is initialised with the installed binaries (initdb, pg_ctl,
// found under /usr/lib/postgresql/<version>/bin, the highest version first,
// or on PATH) in a directory of its own, with trust authentication,
// listening only on 127.0.0.1 at a free port and on a Unix socket in that
// directory. PostgreSQL refuses to run as root, so when the test runs as
// root (as CI does) the directory is given to the postgres user and every
// command runs through `runuser -u postgres --`.
//
// Missing binaries fail the test, unless MODELGATE_TEST_SKIP_POSTGRES=1
// says to skip it: CI must never pass by skipping.
package pgcluster

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Stop modes of pg_ctl (-m).
const (
	// Immediate kills every server process at once, as a crash would;
	// the next start runs crash recovery.
	Immediate = "immediate"
	// Fast disconnects the clients, rolls back their transactions and
	// shuts down cleanly.
	Fast = "fast"
)

// SkipEnv is the variable that, set to 1, lets a test skip when the
// PostgreSQL binaries are missing.
const SkipEnv = "MODELGATE_TEST_SKIP_POSTGRES"

// startTimeout bounds pg_ctl start and stop (-t, in seconds).
const startTimeout = 60

// Cluster is a running (or stopped) test cluster. Its methods are not safe
// for concurrent use.
type Cluster struct {
	bin  string // directory of initdb and pg_ctl
	dir  string // owns everything: data, socket, log
	data string
	log  string
	port int
	// runAs is the user the commands run as ("" = the current user).
	runAs string
}

// Start initialises a cluster in a new temporary directory, starts it, and
// registers a cleanup that stops it (immediately) and removes the
// directory, whatever the test's outcome. It fails tb if the cluster cannot
// be started, and skips tb only when the binaries are missing and
// MODELGATE_TEST_SKIP_POSTGRES=1.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := findBin()
	if err != nil {
		if os.Getenv(SkipEnv) == "1" {
			tb.Skipf("%s=1: %v", SkipEnv, err)
		}
		tb.Fatalf("pgcluster: %v (install PostgreSQL's server binaries, or set %s=1 to skip)", err, SkipEnv)
	}
	c := &Cluster{bin: bin}
	// Not tb.TempDir: its parent directories are private to the current
	// user, and the server may run as another.
	c.dir, err = os.MkdirTemp("", "pgcluster-")
	if err != nil {
		tb.Fatalf("pgcluster: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Stop(Immediate); err != nil && !errors.Is(err, errNotRunning) {
			tb.Errorf("pgcluster: stop at cleanup: %v", err)
		}
		os.RemoveAll(c.dir)
	})
	c.data = filepath.Join(c.dir, "data")
	c.log = filepath.Join(c.dir, "server.log")
	if os.Geteuid() == 0 {
		if err := c.giveToPostgres(); err != nil {
			tb.Fatalf("pgcluster: %v", err)
		}
	}
	if out, err := c.run(filepath.Join(c.bin, "initdb"), "-D", c.data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"); err != nil {
		tb.Fatalf("pgcluster: initdb: %v\n%s", err, out)
	}
	// Another process may take a free port between our check and the
	// server's bind: try a few.
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			tb.Fatalf("pgcluster: %v", err)
		}
		err = c.Start()
		if err == nil {
			return c
		}
		if attempt == 2 {
			tb.Fatalf("pgcluster: %v", err)
		}
	}
}

// giveToPostgres makes the postgres user the owner of the cluster's
// directory and the user its commands run as.
func (c *Cluster) giveToPostgres() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(c.dir, uid, gid); err != nil {
		return err
	}
	if _, err := exec.LookPath("runuser"); err != nil {
		return fmt.Errorf("running as root needs runuser: %w", err)
	}
	c.runAs = "postgres"
	return nil
}

// URL returns the URL of the cluster's postgres database as the postgres
// superuser, over TCP on 127.0.0.1.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Port returns the TCP port the cluster listens on; it does not change
// across Stop and Start.
func (c *Cluster) Port() int { return c.port }

// Start starts the stopped cluster on its port and returns once it accepts
// connections. It returns pg_ctl's error and the server log's tail if it
// does not.
func (c *Cluster) Start() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=50 -c shared_buffers=16MB",
		c.port, shellQuote(c.dir))
	out, err := c.run(filepath.Join(c.bin, "pg_ctl"), "start", "-w", "-t", strconv.Itoa(startTimeout),
		"-D", c.data, "-l", c.log, "-o", opts)
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, c.logTail())
	}
	return nil
}

var errNotRunning = errors.New("not running")

// Stop stops the cluster with pg_ctl's mode (Immediate, Fast) and returns
// once every server process has exited. It returns an error wrapping
// errNotRunning if the cluster was not running.
func (c *Cluster) Stop(mode string) error {
	// pg_ctl status exits with 3 when no server runs on the directory, and
	// with 4 when there is no cluster there (initdb failed).
	if _, err := c.run(filepath.Join(c.bin, "pg_ctl"), "status", "-D", c.data); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && (exit.ExitCode() == 3 || exit.ExitCode() == 4) {
			return fmt.Errorf("pg_ctl stop: %w", errNotRunning)
		}
	}
	out, err := c.run(filepath.Join(c.bin, "pg_ctl"), "stop", "-w", "-t", strconv.Itoa(startTimeout), "-D", c.data, "-m", mode)
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	return nil
}

// run runs a PostgreSQL command as the cluster's user, in its directory
// (so that a command running as postgres never starts in a directory it
// may not enter), and returns its combined output.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	if c.runAs != "" {
		args = append([]string{"-u", c.runAs, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	return cmd.CombinedOutput()
}

// logTail returns the end of the server log, for error messages.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return "server log:\n" + string(b)
}

// findBin returns the directory holding initdb and pg_ctl: the highest
// version under /usr/lib/postgresql (Debian, Ubuntu), else the directory of
// the ones on PATH.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on PATH")
	}
	initdb, _ = filepath.EvalSymlinks(initdb)
	d := filepath.Dir(initdb)
	if !executable(filepath.Join(d, "pg_ctl")) {
		return "", fmt.Errorf("initdb found in %s but no pg_ctl beside it", d)
	}
	return d, nil
}

// versionOf returns the major version in a path such as
// /usr/lib/postgresql/15/bin, 0 if there is none.
func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// shellQuote quotes s for the shell pg_ctl starts the server with.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
