package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/auth/devissuer"
	"github.com/onlinemeetings/onlinemeetings/handlers"
	"github.com/onlinemeetings/onlinemeetings/policy"
)

// The policy file and its rules are what serve hands the handlers.
var (
	_ handlers.AccessPolicy = (*policy.File)(nil)
	_ handlers.AccessPolicy = (*policy.Policy)(nil)
)

// Ids of the access policy tests.
const (
	policyTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	policyApp    = "6e2b9a51-3c1d-4f7e-9a0b-8c5d4e3f2a10"
	policyUser   = "5a7e6c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6"
	policyOther  = "0b0b0b0b-1111-4222-8333-444444444444"
)

// writePolicy writes a policy file and returns its path: with users, YAML
// granting policyApp those users and devissuer.DefaultAppID every user of
// policyTenant (2 entries); without, JSON granting policyApp every user of
// policyTenant (1 entry).
func writePolicy(t *testing.T, path string, users ...string) string {
	t.Helper()
	data := `{"policies": [{"tenantId": "` + policyTenant + `", "appId": "` + policyApp + `", "global": true}]}`
	if len(users) > 0 {
		data = "policies:\n  - tenantId: " + policyTenant + "\n    appId: " + policyApp + "\n    users: [" + strings.Join(users, ", ") + "]\n" +
			"  - tenantId: " + policyTenant + "\n    appId: " + devissuer.DefaultAppID + "\n    global: true\n"
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseServeConfigAccessPolicy(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unset", nil, nil, ""},
		{"flag", []string{"--access-policy", "/etc/om/policy.yaml"}, nil, "/etc/om/policy.yaml"},
		{"variable", nil, map[string]string{"ONLINEMEETINGS_ACCESS_POLICY": "policy.json"}, "policy.json"},
		{"flag wins", []string{"--access-policy", "a.json"}, map[string]string{"ONLINEMEETINGS_ACCESS_POLICY": "b.json"}, "a.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServeConfig(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("parseServeConfig(%q) error = %v", tt.args, err)
			}
			if c.accessPolicy != tt.want {
				t.Errorf("parseServeConfig(%q).accessPolicy = %q, want %q", tt.args, c.accessPolicy, tt.want)
			}
		})
	}

	stdout, _, err := runCmd(t, "serve", "--help")
	if err != nil || !strings.Contains(stdout, "--access-policy\n") || !strings.Contains(stdout, "ONLINEMEETINGS_ACCESS_POLICY\n") {
		t.Errorf("serve --help = %q, %v; want --access-policy and its variable", stdout, err)
	}
}

// TestServeBadAccessPolicy checks that a missing or invalid policy file is a
// configuration error (one line, exit status 2) found before serve listens
// or touches the data folder.
func TestServeBadAccessPolicy(t *testing.T) {
	dir := t.TempDir()
	// serve would fail to listen here: the policy error must come first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("policies:\n- {tenantId: "+policyTenant+", appId: my-app, global: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "missing.json"), "--access-policy: open " + filepath.Join(dir, "missing.json") + ": "},
		{"invalid", bad, "--access-policy: " + bad + `: policies[0].appId: "my-app" is not a GUID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(dir, "data")
			args := []string{"serve", "--addr", ln.Addr().String(), "--data-dir", dataDir, "--access-policy", tt.path}
			stdout, _, err := runCmd(t, args...)
			var stderr strings.Builder
			if code := exitCode(err, &stderr); code != 2 {
				t.Errorf("exitCode(run(%q)) = %d (%v), want 2", args, code, err)
			}
			if msg := stderr.String(); !strings.HasPrefix(msg, "onlinemeetings: "+tt.want) || strings.Count(msg, "\n") != 1 {
				t.Errorf("run(%q) stderr = %q, want one line starting %q", args, msg, "onlinemeetings: "+tt.want)
			}
			if stdout != "" {
				t.Errorf("run(%q) stdout = %q, want nothing", args, stdout)
			}
			if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run(%q) created the data folder (Stat = %v), want nothing written", args, err)
			}
		})
	}
}

// waitLog waits until the server has logged want.
func waitLog(t *testing.T, s *server, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log %s within 10 s; stderr:\n%s", want, s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listStatus returns the status of GET /v1.0/users/{userID}/onlineMeetings
// with token.
func listStatus(t *testing.T, s *server, token, userID string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+"/v1.0/users/"+userID+"/onlineMeetings", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeReloadsAccessPolicyOnSIGHUP starts serve with a policy file,
// rewrites the file and sends the process a real SIGHUP: the new rules
// apply and the server keeps running; a bad file then leaves them as they
// were.
func TestServeReloadsAccessPolicyOnSIGHUP(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGHUP on Windows")
	}
	// While the test holds SIGHUP too, the signal can never stop the test
	// binary, even were serve not listening for it.
	guard := make(chan os.Signal, 16)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)
	hangUp := func(t *testing.T) {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatalf("kill -HUP: %v", err)
		}
	}

	dir := t.TempDir()
	path := writePolicy(t, filepath.Join(dir, "policy.yaml"), policyOther)
	s := startServe(t, "--data-dir", dir, "--store", "memory:", "--log-format", "json", "--access-policy", path)
	waitLog(t, s, `"msg":"access policy loaded","path":"`+path+`","entries":2}`)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	token := mintToken(t, "--data-dir", dir, "--public-url", "http://localhost:"+port,
		"--roles", "OnlineMeetings.Read.All", "--app-id", policyApp, "--tid", policyTenant)
	if got := listStatus(t, s, token, policyUser); got != http.StatusForbidden {
		t.Errorf("list for a user the policy does not grant = %d, want 403", got)
	}
	if got := listStatus(t, s, token, policyOther); got != http.StatusOK {
		t.Errorf("list for a user the policy grants = %d, want 200", got)
	}

	writePolicy(t, path) // policyApp for every user
	hangUp(t)
	waitLog(t, s, `"level":"INFO","msg":"access policy reloaded","path":"`+path+`","entries":1}`)
	if got := listStatus(t, s, token, policyUser); got != http.StatusOK {
		t.Errorf("list after the reload granted every user = %d, want 200", got)
	}

	if err := os.WriteFile(path, []byte("policies: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hangUp(t)
	waitLog(t, s, `"level":"ERROR","msg":"access policy not reloaded, keeping the previous one","path":"`+path+`","error":"`+path+`: invalid YAML`)
	if got := listStatus(t, s, token, policyUser); got != http.StatusOK {
		t.Errorf("list after a bad reload = %d, want 200 (the previous policy kept)", got)
	}
	if err := s.waitReady(); err != nil {
		t.Errorf("serve after SIGHUP: %v", err)
	}
	s.stop(t)
}

