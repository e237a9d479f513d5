package policy

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v4"
)

// Ids of the tests: a tenant and an app with two users, and others.
const (
	tenant      = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	app         = "d3e1c0de-0000-4000-8000-00000000de01"
	alice       = "5a7e6c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6"
	bob         = "0b0b0b0b-1111-4222-8333-444444444444"
	otherTenant = "11111111-2222-4333-8444-555555555555"
	otherApp    = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	globalApp   = "99999999-8888-4777-8666-555555555555"
)

// sample grants app alice and bob (with upper-case ids in the file) and
// globalApp every user of tenant.
const sampleJSON = `{
	"policies": [
		{"tenantId": "72F988BF-86F1-41AF-91AB-2D7CD011DB47", "appId": "d3e1c0de-0000-4000-8000-00000000de01",
		 "users": ["5A7E6C1D-2B3C-4D5E-8F90-A1B2C3D4E5F6", "0b0b0b0b-1111-4222-8333-444444444444"]},
		{"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "appId": "99999999-8888-4777-8666-555555555555", "global": true}
	]
}`

const sampleYAML = `# access policies
policies:
  - tenantId: 72F988BF-86F1-41AF-91AB-2D7CD011DB47
    appId: d3e1c0de-0000-4000-8000-00000000de01
    users:
      - 5A7E6C1D-2B3C-4D5E-8F90-A1B2C3D4E5F6
      - "0b0b0b0b-1111-4222-8333-444444444444"
  - tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
    appId: 99999999-8888-4777-8666-555555555555
    global: true
`

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
	}{
		{"JSON", JSON, sampleJSON},
		{"JSON detected", Detect, sampleJSON},
		{"YAML", YAML, sampleYAML},
		{"YAML detected", Detect, sampleYAML},
		{"JSON read as YAML", YAML, sampleJSON},
		{"byte order mark", Detect, "\ufeff" + sampleJSON},
		{"YAML flow style", YAML, strings.Join(strings.Fields(sampleJSON), " ")},
		{
			name:   "entries of one app add up, global false",
			format: YAML,
			in: `policies:
- {tenantId: ` + tenant + `, appId: ` + app + `, users: [` + alice + `], global: false}
- {tenantId: ` + tenant + `, appId: ` + app + `, users: [` + bob + `]}
- {tenantId: ` + tenant + `, appId: ` + globalApp + `, users: [], global: true}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in), tt.format)
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.in, err)
			}
			wantGlobal := map[appKey]struct{}{{tenant, globalApp}: {}}
			wantUsers := map[userKey]struct{}{{tenant, app, alice}: {}, {tenant, app, bob}: {}}
			if !maps.Equal(p.global, wantGlobal) || !maps.Equal(p.users, wantUsers) {
				t.Errorf("Parse(%q) = global %v, users %v; want %v, %v", tt.in, p.global, p.users, wantGlobal, wantUsers)
			}
			if want := strings.Count(tt.in, "appId"); p.Len() != want {
				t.Errorf("Parse(%q).Len() = %d, want %d", tt.in, p.Len(), want)
			}
		})
	}
}

func TestParseNoPolicies(t *testing.T) {
	for _, in := range []string{`{"policies": []}`, "policies: []\n"} {
		p, err := Parse([]byte(in), Detect)
		if err != nil {
			t.Fatalf("Parse(%q) error = %v", in, err)
		}
		if p.Len() != 0 || p.Allows(tenant, app, alice) {
			t.Errorf("Parse(%q) = %d entries, Allows = true; want no entries that grant nothing", in, p.Len())
		}
	}
}

func TestParseErrors(t *testing.T) {
	// entry builds a one-entry JSON file from the entry's fields.
	entry := func(fields string) string { return `{"policies": [{` + fields + `}]}` }
	ids := `"tenantId": "` + tenant + `", "appId": "` + app + `"`
	tests := []struct {
		name   string
		format Format
		in     string
		want   string // a substring of the error
	}{
		{"empty JSON", JSON, " \n\t", "policy file is empty"},
		{"empty file", Detect, "", "policy file is empty"},
		{"only YAML comments", YAML, "# nothing yet\n\n", "policy file is empty"},
		{"YAML null", YAML, "~\n", "policy file is empty"},
		{"JSON syntax", JSON, "{\n\"policies\": [\n}", "invalid JSON on line 3"},
		{"JSON truncated", JSON, `{"policies": [`, "unexpected end of file"},
		{"JSON trailing data", JSON, `{"policies": []} {}`, "unexpected data after the top-level object"},
		{"JSON duplicate key", JSON, `{"policies": [], "policies": []}`, `duplicate key "policies"`},
		{"JSON too deep", JSON, `{"policies": [{"users": [[[[[[[[]]]]]]]]}]}`, "nested too deeply"},
		{"YAML syntax", YAML, "policies: [\n", "invalid YAML"},
		{"YAML duplicate key", YAML, "policies: []\npolicies: []\n", `"policies" already defined`},
		{"YAML two documents", YAML, "policies: []\n---\npolicies: []\n", "invalid YAML: more than one document"},
		{"YAML bad second document", YAML, "policies: []\n---\n[\n", "invalid YAML"},
		{"top level list", JSON, `[]`, `want an object with a "policies" list at the top, got a list`},
		{"top level string", YAML, "policies\n", "got a string"},
		{"non-string keys", YAML, "1: 2\n", "got an object with keys that are not strings"},
		{"policies missing", JSON, `{}`, `"policies" is missing`},
		{"policies null", YAML, "policies:\n", `"policies" is missing`},
		{"policies not a list", JSON, `{"policies": {}}`, "policies: want a list, got an object"},
		{"unknown top-level field", JSON, `{"policies": [], "version": 1}`, `unknown field "version" (want policies)`},
		{"field name case", JSON, `{"Policies": []}`, `unknown field "Policies"`},
		{"entry not an object", JSON, `{"policies": [{` + ids + `, "global": true}, "x"]}`, "policies[1]: want an object, got a string"},
		{"unknown entry field", JSON, entry(ids + `, "global": true, "user": []`), `policies[0].unknown field "user" (want tenantId, appId, users, global)`},
		{"entry field case", JSON, entry(`"tenantID": "` + tenant + `", "appId": "` + app + `", "global": true`), `unknown field "tenantID"`},
		{"tenantId missing", JSON, entry(`"appId": "` + app + `", "global": true`), "policies[0].tenantId is missing"},
		{"tenantId null", JSON, entry(`"tenantId": null, "appId": "` + app + `", "global": true`), "policies[0].tenantId is missing"},
		{"tenantId not a GUID", JSON, entry(`"tenantId": "contoso.com", "appId": "` + app + `", "global": true`), `policies[0].tenantId: "contoso.com" is not a GUID`},
		{"tenantId a number", JSON, entry(`"tenantId": 42, "appId": "` + app + `", "global": true`), "policies[0].tenantId: want a GUID string, got a number"},
		{"tenantId with braces", JSON, entry(`"tenantId": "{` + tenant + `}", "appId": "` + app + `", "global": true`), "is not a GUID"},
		{"tenantId without dashes", JSON, entry(`"tenantId": "` + strings.ReplaceAll(tenant, "-", "") + `", "appId": "` + app + `", "global": true`), "is not a GUID"},
		{"appId missing", JSON, entry(`"tenantId": "` + tenant + `", "global": true`), "policies[0].appId is missing"},
		{"appId not a GUID", YAML, "policies:\n- tenantId: " + tenant + "\n  appId: my-app\n  global: true\n", `policies[0].appId: "my-app" is not a GUID`},
		{"appId a list", YAML, "policies:\n- tenantId: " + tenant + "\n  appId: [" + app + "]\n  global: true\n", "policies[0].appId: want a GUID string, got a list"},
		{"global a string", JSON, entry(ids + `, "global": "true"`), "policies[0].global: want true or false, got a string"},
		{"global yes", YAML, "policies:\n- tenantId: " + tenant + "\n  appId: " + app + "\n  global: yes\n", "policies[0].global: want true or false, got a string"},
		{"users not a list", JSON, entry(ids + `, "users": "` + alice + `"`), "policies[0].users: want a list of user object ids, got a string"},
		{"user not a GUID", JSON, entry(ids + `, "users": ["` + alice + `", "alice@contoso.com"]`), `policies[0].users[1]: "alice@contoso.com" is not a GUID`},
		{"user a number", JSON, entry(ids + `, "users": [1]`), "policies[0].users[0]: want a GUID string, got a number"},
		{"user a timestamp", YAML, "policies:\n- tenantId: " + tenant + "\n  appId: " + app + "\n  users: [2001-12-14]\n", "policies[0].users[0]: want a GUID string, got a timestamp"},
		{"duplicate user", JSON, entry(ids + `, "users": ["` + alice + `", "` + bob + `", "` + strings.ToUpper(alice) + `"]`), "policies[0].users[2]: " + alice + " is listed already as users[0]"},
		{"neither users nor global", JSON, entry(ids), "policies[0]: needs a non-empty users list or global: true"},
		{"empty users", JSON, entry(ids + `, "users": []`), "policies[0]: needs a non-empty users list or global: true"},
		{"global false", JSON, entry(ids + `, "global": false`), "policies[0]: needs a non-empty users list or global: true"},
		{"users and global", JSON, entry(ids + `, "users": ["` + alice + `"], "global": true`), "policies[0]: set either users or global: true, not both"},
		{"second entry", YAML, "policies:\n- {tenantId: " + tenant + ", appId: " + app + ", global: true}\n- {tenantId: " + tenant + ", appId: nope, global: true}\n", `policies[1].appId: "nope" is not a GUID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in), tt.format)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error containing %q", tt.in, p, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Parse(%q) error = %q, want one line", tt.in, err)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	p, err := Parse([]byte(sampleJSON), JSON)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		tenant, app, user string
		want              bool
	}{
		{"listed user", tenant, app, alice, true},
		{"other listed user", tenant, app, bob, true},
		{"unlisted user", tenant, app, "00000000-0000-4000-8000-000000000000", false},
		{"upper-case ids", strings.ToUpper(tenant), strings.ToUpper(app), strings.ToUpper(alice), true},
		{"other tenant", otherTenant, app, alice, false},
		{"other app", tenant, otherApp, alice, false},
		{"global app, any user", tenant, globalApp, "00000000-0000-4000-8000-000000000000", true},
		{"global app, upper case", strings.ToUpper(tenant), strings.ToUpper(globalApp), alice, true},
		{"global app, other tenant", otherTenant, globalApp, alice, false},
		{"empty ids", "", "", "", false},
		{"user id as app id", tenant, alice, app, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Allows(tt.tenant, tt.app, tt.user); got != tt.want {
				t.Errorf("Allows(%q, %q, %q) = %v, want %v", tt.tenant, tt.app, tt.user, got, tt.want)
			}
		})
	}

	var nilPolicy *Policy
	var nilFile *File
	if nilPolicy.Allows(tenant, app, alice) || nilFile.Allows(tenant, app, alice) || nilPolicy.Len() != 0 {
		t.Errorf("a nil Policy or File grants something, want nothing")
	}
}

