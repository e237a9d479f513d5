// Command onlinemeetings is a self-hosted server for the Microsoft Graph v1.0
// onlineMeeting API.
//
//	onlinemeetings serve     run the server (embedded SQLite and dev token issuer by default)
//	onlinemeetings token     print a token signed by the dev issuer
//	onlinemeetings version   print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err on stderr and returns the process exit code: 0 on
// success, 2 for usage and configuration errors, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	code, msg := 1, err.Error()
	var ue *usageError
	if errors.As(err, &ue) {
		code, msg = 2, ue.msg
	}
	var le *loggedError
	if msg != "" && !errors.As(err, &le) { // a logged error is in the log already
		fmt.Fprintln(stderr, "onlinemeetings:", msg)
	}
	return code
}
