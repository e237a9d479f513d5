package main

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
)

// serveGCPercent is the garbage collector's target (GOGC) under serve when
// the environment sets no GOGC.
//
// The server's live heap is small (a few MB with the SQLite or PostgreSQL
// store: requests in flight, caches, prepared statements) while every
// create allocates about 30 KB, so under Go's default of 100 the collector
// runs every few hundred requests and its fixed cost per cycle (stack
// scans, the mark workers taking a processor, assists) adds up: measured
// here under the load script (sqlite create, 16 connections, 2 cores,
// eight alternating runs each), the server used 299 µs of CPU per create
// at 100 and 239 µs at 400, and answered 0.143× against 0.171× of the
// bare handler; 800 and 1600 gained nothing over 400. The price is a heap
// up to five times the live data instead of twice (33 MB → 45 MB of RSS
// under that load), which with the memory store, whose live heap is every
// meeting, can be a lot: set GOGC (or GOMEMLIMIT) to choose otherwise.
const serveGCPercent = 400

// tuneGC sets the collector's target to serveGCPercent unless GOGC is set
// (the runtime has then applied it), and returns the target in effect.
func tuneGC(getenv func(string) string) int {
	if getenv("GOGC") == "" {
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
