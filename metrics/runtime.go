package metrics

import (
	"runtime"
	"runtime/debug"
	"time"
)

// collectGo adds the Go runtime's metrics: a subset of what Prometheus' Go
// client exposes by default, under the same names, types and HELP texts, so
// the usual Go dashboards keep working:
//
//	go_info{version}                     the Go version (value 1)
//	go_goroutines, go_threads            goroutines now; OS threads created
//	go_sched_gomaxprocs_threads          GOMAXPROCS
//	go_gc_duration_seconds               summary of GC stop-the-world pauses (quantiles 0, .25, .5, .75, 1)
//	go_gc_gomemlimit_bytes               the soft memory limit (GOMEMLIMIT)
//	go_memstats_alloc_bytes, go_memstats_heap_alloc_bytes, go_memstats_alloc_bytes_total,
//	go_memstats_heap_inuse_bytes, go_memstats_heap_idle_bytes, go_memstats_heap_released_bytes,
//	go_memstats_heap_sys_bytes, go_memstats_heap_objects, go_memstats_mallocs_total,
//	go_memstats_frees_total, go_memstats_stack_inuse_bytes, go_memstats_sys_bytes,
//	go_memstats_next_gc_bytes, go_memstats_last_gc_time_seconds
//
// Left out: go_gc_gogc_percent (GOGC can only be read through
// runtime/metrics, whose package set-up costs about 0.1 ms at every start
// of every command) and the runtime's internal allocator classes (mspan,
// mcache, bucket hash, GC and other metadata). The values come from
// runtime.ReadMemStats, which stops the world for a few microseconds, once
// per scrape.
func collectGo(fams []family) []family {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	threads, _ := runtime.ThreadCreateProfile(nil)

	pauses := family{name: "go_gc_duration_seconds", typ: typeSummary,
		help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles."}
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		pauses.samples = append(pauses.samples, sample{labels: []labelPair{{"quantile", q}}, value: gc.PauseQuantiles[i].Seconds()})
	}
	pauses.samples = append(pauses.samples,
		sample{suffix: "_sum", value: gc.PauseTotal.Seconds()},
		sample{suffix: "_count", value: float64(gc.NumGC)})

	return append(fams, pauses,
		family{name: "go_info", help: "Information about the Go environment.", typ: typeGauge,
			samples: []sample{{labels: []labelPair{{"version", runtime.Version()}}, value: 1}}},
		single("go_goroutines", "Number of goroutines that currently exist.", typeGauge, float64(runtime.NumGoroutine())),
		single("go_threads", "Number of OS threads created.", typeGauge, float64(threads)),
		single("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads.",
			typeGauge, float64(runtime.GOMAXPROCS(0))),
		single("go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.",
			typeGauge, float64(debug.SetMemoryLimit(-1))), // a negative limit reads it without changing it
		single("go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.",
			typeGauge, float64(ms.Alloc)),
		single("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.",
			typeGauge, float64(ms.HeapAlloc)),
		single("go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.",
			typeCounter, float64(ms.TotalAlloc)),
		single("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes",
			typeGauge, float64(ms.HeapInuse)),
		single("go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.",
			typeGauge, float64(ms.HeapIdle)),
		single("go_memstats_heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.",
			typeGauge, float64(ms.HeapReleased)),
		single("go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.",
			typeGauge, float64(ms.HeapSys)),
		single("go_memstats_heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.",
			typeGauge, float64(ms.HeapObjects)),
		single("go_memstats_mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.",
			typeCounter, float64(ms.Mallocs)),
		single("go_memstats_frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.",
			typeCounter, float64(ms.Frees)),
		single("go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.",
			typeGauge, float64(ms.StackInuse)),
		single("go_memstats_sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.",
			typeGauge, float64(ms.Sys)),
		single("go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.",
			typeGauge, float64(ms.NextGC)),
		single("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.",
			typeGauge, float64(ms.LastGC)/1e9),
	)
}
