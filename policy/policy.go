// Package policy reads Graph application access policies from a file: which
// apps may use app-only tokens to act on /users/{userId}/onlineMeetings for
// which users of their tenant. Microsoft Graph asks a tenant admin to grant
// such a policy (Grant-CsApplicationAccessPolicy); this server reads the
// grants from a JSON or YAML file instead:
//
//	{"policies": [
//	  {"tenantId": "…", "appId": "…", "users": ["<user object id>", …]},
//	  {"tenantId": "…", "appId": "…", "global": true}
//	]}
//
// An entry grants its app either the listed users (non-empty users) or every
// user of its tenant (global: true), never both at once. Ids are GUIDs and
// compare case-insensitively. Several entries may name the same tenant and
// app; their grants add up. An explicit empty list, "policies": [], grants
// nothing; a file without "policies" is an error.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v4"
)

// Policy is a parsed policy file. It is immutable and safe for concurrent
// use; the nil *Policy grants nothing.
type Policy struct {
	global  map[appKey]struct{}
	users   map[userKey]struct{}
	entries int
}

// appKey is an app of a tenant, both ids lower case.
type appKey struct{ tenant, app string }

// userKey is a grant of one user to an app, all ids lower case.
type userKey struct{ tenant, app, user string }

// Allows reports whether the app appID of tenant tenantID may act for the
// user userID: a global entry for the app, or an entry listing the user.
// Ids compare case-insensitively.
func (p *Policy) Allows(tenantID, appID, userID string) bool {
	if p == nil {
		return false
	}
	tenantID, appID = strings.ToLower(tenantID), strings.ToLower(appID)
	if _, ok := p.global[appKey{tenantID, appID}]; ok {
		return true
	}
	_, ok := p.users[userKey{tenantID, appID, strings.ToLower(userID)}]
	return ok
}

// Len returns the number of entries in the file the policy was read from.
func (p *Policy) Len() int {
	if p == nil {
		return 0
	}
	return p.entries
}

// Format is the syntax of a policy file.
type Format int

const (
	// Detect reads a file as JSON when its first non-space character is
	// '{', else as YAML.
	Detect Format = iota
	// JSON is RFC 8259 JSON.
	JSON
	// YAML is YAML 1.2 (one document).
	YAML
)

// FormatOf returns the format a file name's extension implies: JSON for
// .json, YAML for .yaml and .yml (any case), else Detect.
func FormatOf(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return JSON
	case ".yaml", ".yml":
		return YAML
	}
	return Detect
}

// ErrEmpty means the policy file holds nothing (only white space or
// comments).
var ErrEmpty = errors.New("policy file is empty")

// Parse reads a policy file's contents in format f. Errors are one line and
// name the entry and field at fault, as in
// `policies[2].appId: "x" is not a GUID`.
func Parse(data []byte, f Format) (*Policy, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if f == Detect {
		f = YAML
		if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
			f = JSON
		}
	}
	var doc any
	var err error
	if f == JSON {
		doc, err = decodeJSON(data)
	} else {
		doc, err = decodeYAML(data)
	}
	if err != nil {
		return nil, err
	}
	return build(doc)
}

// maxDepth bounds the nesting of a JSON file; the format needs four levels.
const maxDepth = 8

// decodeJSON decodes data into maps, slices, strings, json.Numbers, bools and
// nils, refusing duplicate keys and anything after the top-level value.
func decodeJSON(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmpty
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	doc, err := jsonValue(dec, 0)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return doc, nil
		}
		if err == nil {
			err = errors.New("unexpected data after the top-level object")
		}
	}
	var se *json.SyntaxError
	// Input that ends mid-value: io.EOF or io.ErrUnexpectedEOF up to Go 1.26;
	// from Go 1.27 a SyntaxError with encoding/json's "unexpected end of JSON input".
	truncated := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &se) && se.Error() == "unexpected end of JSON input")
	if truncated {
		return nil, errors.New("invalid JSON: unexpected end of file")
	}
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return nil, fmt.Errorf("invalid JSON on line %d: %v", line, se)
	}
	return nil, fmt.Errorf("invalid JSON: %w", err)
}

func jsonValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := k.(string) // the decoder returns only strings as keys
			if _, dup := obj[key]; dup {
				return nil, fmt.Errorf("duplicate key %q", key)
			}
			if obj[key], err = jsonValue(dec, depth+1); err != nil {
				return nil, err
			}
		}
		_, err := dec.Token()
		return obj, err
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := jsonValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token()
		return arr, err
	}
	return tok, nil
}

// decodeYAML decodes one YAML document; duplicate keys are errors.
func decodeYAML(data []byte) (any, error) {
	l, err := yaml.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var doc, next any
	if err := l.Load(&doc); err != nil {
		if err == io.EOF {
			return nil, ErrEmpty
		}
		return nil, yamlError(err)
	}
	if err := l.Load(&next); err != io.EOF {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, errors.New("invalid YAML: more than one document")
	}
	return doc, nil
}

// yamlError makes a YAML decoding error one line.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "construct errors: ")
	return fmt.Errorf("invalid YAML: %s", strings.Join(strings.Fields(msg), " "))
}

// Field names of the format.
const (
	fieldPolicies = "policies"
	fieldTenantID = "tenantId"
	fieldAppID    = "appId"
	fieldUsers    = "users"
	fieldGlobal   = "global"
)

