package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinemeetings/onlinemeetings/handlers"
)

// env returns a getenv that reads only vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// environ is vars as os.Environ lists them, for run.
func environ(vars map[string]string) []string {
	var kv []string
	for k, v := range vars {
		kv = append(kv, k+"="+v)
	}
	return kv
}

// noEnv is a getenv with nothing set, so the tests never see the
// ONLINEMEETINGS_ variables of the machine running them.
func noEnv(string) string { return "" }

// devDefaults is the configuration of `serve` with no flags and no
// environment; tests change what they expect to differ.
func devDefaults() serveConfig {
	return serveConfig{
		addr:            "127.0.0.1:8080",
		storeURL:        "sqlite://" + filepath.Join("./data", "onlinemeetings.db"),
		audience:        "https://graph.microsoft.com",
		dataDir:         "./data",
		logLevel:        slog.LevelInfo,
		logFormat:       "text",
		shutdownTimeout: 30 * time.Second,
	}
}

func TestParseServeConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(c *serveConfig)
	}{
		{
			name: "dev mode defaults",
			want: func(*serveConfig) {},
		},
		{
			name: "issuer listens on every interface",
			args: []string{"--issuer", "https://login.microsoftonline.com/t/v2.0", "--audience", "api://x"},
			want: func(c *serveConfig) {
				c.issuer = "https://login.microsoftonline.com/t/v2.0"
				c.audience = "api://x"
				c.addr = ":8080"
			},
		},
		{
			name: "single-dash flags and = form",
			args: []string{"-addr=0.0.0.0:9000", "-log-level=DEBUG", "-log-format=json"},
			want: func(c *serveConfig) {
				c.addr = "0.0.0.0:9000"
				c.logLevel = slog.LevelDebug
				c.logFormat = "json"
			},
		},
		{
			name: "public URL trailing slashes trimmed",
			args: []string{"--public-url", "https://meetings.example.com//"},
			want: func(c *serveConfig) { c.publicURL = "https://meetings.example.com" },
		},
		{
			name: "data dir moves the default store",
			args: []string{"--data-dir", "/var/lib/om"},
			want: func(c *serveConfig) {
				c.dataDir = "/var/lib/om"
				c.storeURL = "sqlite:///var/lib/om/onlinemeetings.db"
			},
		},
		{
			name: "explicit store",
			args: []string{"--store", "memory:", "--data-dir", "/tmp/x"},
			want: func(c *serveConfig) {
				c.storeURL = "memory:"
				c.dataDir = "/tmp/x"
			},
		},
		{
			name: "every variable",
			env: map[string]string{
				"ONLINEMEETINGS_ADDR":                   "127.0.0.1:9999",
				"ONLINEMEETINGS_STORE":                  "sqlite:///srv/om.db",
				"ONLINEMEETINGS_ISSUER":                 "https://keycloak.example.com/realms/r",
				"ONLINEMEETINGS_AUDIENCE":               "om",
				"ONLINEMEETINGS_PUBLIC_URL":             "http://meet.example.com:8443/",
				"ONLINEMEETINGS_DATA_DIR":               "/srv/data",
				"ONLINEMEETINGS_LOG_LEVEL":              "warn",
				"ONLINEMEETINGS_LOG_FORMAT":             "json",
				"ONLINEMEETINGS_SHUTDOWN_TIMEOUT":       "5s",
				"ONLINEMEETINGS_AUDIO_TOLL_NUMBER":      "+1 555 0100",
				"ONLINEMEETINGS_AUDIO_TOLL_FREE_NUMBER": "+1 800 555 0100",
				"ONLINEMEETINGS_AUDIO_DIALIN_URL":       "https://dialin.example.com/x",
			},
			want: func(c *serveConfig) {
				*c = serveConfig{
					addr:            "127.0.0.1:9999",
					storeURL:        "sqlite:///srv/om.db",
					issuer:          "https://keycloak.example.com/realms/r",
					audience:        "om",
					publicURL:       "http://meet.example.com:8443",
					dataDir:         "/srv/data",
					logLevel:        slog.LevelWarn,
					logFormat:       "json",
					shutdownTimeout: 5 * time.Second,
					audio: &handlers.AudioConferencing{
						TollNumber:     "+1 555 0100",
						TollFreeNumber: "+1 800 555 0100",
						DialinURL:      "https://dialin.example.com/x",
					},
				}
			},
		},
		{
			name: "flag wins over variable",
			args: []string{"--public-url", "http://flag.example.com", "--log-level", "error", "--shutdown-timeout", "1m"},
			env: map[string]string{
				"ONLINEMEETINGS_PUBLIC_URL":       "http://env.example.com",
				"ONLINEMEETINGS_LOG_LEVEL":        "debug",
				"ONLINEMEETINGS_SHUTDOWN_TIMEOUT": "not a duration, but never read",
				"ONLINEMEETINGS_ADDR":             "127.0.0.1:7000",
			},
			want: func(c *serveConfig) {
				c.publicURL = "http://flag.example.com"
				c.logLevel = slog.LevelError
				c.shutdownTimeout = time.Minute
				c.addr = "127.0.0.1:7000"
			},
		},
		{
			name: "issuer from env, audience from flag",
			args: []string{"--audience", "api://om"},
			env:  map[string]string{"ONLINEMEETINGS_ISSUER": "https://issuer.example.com"},
			want: func(c *serveConfig) {
				c.issuer = "https://issuer.example.com"
				c.audience = "api://om"
				c.addr = ":8080"
			},
		},
		{
			name: "one audio flag enables audio conferencing",
			args: []string{"--audio-toll-number", "+1 555 0100"},
			want: func(c *serveConfig) { c.audio = &handlers.AudioConferencing{TollNumber: "+1 555 0100"} },
		},
		{
			name: "create quota",
			args: []string{"--create-quota-per-month", "2000"},
			want: func(c *serveConfig) { c.createQuota = 2000 },
		},
		{
			name: "create quota from env, zero flag wins",
			args: []string{"--create-quota-per-month=0"},
			env:  map[string]string{"ONLINEMEETINGS_CREATE_QUOTA_PER_MONTH": "5"},
			want: func(*serveConfig) {},
		},
		{
			name: "create quota from env",
			env:  map[string]string{"ONLINEMEETINGS_CREATE_QUOTA_PER_MONTH": "5"},
			want: func(c *serveConfig) { c.createQuota = 5 },
		},
		{
			name: "empty variable is unset",
			env:  map[string]string{"ONLINEMEETINGS_DATA_DIR": "", "ONLINEMEETINGS_LOG_LEVEL": ""},
			want: func(*serveConfig) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			got, err := parseServeConfig(tt.args, env(tt.env), &stdout)
			if err != nil {
				t.Fatalf("parseServeConfig(%q) error = %v", tt.args, err)
			}
			want := devDefaults()
			tt.want(&want)
			if diff := cmp.Diff(&want, got, cmp.AllowUnexported(serveConfig{})); diff != "" {
				t.Errorf("parseServeConfig(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
			if stdout.Len() > 0 {
				t.Errorf("parseServeConfig(%q) wrote %q on stdout, want nothing", tt.args, stdout.String())
			}
		})
	}
}

func TestParseServeConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		// want is a substring of the message, which names what is wrong.
		want string
	}{
		{"issuer without audience", []string{"--issuer", "https://x.example"}, nil, "--audience is required with --issuer"},
		{"issuer from env without audience", nil, map[string]string{"ONLINEMEETINGS_ISSUER": "https://x.example"}, "--audience is required"},
		{"issuer not a URL", []string{"--issuer", "login.microsoftonline.com", "--audience", "a"}, nil, "--issuer"},
		{"issuer not http", []string{"--issuer", "ftp://x.example", "--audience", "a"}, nil, "--issuer"},
		{"public URL without scheme", []string{"--public-url", "localhost:8080"}, nil, "--public-url"},
		{"public URL without host", []string{"--public-url", "http://"}, nil, "--public-url"},
		{"public URL from env", nil, map[string]string{"ONLINEMEETINGS_PUBLIC_URL": "::bad"}, "--public-url"},
		{"store scheme", []string{"--store", "mysql://localhost/om"}, nil, "--store"},
		{"negative pg max conns", []string{"--store", "postgres://localhost/om", "--pg-max-conns", "-1"}, nil, "--pg-max-conns"},
		{"store plain path", []string{"--store", "./data/x.db"}, nil, "--store"},
		{"store empty sqlite path", []string{"--store", "sqlite://"}, nil, "SQLite path is empty"},
		{"store from env", nil, map[string]string{"ONLINEMEETINGS_STORE": "mysql://x"}, "--store"},
		{"log level", []string{"--log-level", "verbose"}, nil, "--log-level"},
		{"log level from env", nil, map[string]string{"ONLINEMEETINGS_LOG_LEVEL": "trace"}, "--log-level"},
		{"log format", []string{"--log-format", "xml"}, nil, "--log-format"},
		{"duration", []string{"--shutdown-timeout", "soon"}, nil, "shutdown-timeout"},
		{"duration from env", nil, map[string]string{"ONLINEMEETINGS_SHUTDOWN_TIMEOUT": "soon"}, "ONLINEMEETINGS_SHUTDOWN_TIMEOUT"},
		{"zero duration", []string{"--shutdown-timeout", "0s"}, nil, "--shutdown-timeout must be positive"},
		{"negative duration", []string{"--shutdown-timeout", "-1s"}, nil, "--shutdown-timeout must be positive"},
		{"negative delay", []string{"--shutdown-delay", "-1s"}, nil, "--shutdown-delay must not be negative"},
		{"delay from env", nil, map[string]string{"ONLINEMEETINGS_SHUTDOWN_DELAY": "soon"}, `ONLINEMEETINGS_SHUTDOWN_DELAY="soon": not a valid duration for --shutdown-delay`},
		{"rate limit from env", nil, map[string]string{"ONLINEMEETINGS_RATE_LIMIT_USER": "abc"}, `ONLINEMEETINGS_RATE_LIMIT_USER="abc": not a valid float for --rate-limit-user`},
		{"addr without port", []string{"--addr", "localhost"}, nil, "--addr"},
		{"addr from env", nil, map[string]string{"ONLINEMEETINGS_ADDR": "8080"}, "--addr"},
		{"port out of range", []string{"--addr", "127.0.0.1:99999"}, nil, `--addr "127.0.0.1:99999": invalid port`},
		{"negative port", []string{"--addr", ":-1"}, nil, "invalid port"},
		{"unknown service", []string{"--addr", ":no-such-service"}, nil, "invalid port"},
		{"metrics port out of range", []string{"--metrics-addr", "127.0.0.1:65536"}, nil, "--metrics-addr"},
		{"empty data dir", []string{"--data-dir", ""}, nil, "--data-dir"},
		{"dial-in URL", []string{"--audio-dialin-url", "dialin.example.com"}, nil, "--audio-dialin-url"},
		{"negative create quota", []string{"--create-quota-per-month", "-1"}, nil, "--create-quota-per-month must be 0 (off) or a positive number"},
		{"negative create quota from env", nil, map[string]string{"ONLINEMEETINGS_CREATE_QUOTA_PER_MONTH": "-5"}, "--create-quota-per-month"},
		{"create quota not a number", []string{"--create-quota-per-month", "lots"}, nil, "create-quota-per-month"},
		{"create quota fraction from env", nil, map[string]string{"ONLINEMEETINGS_CREATE_QUOTA_PER_MONTH": "1.5"}, "ONLINEMEETINGS_CREATE_QUOTA_PER_MONTH"},
		{"unknown flag", []string{"--port", "8080"}, nil, "port"},
		{"missing value", []string{"--addr"}, nil, "addr"},
		{"positional argument", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"argument after flags", []string{"--addr", ":1", "extra"}, nil, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			c, err := parseServeConfig(tt.args, env(tt.env), &stdout)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseServeConfig(%q) = %+v, %v, want a *usageError", tt.args, c, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseServeConfig(%q) error = %q, want it to contain %q", tt.args, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("parseServeConfig(%q) error = %q, want one line", tt.args, err)
			}
			if stdout.Len() > 0 {
				t.Errorf("parseServeConfig(%q) wrote %q on stdout, want nothing", tt.args, stdout.String())
			}
		})
	}
}

