package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestConnTrackerDrain checks that connections without a complete request
// (one silent, one halfway through its headers) are left alone until
// Shutdown begins, and then do not hold it up: the drain closes both at
// once, and Shutdown returns nil long before the 5 s that net/http alone
// would wait for them (Go issue 22682).
func TestConnTrackerDrain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := newConnTracker()
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		ConnState:         conns.connState,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)

	var clients []net.Conn
	for _, sent := range []string{"", "GET /partial HTTP/1.1\r\nHost: x\r\n"} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, sent); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		conns.mu.Lock()
		n := len(conns.conns)
		conns.mu.Unlock()
		if n == len(clients) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections tracked, want %d", n, len(clients))
		}
		time.Sleep(5 * time.Millisecond)
	}

	drained := make(chan struct{})
	conns.closeOnShutdown(srv, drained, 10*time.Millisecond)

	// Nothing is closed before Shutdown begins: until then net/http may
	// still serve a request that has just arrived on a StateNew connection.
	time.Sleep(100 * time.Millisecond)
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, err := c.Read(make([]byte, 64)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("client %d before Shutdown: read %d bytes, err %v; want the connection left open", i, n, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	close(drained)
	if took := time.Since(start); err != nil || took > 2*time.Second {
		t.Errorf("Shutdown = %v after %s; want nil at once", err, took)
	}
	for i, c := range clients {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := c.Read(make([]byte, 64)); n != 0 || err == nil {
			t.Errorf("client %d: read %d bytes, err %v; want the connection closed unanswered", i, n, err)
		}
	}
}
