package main

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
)

// serveGCPercent is the garbage collector's target (GOGC) under serve with
// the SQLite or PostgreSQL store when the environment sets no GOGC.
//
// With those stores the server's live heap is small (a few MB: requests in
// flight, caches, prepared statements) while every create allocates about
// 30 KB, so under Go's default of 100 the collector runs every few hundred
// requests and its fixed cost per cycle (stack scans, the mark workers
// taking a processor, assists) adds up. Measured here under the load script
// (create, 16 connections, 2 cores, alternating runs): with SQLite the
// server used 299 µs of CPU per create at 100 and 239 µs at 400, and
// answered 0.143× against 0.171× of the bare handler (8 runs each; 800 and
// 1600 gained nothing over 400); with PostgreSQL 396 against 326 µs and
// 0.085× against 0.095× (5 runs). The price is a heap up to five times the
// live data instead of twice (33 MB → 45 MB of RSS under that load).
//
// The memory store keeps Go's default: there the live heap is every meeting
// and keeps growing, so a larger target only means more fresh memory to
// fault in and clear: at 400 it used 183 µs per create against 165 µs
// (0.305× against 0.339×, 6 runs each).
const serveGCPercent = 400

// tuneGC sets the collector's target to serveGCPercent for a store whose
// live heap stays small (smallHeap) unless GOGC is set (the runtime has
// then applied it), and returns the target in effect.
func tuneGC(getenv func(string) string, smallHeap bool) int {
	if smallHeap && getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	return gcPercent()
}

// gcPercent returns the collector's current target (GOGC), -1 for off,
// without changing it.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[0].Value.Uint64() > math.MaxInt32 {
		return -1 // off reads as -1 converted to uint64
	}
	return int(s[0].Value.Uint64())
}
