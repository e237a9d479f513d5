package main

import (
	"slices"
	"strings"
	"sync"
)

// environment is the process environment as run sees it: get reads a
// variable, as os.Getenv does, and remembers the name, so that unread can
// tell which ONLINEMEETINGS_ variables the command never looked at. A
// misspelled setting (ONLINEMEETINGS_ISUER) is otherwise silently ignored,
// and with --issuer that means dev mode.
type environment struct {
	vars map[string]string // the first value of each name, as os.Getenv

	mu   sync.Mutex
	read map[string]bool
}

// notSettings are ONLINEMEETINGS_ variables that are read by tools around
// the binary, not by it: the tests' PostgreSQL URL and the client checks'
// binary path.
var notSettings = map[string]bool{
	envPrefix + "TEST_POSTGRES_URL": true,
	envPrefix + "BIN":               true,
}

// newEnvironment reads environ, KEY=value strings as os.Environ returns
// them; nil is an empty environment.
func newEnvironment(environ []string) *environment {
	e := &environment{vars: map[string]string{}, read: map[string]bool{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if _, seen := e.vars[k]; ok && !seen {
			e.vars[k] = v
		}
	}
	return e
}

// get returns the value of name, "" when it is not set.
func (e *environment) get(name string) string {
	e.mu.Lock()
	e.read[name] = true
	e.mu.Unlock()
	return e.vars[name]
}

// unread returns the names of the set ONLINEMEETINGS_ variables that get
// was never asked for (no flag of the command reads them), sorted, each
// with the most similar name that was read when one is close enough to be
// a misspelling of it ("" otherwise).
func (e *environment) unread() (names, suggestions []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := range e.vars {
		if strings.HasPrefix(k, envPrefix) && !e.read[k] && !notSettings[k] {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		best, bestD := "", 3 // at most two edits away
		for r := range e.read {
			if !strings.HasPrefix(r, envPrefix) {
				continue
			}
			if d := editDistance(k, r); d < bestD || (d == bestD && r < best) {
				best, bestD = r, d
			}
		}
		suggestions = append(suggestions, best)
	}
	return names, suggestions
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
