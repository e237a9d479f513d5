package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// TestMedian checks the middle value of odd and even counts.
func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		sorted []float64
		want   float64
	}{
		{[]float64{0.2}, 0.2},
		{[]float64{0.1, 0.2, 0.9}, 0.2},
		{[]float64{0.25, 0.5, 1, 4}, 0.75},
	} {
		if got := median(tt.sorted); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.sorted, got, tt.want)
		}
	}
}

// TestCPUTime reads this process's CPU time before and after some work and
// refuses a process that does not exist.
func TestCPUTime(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	self := []int{os.Getpid()}
	before, ok := cpuTime(self)
	if !ok {
		t.Fatal("cpuTime(self) failed")
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after, ok := cpuTime(append(self, self...))
	if !ok || after < 2*before+20*time.Millisecond {
		t.Errorf("cpuTime(self twice) after 50 ms of work = %v, %v; want at least twice %v plus 20 ms", after, ok, before)
	}
	if _, ok := cpuTime([]int{1 << 30}); ok {
		t.Error("cpuTime(no such process) succeeded")
	}
}

// TestList checks comma lists: trimmed, empty items dropped, items outside
// allowed refused, and anything taken when allowed is empty (-bin).
func TestList(t *testing.T) {
	for _, tt := range []struct {
		in      string
		allowed []string
		want    []string
		wantErr bool
	}{
		{in: "sqlite, memory", allowed: []string{"sqlite", "memory"}, want: []string{"sqlite", "memory"}},
		{in: "sqlite,,", allowed: []string{"sqlite"}, want: []string{"sqlite"}},
		{in: "sqlite,mysql", allowed: []string{"sqlite"}, wantErr: true},
		{in: " , ", allowed: []string{"sqlite"}, wantErr: true},
		{in: "bin/onlinemeetings,/tmp/base", want: []string{"bin/onlinemeetings", "/tmp/base"}},
		{in: "", wantErr: true},
	} {
		got, err := list(tt.in, tt.allowed...)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("list(%q, %q) = %q, %v; want %q, error %v", tt.in, tt.allowed, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestCannedMeeting checks the bare handler's meeting is one JSON object
// with bareMeetingID as its id and about the size of a real one.
func TestCannedMeeting(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal([]byte(cannedMeeting), &m); err != nil {
		t.Fatal(err)
	}
	if m["id"] != bareMeetingID {
		t.Errorf("id = %v, want bareMeetingID", m["id"])
	}
	if n := len(cannedMeeting); n < 2000 || n > 3000 {
		t.Errorf("canned meeting is %d bytes, want a real meeting's 2–3 KB", n)
	}
}

// TestStartTargetFailure pins startTarget's error path: a server that cannot
// start is an error, not a panic in the cleanup, and leaves no data folder.
func TestStartTargetFailure(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	_, _, _, stop, err := startTarget(filepath.Join(tmp, "no-such-binary"), "sqlite", "")
	if err == nil {
		stop()
		t.Fatal("startTarget with a missing binary: no error")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("startTarget left %d entries in the temp folder, want none", len(entries))
	}
}