func TestParseStoreURL(t *testing.T) {
	tests := []struct {
		in      string
		want    storeLocation
		wantErr bool
	}{
		{in: "sqlite://./data/x.db", want: storeLocation{kind: "sqlite", path: "./data/x.db"}},
		{in: "sqlite:///var/lib/x.db", want: storeLocation{kind: "sqlite", path: "/var/lib/x.db"}},
		{in: "sqlite://x.db", want: storeLocation{kind: "sqlite", path: "x.db"}},
		{in: "sqlite://data dir/x?.db", want: storeLocation{kind: "sqlite", path: "data dir/x?.db"}},
		{in: "memory:", want: storeLocation{kind: "memory"}},
		{in: "memory://", want: storeLocation{kind: "memory"}},
		{in: "sqlite://", wantErr: true},
		{in: "sqlite:", wantErr: true},
		{in: "sqlite:x.db", wantErr: true},
		{in: "SQLITE://x.db", wantErr: true},
		{in: "memory", wantErr: true},
		{in: "postgres://localhost/om", want: storeLocation{kind: "postgres", url: "postgres://localhost/om"}},
		{in: "postgresql://u:pw@db:5433/om?sslmode=require&pool_max_conns=8", want: storeLocation{kind: "postgres", url: "postgresql://u:pw@db:5433/om?sslmode=require&pool_max_conns=8"}},
		{in: "postgres://u:pw@db:bad port/om", wantErr: true},
		{in: "postgres://u:pw@db/om?statement_timeout=soon", wantErr: true},
		// libpq URLs net/url refuses: a socket directory, hosts with and
		// without ports, punctuation in a password.
		{in: "postgres://u@%2Fvar%2Frun%2Fpostgresql/om", want: storeLocation{kind: "postgres", url: "postgres://u@%2Fvar%2Frun%2Fpostgresql/om"}},
		{in: "postgres://u@db1:5433,db2/om", want: storeLocation{kind: "postgres", url: "postgres://u@db1:5433,db2/om"}},
		{in: "postgres://u:p|w@db/om", want: storeLocation{kind: "postgres", url: "postgres://u:p|w@db/om"}},
		{in: "POSTGRES://localhost/om", wantErr: true},
		{in: "postgres:localhost", wantErr: true},
		{in: "./data/x.db", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseStoreURL(tt.in)
			if tt.wantErr {
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Errorf("parseStoreURL(%q) = %+v, %v, want a *usageError", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseStoreURL(%q) error = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("parseStoreURL(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		"addr":                   "ONLINEMEETINGS_ADDR",
		"public-url":             "ONLINEMEETINGS_PUBLIC_URL",
		"audio-toll-free-number": "ONLINEMEETINGS_AUDIO_TOLL_FREE_NUMBER",
	}
	for in, want := range tests {
		if got := envName(in); got != want {
			t.Errorf("envName(%q) = %q, want %q", in, got, want)
		}
	}
}

// serveFlags and tokenFlags are every flag of serve and token, as the README
// documents them.
var (
	serveFlags = []string{
		"addr", "store", "issuer", "audience", "public-url", "data-dir", "log-level", "log-format",
		"shutdown-timeout", "shutdown-delay", "audio-toll-number", "audio-toll-free-number", "audio-dialin-url", "access-policy",
		"rate-limit-user", "rate-limit-app", "create-quota-per-month", "metrics-addr",
	}
	tokenFlags = []string{"data-dir", "public-url", "audience", "oid", "tid", "name", "upn", "scopes", "ttl", "roles", "app-id"}
)

// runCmd runs the program with args and no environment, in a context that
// ends with the test.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, nil, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestRunHelp(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		flags []string // each must appear as --flag with its variable
		want  string   // the help must contain it
	}{
		{"help", []string{"help"}, nil, "onlinemeetings serve [flags]"},
		{"-h", []string{"-h"}, nil, "onlinemeetings token [flags]"},
		{"--help", []string{"--help"}, nil, "onlinemeetings version"},
		{"help help", []string{"help", "help"}, nil, "onlinemeetings help [command]"},
		{"serve --help", []string{"serve", "--help"}, serveFlags, "Usage: onlinemeetings serve [flags]"},
		{"serve -h", []string{"serve", "-h"}, serveFlags, "Usage: onlinemeetings serve [flags]"},
		{"serve --help after flags", []string{"serve", "--addr", ":1", "--help"}, serveFlags, "dev mode"},
		{"help serve", []string{"help", "serve"}, serveFlags, "Usage: onlinemeetings serve [flags]"},
		{"token --help", []string{"token", "--help"}, tokenFlags, "Usage: onlinemeetings token [flags]"},
		{"help token", []string{"help", "token"}, tokenFlags, "Usage: onlinemeetings token [flags]"},
		{"version --help", []string{"version", "--help"}, nil, "Usage: onlinemeetings version"},
		{"help version", []string{"help", "version"}, nil, "Usage: onlinemeetings version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCmd(t, tt.args...)
			if err != nil {
				t.Fatalf("run(%q) error = %v, want nil", tt.args, err)
			}
			if code := exitCode(err, io.Discard); code != 0 {
				t.Errorf("exitCode(run(%q)) = %d, want 0", tt.args, code)
			}
			if stderr != "" {
				t.Errorf("run(%q) stderr = %q, want nothing", tt.args, stderr)
			}
			if !strings.Contains(stdout, tt.want) {
				t.Errorf("run(%q) stdout = %q, want it to contain %q", tt.args, stdout, tt.want)
			}
			for _, f := range tt.flags {
				for _, s := range []string{"--" + f + "\n", envName(f) + "\n"} {
					if !strings.Contains(stdout, s) {
						t.Errorf("run(%q) help does not mention %q:\n%s", tt.args, strings.TrimSpace(s), stdout)
					}
				}
			}
		})
	}
}

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// wantStderr is what exitCode and run together write on stderr.
		wantStderr []string
	}{
		{"no arguments", nil, []string{"Usage:"}},
		{"unknown command", []string{"frob"}, []string{"Usage:", `onlinemeetings: unknown command "frob"`}},
		{"flag as command", []string{"--addr", ":1"}, []string{`unknown command "--addr"`}},
		{"help for unknown command", []string{"help", "frob"}, []string{`unknown command "frob"`}},
		{"serve unknown flag", []string{"serve", "--frob"}, []string{"onlinemeetings: serve: flag provided but not defined: -frob (see --help)"}},
		{"serve issuer without audience", []string{"serve", "--issuer", "https://x.example"}, []string{"onlinemeetings: --audience is required with --issuer\n"}},
		{"token unknown flag", []string{"token", "--frob"}, []string{"token: flag provided but not defined"}},
		{"token bad public URL", []string{"token", "--public-url", "localhost"}, []string{"--public-url"}},
		{"token zero ttl", []string{"token", "--ttl", "0s"}, []string{"--ttl must be positive"}},
		{"token argument", []string{"token", "extra"}, []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCmd(t, tt.args...)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("run(%q) error = %v, want a *usageError", tt.args, err)
			}
			var w bytes.Buffer
			if code := exitCode(err, &w); code != 2 {
				t.Errorf("exitCode(run(%q)) = %d, want 2", tt.args, code)
			}
			stderr += w.String()
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr, want)
				}
			}
			if stdout != "" {
				t.Errorf("run(%q) stdout = %q, want nothing", tt.args, stdout)
			}
		})
	}
}

func TestRunVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version"} {
		t.Run(arg, func(t *testing.T) {
			stdout, stderr, err := runCmd(t, arg)
			if err != nil {
				t.Fatalf("run(%q) error = %v", arg, err)
			}
			if !strings.HasPrefix(stdout, "onlinemeetings ") || strings.Count(stdout, "\n") != 1 || !strings.HasSuffix(stdout, "\n") {
				t.Errorf("run(%q) stdout = %q, want one line starting %q", arg, stdout, "onlinemeetings ")
			}
			if want := "onlinemeetings " + version + "\n"; stdout != want {
				t.Errorf("run(%q) stdout = %q, want %q", arg, stdout, want)
			}
			if stderr != "" {
				t.Errorf("run(%q) stderr = %q, want nothing", arg, stderr)
			}
		})
	}
}

func TestRunVersionArgument(t *testing.T) {
	_, _, err := runCmd(t, "version", "extra")
	var ue *usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `"extra"`) {
		t.Fatalf("run(version extra) error = %v, want a usage error naming the argument", err)
	}
}

func TestRunToken(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
	}{
		{"default user", []string{"--data-dir", dir}},
		{"explicit user", []string{"--data-dir", dir, "--oid", "5a7e6c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6", "--name", "Alex", "--scopes", "OnlineMeetings.Read", "--ttl", "10m"}},
		{"public URL with slash", []string{"--data-dir", dir, "--public-url", "http://localhost:9090/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"token"}, tt.args...)
			stdout, stderr, err := runCmd(t, args...)
			if err != nil {
				t.Fatalf("run(%q) error = %v", args, err)
			}
			tok, ok := strings.CutSuffix(stdout, "\n")
			if !ok || strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
				t.Errorf("run(%q) stdout = %q, want one JWT line", args, stdout)
			}
			if stderr != "" {
				t.Errorf("run(%q) stderr = %q, want nothing", args, stderr)
			}
		})
	}

	t.Run("invalid oid", func(t *testing.T) {
		args := []string{"token", "--data-dir", dir, "--oid", "not-a-guid"}
		_, _, err := runCmd(t, args...)
		if code := exitCode(err, io.Discard); code != 2 {
			t.Errorf("exitCode(run(%q)) = %d (%v), want 2", args, code, err)
		}
	})
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		want       int
		wantStderr string
	}{
		{"nil", nil, 0, ""},
		{"usage error without message", &usageError{}, 2, ""},
		{"usage error", usagef("--addr %q: bad", "x"), 2, "onlinemeetings: --addr \"x\": bad\n"},
		{"wrapped usage error", fmt.Errorf("serve: %w", usagef("bad")), 2, "onlinemeetings: bad\n"},
		{"other error", errors.New("listen on :80: permission denied"), 1, "onlinemeetings: listen on :80: permission denied\n"},
		{"context canceled", context.Canceled, 1, "onlinemeetings: context canceled\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := exitCode(tt.err, &stderr); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
			if got := stderr.String(); got != tt.wantStderr {
				t.Errorf("exitCode(%v) wrote %q on stderr, want %q", tt.err, got, tt.wantStderr)
			}
		})
	}
}

// TestServeFatalErrorFormat checks how serve's reason for stopping reaches
// stderr: with --log-format json as a JSON log line (level ERROR, msg
// "serve failed") and nothing else, so a pipeline reading JSON lines gets
// it; with text as main's one plain line. The exit code is the same.
func TestServeFatalErrorFormat(t *testing.T) {
	for _, tt := range []struct {
		format    string
		wantLines []string
	}{
		{"json", []string{`"level":"ERROR"`, `"msg":"serve failed"`, `"error":"--access-policy: `}},
		{"text", []string{"onlinemeetings: --access-policy: "}},
	} {
		t.Run(tt.format, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), []string{"serve", "--store", "memory:", "--data-dir", t.TempDir(),
				"--log-format", tt.format, "--access-policy", "/nonexistent/policy.json"}, nil, &stdout, &stderr)
			if code := exitCode(err, &stderr); code != 2 {
				t.Errorf("exit code = %d (%v), want 2", code, err)
			}
			out := stderr.String()
			for _, want := range tt.wantLines {
				if !strings.Contains(out, want) {
					t.Errorf("stderr lacks %q:\n%s", want, out)
				}
			}
			if tt.format == "json" {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("stderr line %q is not JSON", line)
					}
				}
			}
		})
	}
}
