//go:build race

package main

// Under -race the test builds the binary with -race too, so that it reuses
// the packages already compiled for the test instead of compiling every
// dependency again (about 40 s on two cores with a cold cache).
func init() { raceEnabled = true }