// writeFile writes data to path, failing the test on error.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// onlyAlice and onlyBob grant app one user each.
var (
	onlyAlice = `{"policies": [{"tenantId": "` + tenant + `", "appId": "` + app + `", "users": ["` + alice + `"]}]}`
	onlyBob   = "policies:\n- tenantId: " + tenant + "\n  appId: " + app + "\n  users: [" + bob + "]\n"
)

func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	writeFile(t, path, sampleJSON) // JSON is YAML too
	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%q) error = %v", path, err)
	}
	if f.Path() != path || f.Policy().Len() != 2 || !f.Allows(tenant, app, alice) || !f.Allows(tenant, globalApp, alice) {
		t.Fatalf("Load(%q) = path %q, %d entries, want %q, 2 entries granting alice", path, f.Path(), f.Policy().Len(), path)
	}

	writeFile(t, path, onlyBob)
	if err := f.Reload(); err != nil {
		t.Fatalf("Reload() error = %v", err)
	}
	if f.Allows(tenant, app, alice) || !f.Allows(tenant, app, bob) || f.Allows(tenant, globalApp, alice) {
		t.Errorf("after Reload, Allows(alice, bob, global) = %v, %v, %v; want false, true, false",
			f.Allows(tenant, app, alice), f.Allows(tenant, app, bob), f.Allows(tenant, globalApp, alice))
	}

	before := f.Policy()
	for _, bad := range []string{"", "policies: [", "policies:\n- {tenantId: " + tenant + ", appId: x, global: true}\n"} {
		writeFile(t, path, bad)
		err := f.Reload()
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("Reload() of %q error = %v, want an error starting with the path", bad, err)
		}
		if f.Policy() != before || !f.Allows(tenant, app, bob) {
			t.Errorf("Reload() of %q changed the rules, want the old ones kept", bad)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reload() of a removed file error = %v, want fs.ErrNotExist", err)
	}
	if !f.Allows(tenant, app, bob) {
		t.Errorf("Reload() of a removed file dropped the rules, want the old ones kept")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	if _, err := Load(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(%q) error = %v, want fs.ErrNotExist", missing, err)
	}
	// The extension decides: a .json file is never read as YAML.
	path := filepath.Join(dir, "policy.json")
	writeFile(t, path, onlyBob)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+": invalid JSON") {
		t.Errorf("Load(%q) of YAML error = %v, want invalid JSON", path, err)
	}
}

