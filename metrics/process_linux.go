package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// userHZ is the unit of the times in /proc/PID/stat: the kernel reports
// them in USER_HZ clock ticks, which Linux fixes at 100 on every
// architecture Go supports (Prometheus' procfs assumes the same).
const userHZ = 100

// collectProcess adds the process metrics Prometheus' Go client exposes on
// Linux, under the same names and meanings, read from /proc/self at scrape
// time:
//
//	process_cpu_seconds_total           user and system CPU time
//	process_resident_memory_bytes       resident set size
//	process_virtual_memory_bytes        virtual memory size
//	process_virtual_memory_max_bytes    the address-space limit (RLIMIT_AS)
//	process_open_fds, process_max_fds   open file descriptors, and their limit (RLIMIT_NOFILE)
//	process_start_time_seconds          when the process started, in Unix seconds
//
// Left out: process_network_*_bytes_total, which count the whole network
// namespace, not this process. A value that cannot be read is left out of
// that scrape; the rest of the scrape is served.
func collectProcess(fams []family) []family {
	if st, err := readProcStat(); err == nil {
		fams = append(fams,
			single("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
				typeCounter, float64(st.utime+st.stime)/userHZ),
			single("process_resident_memory_bytes", "Resident memory size in bytes.",
				typeGauge, float64(st.rss)*float64(os.Getpagesize())),
			single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
				typeGauge, float64(st.vsize)))
		if boot, err := bootTime(); err == nil {
			fams = append(fams, single("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
				typeGauge, float64(boot)+float64(st.starttime)/userHZ))
		}
	}
	if n, err := openFDs(); err == nil {
		fams = append(fams, single("process_open_fds", "Number of open file descriptors.", typeGauge, float64(n)))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		fams = append(fams, single("process_max_fds", "Maximum number of open file descriptors.", typeGauge, float64(lim.Cur)))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		fams = append(fams, single("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.",
			typeGauge, float64(lim.Cur)))
	}
	return fams
}

// procStat holds the fields of /proc/PID/stat that the process metrics use.
type procStat struct {
	utime, stime uint64 // CPU time in user and kernel mode, in USER_HZ ticks
	starttime    uint64 // start after boot, in USER_HZ ticks
	vsize        uint64 // bytes
	rss          uint64 // pages
}

func readProcStat() (procStat, error) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

// parseProcStat reads /proc/PID/stat (proc(5)). The command name, field 2,
// is in parentheses and may itself hold spaces and parentheses, so the
// fields are counted from the last ')'.
func parseProcStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errors.New("/proc/self/stat: no command name")
	}
	f := bytes.Fields(data[i+1:]) // f[0] is field 3, state
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("/proc/self/stat: %d fields after the command name, want at least 22", len(f))
	}
	var v [5]uint64
	for i, k := range []int{14, 15, 22, 23, 24} { // utime, stime, starttime, vsize, rss: fields of proc(5), counted from 1
		n, err := strconv.ParseUint(string(f[k-3]), 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("/proc/self/stat field %d: %w", k, err)
		}
		v[i] = n
	}
	st := procStat{utime: v[0], stime: v[1], starttime: v[2], vsize: v[3], rss: v[4]}
	return st, nil
}

// bootTime returns the system's boot time in Unix seconds, from the btime
// line of /proc/stat.
func bootTime() (int64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, errors.New("/proc/stat: no btime line")
}

// openFDs counts the entries of /proc/self/fd (the descriptor that reads
// it included, as Prometheus' client counts).
func openFDs() (int, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	return len(names), err
}
