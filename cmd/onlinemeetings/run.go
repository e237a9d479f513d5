package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// version is stamped by the Makefile (-ldflags "-X main.version=...").
var version = "dev"

// envPrefix is the prefix of the environment variables that back every flag:
// ONLINEMEETINGS_ + the flag name in upper case with '-' → '_'.
const envPrefix = "ONLINEMEETINGS_"

// usageError is a command-line or configuration mistake: reported in one
// line, exit status 2, before the server listens.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// loggedError is an error the command has already written to its log
// (serve with --log-format json): the exit code still follows err, but it
// is not printed again.
type loggedError struct{ err error }

func (e *loggedError) Error() string { return e.err.Error() }
func (e *loggedError) Unwrap() error { return e.err }

// errHelp is returned after help was printed on request (exit status 0).
var errHelp = errors.New("help requested")

const rootUsage = `onlinemeetings: a self-hosted Microsoft Graph onlineMeeting API server.

Usage:
  onlinemeetings serve [flags]     run the server
  onlinemeetings token [flags]     print an access token signed by the built-in dev issuer
  onlinemeetings version           print the version
  onlinemeetings help [command]    show help

Every flag can also be set with an environment variable: ONLINEMEETINGS_ and the
flag name in upper case with '-' as '_' (e.g. --public-url → ONLINEMEETINGS_PUBLIC_URL).
A flag on the command line wins over the environment.
`

const versionUsage = `Usage: onlinemeetings version

Prints the version of this build (the commit it was built from, stamped by the
Makefile; "dev" for a plain go build) and exits.
`

// runVersion prints the version, or its help for -h/--help. It takes no
// other arguments.
func runVersion(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			fmt.Fprint(stdout, versionUsage)
			return errHelp
		}
		return usagef("version takes no arguments, got %q", args[0])
	}
	fmt.Fprintln(stdout, "onlinemeetings", version)
	return nil
}

// run is the whole program: it dispatches on the first argument. main only
// wires it to the process (signals, arguments, environment, exit code).
// environ is the process environment (os.Environ's KEY=value strings).
func run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, rootUsage)
		return &usageError{}
	}
	env := newEnvironment(environ)
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = runServe(ctx, rest, env, stdout, stderr)
	case "token":
		err = runToken(rest, env.get, stdout, stderr)
	case "version", "--version", "-version":
		err = runVersion(rest, stdout)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return run(ctx, []string{rest[0], "--help"}, environ, stdout, stderr)
		}
		fmt.Fprint(stdout, rootUsage)
	default:
		fmt.Fprint(stderr, rootUsage)
		return usagef("unknown command %q", cmd)
	}
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// parseFlags parses args into fs, then fills every flag not given on the
// command line from its environment variable. Help goes to stdout.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return errHelp
		}
		return usagef("%s: %v (see --help)", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q (see --help)", fs.Name(), fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				// flag's own error says only "parse error" for numbers and
				// durations: say what --name wants instead.
				kind, _ := flag.UnquoteUsage(f)
				if kind == "" {
					kind = "value"
				}
				err = usagef("%s=%q: not a valid %s for --%s", name, v, kind, f.Name)
				if e.Error() != "parse error" { // flag's errParse says nothing more
					err = usagef("%s=%q: not a valid %s for --%s: %v", name, v, kind, f.Name, e)
				}
			}
		}
	})
	return err
}

// envName is the environment variable behind flag name.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// setUsage gives fs a help text: a summary and every flag with its variable.
func setUsage(fs *flag.FlagSet, summary string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: onlinemeetings %s [flags]\n\n%s\n\nFlags:\n", fs.Name(), summary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "0s" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s\n        %s%s\n        env %s\n", f.Name, f.Usage, def, envName(f.Name))
		})
	}
}