// verifyDevToken verifies tok with the dev issuer of dataDir at the default
// public URL, as a server in dev mode does.
func verifyDevToken(t *testing.T, dataDir, tok string) *auth.Principal {
	t.Helper()
	dev, err := devissuer.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	issuerURL := devissuer.IssuerURL("http://localhost:8080")
	v := auth.NewVerifier(auth.Config{Issuer: issuerURL, Audience: devissuer.DefaultAudience, HTTPClient: dev.HTTPClient(issuerURL)})
	v.Start(t.Context())
	for deadline := time.Now().Add(10 * time.Second); !v.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("verifier not ready after 10 s")
		}
	}
	p, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify(token) error = %v", err)
	}
	return p
}

func TestRunTokenAppOnly(t *testing.T) {
	dir := t.TempDir()
	dev, err := devissuer.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	u := dev.DefaultUser()
	ptr := func(s string) *string { return &s }
	tests := []struct {
		name string
		args []string
		want *auth.Principal
	}{
		{
			name: "roles and app id",
			args: []string{"--roles", "OnlineMeetings.ReadWrite.All  OnlineMeetings.Read.All", "--app-id", strings.ToUpper(policyApp),
				"--tid", policyTenant, "--oid", policyOther},
			want: &auth.Principal{TenantID: policyTenant, ObjectID: policyOther,
				Roles: []string{"OnlineMeetings.ReadWrite.All", "OnlineMeetings.Read.All"}, AppID: strings.ToUpper(policyApp), AppOnly: true},
		},
		{
			name: "default app and user",
			args: []string{"--roles", "OnlineMeetings.Read.All"},
			want: &auth.Principal{TenantID: u.TID, ObjectID: u.OID, Roles: []string{"OnlineMeetings.Read.All"}, AppID: devissuer.DefaultAppID, AppOnly: true},
		},
		{
			name: "delegated with app id",
			args: []string{"--app-id", policyApp},
			want: &auth.Principal{TenantID: u.TID, ObjectID: u.OID, DisplayName: ptr(u.Name), UPN: ptr(u.UPN),
				Scopes: []string{devissuer.DefaultScope}, AppID: policyApp},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mintToken(t, append([]string{"--data-dir", dir}, tt.args...)...)
			if diff := cmp.Diff(tt.want, verifyDevToken(t, dir, tok)); diff != "" {
				t.Errorf("Verify(token %q) mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}

	stdout, _, err := runCmd(t, "token", "--help")
	for _, want := range []string{"--roles\n", "ONLINEMEETINGS_ROLES\n", "--app-id\n", "ONLINEMEETINGS_APP_ID\n", "app-only"} {
		if err != nil || !strings.Contains(stdout, want) {
			t.Errorf("token --help = %q, %v; want it to contain %q", stdout, err, want)
		}
	}
}

func TestRunTokenAppOnlyErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"roles and scopes", []string{"--roles", "OnlineMeetings.Read.All", "--scopes", "OnlineMeetings.Read"}, nil, "--scopes does not go with --roles"},
		{"roles and scopes from env", []string{"--roles", "OnlineMeetings.Read.All"}, map[string]string{"ONLINEMEETINGS_SCOPES": "x"}, "--scopes does not go with --roles"},
		{"roles from env and scopes", []string{"--scopes", "x"}, map[string]string{"ONLINEMEETINGS_ROLES": "OnlineMeetings.Read.All"}, "--scopes does not go with --roles"},
		{"roles and name", []string{"--roles", "OnlineMeetings.Read.All", "--name", "Daemon"}, nil, "--name does not go with --roles"},
		{"roles and upn", []string{"--roles", "OnlineMeetings.Read.All", "--upn", "d@x.example"}, nil, "--upn does not go with --roles"},
		{"app id not a GUID", []string{"--app-id", "my-app"}, nil, `--app-id "my-app": want a GUID`},
		{"empty app id", []string{"--roles", "OnlineMeetings.Read.All", "--app-id", ""}, nil, `--app-id "": want a GUID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"token", "--data-dir", dir}, tt.args...)
			var stdout strings.Builder
			err := run(t.Context(), args, environ(tt.env), &stdout, io.Discard)
			var stderr strings.Builder
			if code := exitCode(err, &stderr); code != 2 {
				t.Errorf("exitCode(run(%q)) = %d (%v), want 2", args, code, err)
			}
			if want := "onlinemeetings: " + tt.want; !strings.HasPrefix(stderr.String(), want) {
				t.Errorf("run(%q) stderr = %q, want it to start with %q", args, stderr.String(), want)
			}
			if stdout.Len() > 0 {
				t.Errorf("run(%q) stdout = %q, want no token", args, stdout.String())
			}
		})
	}
}
