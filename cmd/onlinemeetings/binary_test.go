package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// raceEnabled reports whether the test runs under -race (race_test.go).
var raceEnabled bool

// buildBinary returns the command built once per test binary (with -race
// when the tests have it) into a folder TestMain removes at the end.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	built.once.Do(func() { built.path, built.err = build() })
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// built is the binary buildBinary made, shared by every test.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func build() (string, error) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go tool not found: %w", err)
	}
	if built.dir, err = os.MkdirTemp("", "onlinemeetings-bin-"); err != nil {
		return "", err
	}
	bin := filepath.Join(built.dir, "onlinemeetings")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command(gotool, append(args, ".")...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// cleanEnv is the test's environment without any ONLINEMEETINGS_ variable.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	return env
}

// TestBinary runs the built program: exit statuses, where it writes, that
// bad configuration stops it before it touches the data folder or listens,
// and that SIGTERM stops a running server with status 0.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // a substring; "" means stdout must be empty
		wantStderr string // exactly; "-" means anything
	}{
		{
			name:       "issuer without audience",
			args:       []string{"serve", "--issuer", "https://x.example"},
			wantCode:   2,
			wantStderr: "onlinemeetings: --audience is required with --issuer\n",
		},
		{
			name:       "bad store",
			args:       []string{"serve", "--store", "mysql://db/om"},
			wantCode:   2,
			wantStderr: "onlinemeetings: --store \"mysql://db/om\": want sqlite://PATH, postgres://... or memory:\n",
		},
		{name: "serve help", args: []string{"serve", "--help"}, wantCode: 0, wantStdout: "ONLINEMEETINGS_AUDIO_DIALIN_URL"},
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: "onlinemeetings "},
		{name: "no command", args: nil, wantCode: 2, wantStderr: "-"},
		{name: "unknown command", args: []string{"frob"}, wantCode: 2, wantStderr: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			// A server that got as far as listening would not exit: the
			// timeout turns that into a failure.
			args := tt.args
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Dir = dir // the default ./data would be created here
			cmd.Env = cleanEnv()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("%q did not exit within 20 s (it should fail before listening)", args)
			}
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			if code != tt.wantCode {
				t.Errorf("%q exit status = %d, want %d; stderr: %q", args, code, tt.wantCode, stderr.String())
			}
			if tt.wantStderr != "-" && stderr.String() != tt.wantStderr {
				t.Errorf("%q stderr = %q, want %q", args, stderr.String(), tt.wantStderr)
			}
			if tt.wantStdout == "" && stdout.Len() > 0 {
				t.Errorf("%q stdout = %q, want nothing", args, stdout.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("%q stdout = %q, want it to contain %q", args, stdout.String(), tt.wantStdout)
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%q created ./data (Stat = %v), want nothing written", args, err)
			}
		})
	}

	t.Run("SIGTERM", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no SIGTERM on Windows")
		}
		srv := startBinary(t, bin, "--data-dir", t.TempDir(), "--log-format", "json")
		srv.stop(t) // SIGTERM; wants exit status 0
		if !strings.Contains(srv.stdout.String(), "curl") {
			t.Errorf("serve stdout = %q, want the curl hint", srv.stdout.String())
		}
		if !strings.Contains(srv.stderr.String(), `"msg":"stopped"`) {
			t.Errorf("serve stderr = %q, want a JSON log line with msg stopped", srv.stderr.String())
		}
	})
}

// TestBinarySIGHUP sends the built program a real SIGHUP, with and without
// an access policy file: the server logs it and goes on serving, and a
// SIGTERM then still drains and exits with status 0. SIGHUP's default action
// ends a process at once, without the drain, and it is what a supervisor's
// reload sends (systemd's ExecReload), so an operator who reloads a server
// started without --access-policy must not lose it and its in-flight
// requests.
func TestBinarySIGHUP(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGHUP on Windows")
	}
	bin := buildBinary(t)

	tests := []struct {
		name    string
		policy  string // contents of the --access-policy file; "" means no flag
		wantLog string
	}{
		{name: "no access policy", wantLog: `"msg":"SIGHUP ignored: no --access-policy to reload"`},
		{name: "access policy", policy: "policies: []\n", wantLog: `"msg":"access policy reloaded"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--data-dir", dir, "--store", "memory:", "--log-format", "json"}
			if tt.policy != "" {
				path := filepath.Join(dir, "policy.yaml")
				if err := os.WriteFile(path, []byte(tt.policy), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--access-policy", path)
			}
			srv := startBinary(t, bin, args...)

			if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(srv.stderr.String(), tt.wantLog); time.Sleep(10 * time.Millisecond) {
				select {
				case err := <-srv.done:
					srv.done <- err
					t.Fatalf("serve exited on SIGHUP: %v, want it to go on serving\nstderr:\n%s", err, srv.stderr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("no log line %s within 5 s of SIGHUP\nstderr:\n%s", tt.wantLog, srv.stderr.String())
				}
			}
			if err := srv.waitReady(); err != nil {
				t.Errorf("/readyz after SIGHUP: %v, want the server still serving\nstderr:\n%s", err, srv.stderr.String())
			}
			srv.stop(t) // SIGTERM; wants exit status 0
		})
	}
}
