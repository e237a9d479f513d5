package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestEnvironmentUnread checks which ONLINEMEETINGS_ variables count as read
// by nothing, and the names suggested for them.
func TestEnvironmentUnread(t *testing.T) {
	tests := []struct {
		name            string
		environ         []string
		read            []string
		wantNames       []string
		wantSuggestions []string
	}{
		{name: "empty"},
		{
			name:    "every variable read",
			environ: []string{"ONLINEMEETINGS_ISSUER=https://idp", "HOME=/root"},
			read:    []string{"ONLINEMEETINGS_ISSUER"},
		},
		{
			name:            "a misspelling",
			environ:         []string{"ONLINEMEETINGS_ISUER=https://idp"},
			read:            []string{"ONLINEMEETINGS_ISSUER", "ONLINEMEETINGS_AUDIENCE"},
			wantNames:       []string{"ONLINEMEETINGS_ISUER"},
			wantSuggestions: []string{"ONLINEMEETINGS_ISSUER"},
		},
		{
			name:            "nothing close, and sorted",
			environ:         []string{"ONLINEMEETINGS_SCOPES=a", "ONLINEMEETINGS_OID=x", "OTHER_ISSUER=y"},
			read:            []string{"ONLINEMEETINGS_ISSUER"},
			wantNames:       []string{"ONLINEMEETINGS_OID", "ONLINEMEETINGS_SCOPES"},
			wantSuggestions: []string{"", ""},
		},
		{
			name:    "tools' variables and an empty value",
			environ: []string{"ONLINEMEETINGS_TEST_POSTGRES_URL=postgres://x", "ONLINEMEETINGS_BIN=/b", "ONLINEMEETINGS_ADDR="},
			read:    []string{"ONLINEMEETINGS_ADDR"},
		},
		{
			name:            "the first of two values counts, as for os.Getenv",
			environ:         []string{"ONLINEMEETINGS_DATADIR=a", "ONLINEMEETINGS_DATADIR=b"},
			read:            []string{"ONLINEMEETINGS_DATA_DIR"},
			wantNames:       []string{"ONLINEMEETINGS_DATADIR"},
			wantSuggestions: []string{"ONLINEMEETINGS_DATA_DIR"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvironment(tt.environ)
			for _, r := range tt.read {
				e.get(r)
			}
			names, suggestions := e.unread()
			if !slices.Equal(names, tt.wantNames) || !slices.Equal(suggestions, tt.wantSuggestions) {
				t.Errorf("unread() = %q, %q; want %q, %q", names, suggestions, tt.wantNames, tt.wantSuggestions)
			}
		})
	}
	if got := newEnvironment([]string{"A=1", "A=2", "B"}).get("A"); got != "1" {
		t.Errorf("get(A) = %q, want the first value %q", got, "1")
	}
}

// TestServeWarnsAboutUnreadVariables runs serve with a misspelled setting
// in its environment: it logs a warning that names the variable and the
// setting it resembles (here before --access-policy stops it, so that the
// test needs no server).
func TestServeWarnsAboutUnreadVariables(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"serve", "--store", "memory:", "--data-dir", t.TempDir(), "--access-policy", "/nonexistent/policy.json"},
		[]string{"ONLINEMEETINGS_ISUER=https://idp.example", "ONLINEMEETINGS_LOG_LEVEL=warn"}, &stdout, &stderr)
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("run = %v, want the --access-policy usage error", err)
	}
	log := stderr.String()
	for _, want := range []string{"environment variable ignored", "variable=ONLINEMEETINGS_ISUER", "did_you_mean=ONLINEMEETINGS_ISSUER"} {
		if !strings.Contains(log, want) {
			t.Errorf("serve log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "variable=ONLINEMEETINGS_LOG_LEVEL") {
		t.Errorf("serve warned about ONLINEMEETINGS_LOG_LEVEL, which it reads:\n%s", log)
	}
}
