package main

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC checks that serve raises the collector's target to
// serveGCPercent only for a store with a small live heap and only when GOGC
// is unset, and reports the target in effect.
func TestTuneGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	tests := []struct {
		name      string
		gogc      string // the environment's GOGC
		applied   int    // the percent the runtime took from it at start (-1 = off)
		smallHeap bool
		want      int
	}{
		{name: "unset", gogc: "", applied: 100, smallHeap: true, want: serveGCPercent},
		{name: "unset, memory store", gogc: "", applied: 100, smallHeap: false, want: 100},
		{name: "set", gogc: "150", applied: 150, smallHeap: true, want: 150},
		{name: "set to the default", gogc: "100", applied: 100, smallHeap: true, want: 100},
		{name: "off", gogc: "off", applied: -1, smallHeap: true, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetGCPercent(tt.applied)
			getenv := func(k string) string {
				if k == "GOGC" {
					return tt.gogc
				}
				return ""
			}
			if got := tuneGC(getenv, tt.smallHeap); got != tt.want {
				t.Errorf("tuneGC() = %d, want %d", got, tt.want)
			}
			if got := debug.SetGCPercent(100); got != tt.want {
				t.Errorf("GC percent in effect = %d, want %d", got, tt.want)
			}
		})
	}
}
