//go:build linux

package provisioner_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provisioner"
)

// goneBound bounds the wait for a killed process to end: it fails a test
// whose process never ends, not a slow one.
const goneBound = 20 * time.Second

// reportingCommand is an exec command that starts a grandchild (sleep),
// writes the shell's and the grandchild's pids to fifo and waits.
func reportingCommand(fifo string) string {
	return fmt.Sprintf(`sleep 300 & echo $$ $! > '%s'; wait`, fifo)
}

// watched is a process of a command under test, opened as a pidfd so that
// its end can be awaited (it is not our child) and its pid cannot be
// reused meanwhile.
type watched struct {
	name string
	pid  int
	fd   int
}

// commandProcesses makes a FIFO, calls start with its path, and returns the
// processes of the command that start ran with reportingCommand: its shell,
// the grandchild, and the leader of their process group. It fails the test
// if stopped is closed before the command reported. On cleanup it kills the
// group, so a failed test leaves no sleep behind.
func commandProcesses(t *testing.T, start func(fifo string), stopped <-chan struct{}) []watched {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "pids")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	start(fifo)
	line := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until the command opens it to write
		if err != nil {
			line <- ""
			return
		}
		defer f.Close()
		s, _ := bufio.NewReader(f).ReadString('\n')
		line <- s
	}()
	var got string
	select {
	case got = <-line:
	case <-stopped:
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close() // let the reader go
		}
		t.Fatal("the command ended before it reported its pids")
	}
	var shell, child int
	if _, err := fmt.Sscan(got, &shell, &child); err != nil {
		t.Fatalf("command reported %q: %v", got, err)
	}
	leader := processGroup(t, shell)
	t.Cleanup(func() { syscall.Kill(-leader, syscall.SIGKILL) })
	if leader == os.Getpid() || leader == syscall.Getpgrp() {
		t.Fatalf("the command runs in the test's process group %d", leader)
	}
	var ps []watched
	for _, p := range []struct {
		name string
		pid  int
	}{{"the command's shell", shell}, {"its child", child}, {"the group leader", leader}} {
		fd, err := unix.PidfdOpen(p.pid, 0)
		if err != nil {
			t.Fatalf("pidfd_open %s (%d): %v", p.name, p.pid, err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		ps = append(ps, watched{p.name, p.pid, fd})
	}
	return ps
}

// processGroup returns the process group of pid, from /proc.
func processGroup(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	pgrp, err := strconv.Atoi(fields[2])
	if err != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	return pgrp
}

// requireGone waits for each process to end and fails the test for each
// that is still running after goneBound.
func requireGone(t *testing.T, ps []watched) {
	t.Helper()
	deadline := time.Now().Add(goneBound)
	for _, p := range ps {
		for {
			// A pidfd becomes readable when its process ends.
			fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
			n, err := unix.Poll(fds, int(max(time.Until(deadline), 0).Milliseconds()))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				t.Fatalf("poll %s: %v", p.name, err)
			}
			if n == 0 {
				t.Errorf("%s (pid %d) still runs %s after it should have been killed", p.name, p.pid, goneBound)
			}
			break
		}
	}
}

// A server killed with SIGKILL runs no code, yet the command it started,
// and what the command started, must not outlive it with the credentials in
// their environment: here a real process (this test binary, playing the
// server) runs the exec driver with a command whose child sleeps, and is
// killed.
func TestExecDriver_ServerKilledWithSIGKILLTakesTheCommandAndItsChildrenWithIt(t *testing.T) {
	t.Parallel()
	server := exec.Command(os.Args[0], "-test.run=^$")
	server.Stderr = os.Stderr
	exited := make(chan struct{})
	ps := commandProcesses(t, func(fifo string) {
		server.Env = append(os.Environ(), execHelperEnv+"="+reportingCommand(fifo))
		if err := server.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { server.Wait(); close(exited) }()
	}, exited)

	if err := server.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	requireGone(t, ps)
}

// The attempt deadline (the end of the driver's context) kills the whole
// process group, so a command's children end with it.
func TestExecDriver_AttemptDeadlineKillsTheCommandsChildrenToo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	var err error
	ps := commandProcesses(t, func(fifo string) {
		d := &provisioner.ExecDriver{Command: reportingCommand(fifo)}
		go func() {
			defer close(done)
			err = d.Start(ctx, &modelgate.Workspace{ID: "w"}, nil)
		}()
	}, done)

	cancel()
	<-done
	if err == nil || !strings.Contains(err.Error(), "killed at the attempt deadline") {
		t.Errorf("Start = %v, want killed at the attempt deadline", err)
	}
	requireGone(t, ps)
}
