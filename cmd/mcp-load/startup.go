package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// initializeRequest is the first message a stdio client sends.
const initializeRequest = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp-load","version":"1"}}}` + "\n"

// startKind is one kind of server start measured by measureStartup.
type startKind struct {
	name string
	// cmd returns the command of run i.
	cmd func(i int) *exec.Cmd
}

// measureStartup measures, n times each and interleaved (the order rotates
// every run), the time from starting a process to reading its initialize
// response on stdout: the floor server, modelgate on an existing data dir
// (the embedded store, created beforehand) and modelgate on a fresh one
// (a new empty dir per run). Then it measures the idle RSS of each, one
// second after initialize. It prints the rows of the bench table.
//
// If floorSQLiteBin is set (mcp-floor built with -tags floorsqlite), it is
// measured too, as a reference: the floor plus the embedded store's engine,
// holding a SQLite file open as modelgate does.
func measureStartup(n int, mgBin, floorBin, floorSQLiteBin string) error {
	work, err := os.MkdirTemp("", "mcp-load-startup")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	env := []string{"MODELGATE_LOG_LEVEL=warn", "MODELGATE_ORG=bench"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MODELGATE_") {
			env = append(env, kv)
		}
	}
	mg := func(dir string) *exec.Cmd {
		c := exec.Command(mgBin)
		c.Env = append(slices.Clip(env), "MODELGATE_DATA_DIR="+dir)
		return c
	}
	existing := filepath.Join(work, "existing")
	kinds := []startKind{
		{"floor", func(int) *exec.Cmd { return exec.Command(floorBin, "-transport", "stdio") }},
		{"modelgate, existing data dir", func(int) *exec.Cmd { return mg(existing) }},
		{"modelgate, fresh data dir", func(i int) *exec.Cmd { return mg(filepath.Join(work, fmt.Sprintf("fresh-%d", i))) }},
	}
	if floorSQLiteBin != "" {
		db := filepath.Join(work, "floor.db")
		kinds = append(kinds, startKind{"floor + SQLite engine", func(int) *exec.Cmd {
			return exec.Command(floorSQLiteBin, "-transport", "stdio", "-sqlite", db)
		}})
	}
	// Create the existing data dir, and warm the page cache for both binaries.
	for _, k := range kinds[:2] {
		if _, err := startOnce(k.cmd(-1), 0); err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
	}
	times := make([][]time.Duration, len(kinds))
	for i := range n {
		for j := range kinds {
			k := (i + j) % len(kinds)
			d, err := startOnce(kinds[k].cmd(i), 0)
			if err != nil {
				return fmt.Errorf("%s: %w", kinds[k].name, err)
			}
			times[k] = append(times[k], d)
		}
	}
	fmt.Printf("start → initialize on stdio, %d interleaved runs each:\n", n)
	med := make([]time.Duration, len(kinds))
	for k := range kinds {
		slices.Sort(times[k])
		med[k] = times[k][len(times[k])/2]
		fmt.Printf("  %-30s median %6.1f ms  min %6.1f ms  max %6.1f ms\n", kinds[k].name, ms(med[k]), ms(times[k][0]), ms(times[k][len(times[k])-1]))
	}
	rss := make([]string, len(kinds))
	for k := range kinds {
		var err error
		if rss[k], err = idleRSS(kinds[k].cmd(n + k)); err != nil {
			return fmt.Errorf("%s: %w", kinds[k].name, err)
		}
		fmt.Printf("  %-30s idle RSS after initialize: %s\n", kinds[k].name, rss[k])
	}
	fmt.Printf("| start → initialize, embedded store, existing data dir / floor (median of %d) | %.2f × (%.1f vs %.1f ms) | ≤ 1.25 |\n",
		n, float64(med[1])/float64(med[0]), ms(med[1]), ms(med[0]))
	fmt.Printf("| start → initialize, embedded store, fresh data dir / floor (median of %d) | %.2f × (%.1f vs %.1f ms) | ≤ 1.5 |\n",
		n, float64(med[2])/float64(med[0]), ms(med[2]), ms(med[0]))
	fmt.Printf("| idle RSS after initialize on stdio (modelgate existing dir; floor) | %s; %s | ≤ 16 MB |\n", rss[1], rss[0])
	if len(kinds) > 3 {
		fmt.Printf("| reference: the floor plus the SQLite engine holding a file open (start median; idle RSS) | %.2f × the floor (%.1f ms); %s | report |\n",
			float64(med[3])/float64(med[0]), ms(med[3]), rss[3])
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startOnce starts cmd, sends initialize and returns the time until the
// response line was read; then it closes stdin and waits for the process
// to exit, after keep (so that idleRSS can read its memory meanwhile).
func startOnce(cmd *exec.Cmd, keep time.Duration) (time.Duration, error) {
	d, stop, err := start(cmd)
	if err != nil {
		return 0, err
	}
	time.Sleep(keep)
	return d, stop()
}

func start(cmd *exec.Cmd) (time.Duration, func() error, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	stop := func() error {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("%v: %s", err, stderr.String())
			}
			return nil
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("did not exit 10s after stdin closed")
		}
	}
	if _, err := io.WriteString(stdin, initializeRequest); err != nil {
		stop()
		return 0, nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	d := time.Since(t0)
	if err != nil || !strings.Contains(line, `"result"`) {
		stop()
		return 0, nil, fmt.Errorf("no initialize result (%v): %q %s", err, line, stderr.String())
	}
	return d, stop, nil
}

// idleRSS starts cmd, initializes it, waits a second and returns its VmRSS.
func idleRSS(cmd *exec.Cmd) (string, error) {
	_, stop, err := start(cmd)
	if err != nil {
		return "", err
	}
	time.Sleep(time.Second)
	r := rss(cmd.Process.Pid)
	return r, stop()
}
