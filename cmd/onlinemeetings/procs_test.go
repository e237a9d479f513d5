package main

import (
	"runtime"
	"testing"
)

// TestTuneProcs checks that serve adds one P to the runtime's default, the
// same one however often it runs, and leaves an explicit GOMAXPROCS alone.
func TestTuneProcs(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)

	unset := func(string) string { return "" }
	for i := range 3 {
		if got := tuneProcs(unset); got != def+1 {
			t.Fatalf("call %d: tuneProcs() = %d, want the default %d plus one", i+1, got, def)
		}
	}

	runtime.GOMAXPROCS(7) // as the runtime would have from GOMAXPROCS=7
	set := func(k string) string {
		if k == "GOMAXPROCS" {
			return "7"
		}
		return ""
	}
	if got := tuneProcs(set); got != 7 {
		t.Errorf("with GOMAXPROCS=7: tuneProcs() = %d, want 7", got)
	}
}