var entryFields = []string{fieldTenantID, fieldAppID, fieldUsers, fieldGlobal}

// build validates a decoded file and indexes its grants.
func build(doc any) (*Policy, error) {
	if doc == nil {
		return nil, ErrEmpty
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf(`want an object with a "policies" list at the top, got %s`, kind(doc))
	}
	if err := onlyFields(root, "", fieldPolicies); err != nil {
		return nil, err
	}
	raw, ok := root[fieldPolicies]
	if !ok || raw == nil {
		return nil, errors.New(`"policies" is missing`)
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("policies: want a list, got %s", kind(raw))
	}
	p := &Policy{global: map[appKey]struct{}{}, users: map[userKey]struct{}{}, entries: len(list)}
	for i, v := range list {
		at := fmt.Sprintf("policies[%d]", i)
		e, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want an object, got %s", at, kind(v))
		}
		if err := onlyFields(e, at+".", entryFields...); err != nil {
			return nil, err
		}
		tenant, err := guidField(e, at, fieldTenantID)
		if err != nil {
			return nil, err
		}
		app, err := guidField(e, at, fieldAppID)
		if err != nil {
			return nil, err
		}
		global := false
		if g, ok := e[fieldGlobal]; ok {
			if global, ok = g.(bool); !ok {
				return nil, fmt.Errorf("%s.global: want true or false, got %s", at, kind(g))
			}
		}
		users, err := userList(e, at)
		if err != nil {
			return nil, err
		}
		switch {
		case global && len(users) > 0:
			return nil, fmt.Errorf("%s: set either users or global: true, not both", at)
		case !global && len(users) == 0:
			return nil, fmt.Errorf("%s: needs a non-empty users list or global: true", at)
		case global:
			p.global[appKey{tenant, app}] = struct{}{}
		}
		for _, u := range users {
			p.users[userKey{tenant, app, u}] = struct{}{}
		}
	}
	return p, nil
}

// onlyFields returns an error naming the first key of obj (in sorted order)
// that is not one of fields.
func onlyFields(obj map[string]any, at string, fields ...string) error {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(fields, k) {
			return fmt.Errorf("%sunknown field %q (want %s)", at, k, strings.Join(fields, ", "))
		}
	}
	return nil
}

// guidField returns the required GUID field name of entry at, lower case.
func guidField(e map[string]any, at, name string) (string, error) {
	v, ok := e[name]
	if !ok || v == nil {
		return "", fmt.Errorf("%s.%s is missing", at, name)
	}
	return guid(v, at+"."+name)
}

// userList returns the users of entry at, lower case; absent or null is
// an empty list.
func userList(e map[string]any, at string) ([]string, error) {
	v := e[fieldUsers]
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s.users: want a list of user object ids, got %s", at, kind(v))
	}
	users := make([]string, 0, len(list))
	seen := make(map[string]int, len(list))
	for j, u := range list {
		id, err := guid(u, fmt.Sprintf("%s.users[%d]", at, j))
		if err != nil {
			return nil, err
		}
		if k, dup := seen[id]; dup {
			return nil, fmt.Errorf("%s.users[%d]: %s is listed already as users[%d]", at, j, id, k)
		}
		seen[id] = j
		users = append(users, id)
	}
	return users, nil
}

// guid checks that v, found at at, is a GUID string (8-4-4-4-12 hex, no
// braces) and returns it in lower case.
func guid(v any, at string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a GUID string, got %s", at, kind(v))
	}
	if len(s) != 36 || uuid.Validate(s) != nil {
		return "", fmt.Errorf("%s: %q is not a GUID (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", at, s)
	}
	return strings.ToLower(s), nil
}

// kind names the type of a decoded value for error messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "true/false"
	case json.Number, int, int64, uint64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case map[any]any:
		return "an object with keys that are not strings"
	case time.Time:
		return "a timestamp"
	}
	return fmt.Sprintf("a %T", v)
}

// File is a policy file and the rules last read from it successfully. It is
// safe for concurrent use: Allows reads the current rules without locking,
// and Reload swaps them atomically. The nil *File grants nothing.
type File struct {
	path   string
	reload sync.Mutex // serialises Reload, so the last file read wins
	cur    atomic.Pointer[Policy]
}

// Load reads the policy file at path, in the format its extension implies
// (see FormatOf).
func Load(path string) (*File, error) {
	f := &File{path: path}
	p, err := f.read()
	if err != nil {
		return nil, err
	}
	f.cur.Store(p)
	return f, nil
}

// Reload reads the file again. When it is unreadable or invalid, the rules
// stay as they were and Reload returns why.
func (f *File) Reload() error {
	f.reload.Lock()
	defer f.reload.Unlock()
	p, err := f.read()
	if err != nil {
		return err
	}
	f.cur.Store(p)
	return nil
}

func (f *File) read() (*Policy, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, err // *fs.PathError names the file
	}
	p, err := Parse(data, FormatOf(f.path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return p, nil
}

// Path returns the file's path as given to Load.
func (f *File) Path() string { return f.path }

// Policy returns the rules in force.
func (f *File) Policy() *Policy {
	if f == nil {
		return nil
	}
	return f.cur.Load()
}

// Allows reports whether the rules in force let the app appID of tenant
// tenantID act for the user userID (see Policy.Allows).
func (f *File) Allows(tenantID, appID, userID string) bool {
	return f.Policy().Allows(tenantID, appID, userID)
}
