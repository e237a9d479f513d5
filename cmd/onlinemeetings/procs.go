package main

import "runtime"

// tuneProcs gives the Go scheduler one processor (P) more than the runtime
// would (the CPUs the process may use, or its container's CPU limit),
// unless the environment sets GOMAXPROCS, and returns the count in effect.
//
// Measured here under the load script (16 connections, 2 CPUs, alternating
// rounds, 3 Ps against 2): SQLite create 0.155× → 0.172× of the bare
// handler and 146 → 136 µs of CPU per create (6 rounds), get unchanged;
// memory create 0.302× → 0.323× (4 rounds); PostgreSQL create 0.090× →
// 0.095× (4 rounds); 4 Ps did no better than 3. Before the SQLite writer
// had an OS thread of its own, 3 and 4 Ps made no difference. The likely
// reason, not measured apart: the writer spends about half its time
// blocked in fsync, and a goroutine returning from a blocking system call
// needs a free P to go on; with one P per CPU both are usually busy with
// HTTP handlers, and the writer, which every create of its batch waits
// for, queues behind them. A spare P is usually free.
//
// An explicit count stops the runtime from following later changes of a
// container's CPU limit (Go 1.25 and later do); set GOMAXPROCS to keep
// that, or to choose the count.
func tuneProcs(getenv func(string) string) int {
	if getenv("GOMAXPROCS") == "" {
		// From the runtime's own default every time, so that calling this
		// again (tests run serve many times in one process) adds nothing.
		runtime.SetDefaultGOMAXPROCS()
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	return runtime.GOMAXPROCS(0)
}