func TestFormatOf(t *testing.T) {
	tests := map[string]Format{
		"p.json": JSON, "P.JSON": JSON, "p.yaml": YAML, "p.yml": YAML, "/etc/p.YML": YAML,
		"policy": Detect, "p.txt": Detect, "json": Detect,
	}
	for in, want := range tests {
		if got := FormatOf(in); got != want {
			t.Errorf("FormatOf(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestFileConcurrent checks, under -race, that Allows may run while the
// file is reloaded: every answer is one a complete policy gives.
func TestFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy")
	writeFile(t, path, onlyAlice)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Exactly one of alice and bob is granted at any time.
				if p := f.Policy(); p.Allows(tenant, app, alice) == p.Allows(tenant, app, bob) {
					t.Errorf("a policy grants alice and bob alike, want exactly one of them")
					return
				}
				f.Allows(tenant, app, alice)
			}
		})
	}
	for i := range 200 {
		data := []string{onlyBob, "policies: [", onlyAlice}[i%3]
		writeFile(t, path, data)
		err := f.Reload()
		if (err != nil) != (i%3 == 1) {
			t.Errorf("Reload() of %q error = %v", data, err)
		}
	}
	close(stop)
	wg.Wait()
}

// FuzzParse checks that Parse returns an error or a policy whose Allows
// never panics, and that the policy, written out again as JSON and as YAML,
// reads back to the same grants.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		sampleJSON, sampleYAML, onlyAlice, onlyBob, "", "{}", `{"policies": []}`, "policies: [",
		`{"policies": [{"tenantId": "` + tenant + `", "appId": "` + app + `", "global": true, "users": []}]}`,
		"policies:\n- &e {tenantId: " + tenant + ", appId: " + app + ", global: true}\n- *e\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{Detect, JSON, YAML} {
			p, err := Parse(data, format)
			if err != nil {
				if p != nil {
					t.Errorf("Parse(%q, %v) = %v, %v; want a nil policy with the error", data, format, p, err)
				}
				continue
			}
			for k := range p.global {
				if !p.Allows(strings.ToUpper(k.tenant), k.app, alice) {
					t.Errorf("Parse(%q): global grant %v does not allow a user", data, k)
				}
			}
			for k := range p.users {
				if !p.Allows(k.tenant, strings.ToUpper(k.app), k.user) {
					t.Errorf("Parse(%q): grant %v does not allow its user", data, k)
				}
			}
			p.Allows(string(data), "", "\xff")
			for name, encode := range map[string]func(any) ([]byte, error){"JSON": json.Marshal, "YAML": yaml.Marshal} {
				out, err := encode(reencode(p))
				if err != nil {
					t.Fatalf("%s encoding of %v: %v", name, p, err)
				}
				q, err := Parse(out, Detect)
				if err != nil {
					t.Fatalf("Parse(%q) of the %s re-encoding of %q: %v", out, name, data, err)
				}
				if !maps.Equal(p.global, q.global) || !maps.Equal(p.users, q.users) {
					t.Errorf("Parse(%q) of the %s re-encoding of %q = %v %v, want %v %v", out, name, data, q.global, q.users, p.global, p.users)
				}
			}
		}
	})
}

// fileEntry is one entry of a policy file, for writing one.
type fileEntry struct {
	TenantID string   `json:"tenantId" yaml:"tenantId"`
	AppID    string   `json:"appId" yaml:"appId"`
	Users    []string `json:"users,omitempty" yaml:"users,omitempty"`
	Global   bool     `json:"global,omitempty" yaml:"global,omitempty"`
}

// reencode returns a file's contents that grant what p grants.
func reencode(p *Policy) any {
	entries := []fileEntry{}
	for k := range p.global {
		entries = append(entries, fileEntry{TenantID: k.tenant, AppID: k.app, Global: true})
	}
	for k := range p.users {
		entries = append(entries, fileEntry{TenantID: k.tenant, AppID: k.app, Users: []string{k.user}})
	}
	return map[string][]fileEntry{"policies": entries}
}
