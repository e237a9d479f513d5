package main

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// connTracker closes, once the server's Shutdown has begun, the
// connections that have not delivered a complete request yet: a client's
// spare or pre-opened connections, and ones still sending their headers.
//
// net/http never serves such a connection once Shutdown has begun: when its
// request header arrives, the connection is closed unanswered. But Shutdown
// still counts it as active for its first 5 s (Go issue 22682), so without
// this one idle socket makes a SIGTERM wait out --shutdown-timeout and exit
// 1. Closing these connections changes nothing for their clients, and lets
// the drain end as soon as the real requests have.
//
// Only once Shutdown has begun: before that, a connection whose request has
// just been read is still StateNew here (net/http reports StateActive only
// after reading it) and would be served, so closing it would cut off a
// request the server goes on to handle.
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
}

func newConnTracker() *connTracker {
	return &connTracker{conns: make(map[net.Conn]http.ConnState)}
}

// connState is the http.Server's ConnState hook.
func (t *connTracker) connState(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(t.conns, c)
	default:
		t.conns[c] = s
	}
}

// closeNew closes every connection still in StateNew and reports how many
// it closed.
func (t *connTracker) closeNew() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for c, s := range t.conns {
		if s == http.StateNew {
			_ = c.Close()
			delete(t.conns, c)
			n++
		}
	}
	return n
}

// closeOnShutdown arranges for srv's Shutdown to start closeNewUntil(done,
// interval): http.Server runs its OnShutdown functions only after it has
// marked itself as shutting down, which is what makes closing StateNew
// connections safe (see connTracker).
func (t *connTracker) closeOnShutdown(srv *http.Server, done <-chan struct{}, interval time.Duration) {
	srv.RegisterOnShutdown(func() { go t.closeNewUntil(done, interval) })
}

// closeNewUntil calls closeNew every interval until done is closed: a
// connection accepted just before Shutdown closed the listener may be
// registered only after the first call. Call it only once Shutdown has
// begun (closeOnShutdown).
func (t *connTracker) closeNewUntil(done <-chan struct{}, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		t.closeNew()
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}
