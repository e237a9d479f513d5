// Package devissuer is the token issuer embedded in the server when it runs
// without --issuer (local development). It keeps an RSA signing key and a
// default user in the data folder, serves OIDC discovery and the key set so
// that the server's ordinary auth.Verifier can check its tokens, and mints
// tokens shaped like Microsoft Entra ID v2 access tokens (for the
// `onlinemeetings token` command and for tests).
//
// It is for development only: anyone who can read the data folder can
// mint tokens the server accepts.
package devissuer

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

const (
	// DefaultAudience is the audience of minted tokens unless told
	// otherwise: Graph's, because the server imitates Graph.
	DefaultAudience = "https://graph.microsoft.com"
	// DefaultScope is the scope of minted delegated tokens when
	// TokenOptions.Scopes is nil.
	DefaultScope = "OnlineMeetings.ReadWrite"
	// DefaultTTL is the lifetime of minted tokens when TokenOptions.TTL is 0.
	DefaultTTL = time.Hour
	// DefaultAppID is the azp of minted tokens when TokenOptions.AppID is
	// empty: a fixed, made-up client id for the developer's tools.
	DefaultAppID = "d3e1c0de-0000-4000-8000-00000000de01"
	// MountPath is where the server mounts Handler under its public URL.
	MountPath = "/dev-issuer"
	// KeyFile is the name of the signing key (PKCS#8 PEM, mode 0600) in the
	// data folder.
	KeyFile = "dev-issuer-key.pem"
	// UserFile is the name of the default user (JSON) in the data folder.
	UserFile = "dev-user.json"
)

// IssuerURL returns the issuer URL of the dev issuer mounted under a server
// whose public URL is publicURL: publicURL + MountPath.
func IssuerURL(publicURL string) string {
	return strings.TrimRight(publicURL, "/") + MountPath
}

// User is the identity minted tokens carry by default, created once per
// data folder so that meetings keep their owner across restarts.
type User struct {
	// OID is the user's object id (a lower-case GUID).
	OID string `json:"oid"`
	// TID is the tenant id (a lower-case GUID).
	TID string `json:"tid"`
	// Name is the display name (the name claim).
	Name string `json:"name"`
	// UPN is the user principal name (the upn and preferred_username claims).
	UPN string `json:"upn"`
}

// Issuer is an opened dev issuer. It is immutable and safe for concurrent
// use.
type Issuer struct {
	key  *rsa.PrivateKey
	kid  string
	user User
	jwks []byte
}

// Open loads the dev issuer from dataDir, creating what is missing: the
// folder (mode 0700), the signing key (RSA-2048, KeyFile, mode 0600) and the
// default user (UserFile: random oid and tid, name "Dev User", upn
// "dev.user@onlinemeetings.local"). Files are written atomically (a temp
// file, then a link or rename), and when two processes race on first start
// the first file wins and both use it. Temp files left by a process that
// was killed while writing are removed once they are a minute old.
//
// Open refuses a key file that group or others may read or write (as ssh
// does for private keys): fix it with chmod 600. This check is skipped on
// Windows, whose permission bits mean nothing here.
func Open(dataDir string) (*Issuer, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("devissuer: create data folder: %w", err)
	}
	removeStaleTemps(dataDir, time.Now())
	key, err := loadOrCreateKey(filepath.Join(dataDir, KeyFile))
	if err != nil {
		return nil, err
	}
	user, err := loadOrCreateUser(filepath.Join(dataDir, UserFile))
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("devissuer: key thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	if err != nil {
		return nil, fmt.Errorf("devissuer: encode key set: %w", err)
	}
	return &Issuer{key: key, kid: jwk.KeyID, user: user, jwks: jwks}, nil
}

func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	key, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devissuer: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("devissuer: encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	created, err := writeNew(path, data)
	if err != nil {
		return nil, fmt.Errorf("devissuer: write key: %w", err)
	}
	if !created {
		return loadKey(path) // another process made it first
	}
	return key, nil
}

func loadKey(path string) (*rsa.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("devissuer: key file %s has mode %#o; it must not be accessible by group or others (chmod 600 %s)",
			path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devissuer: read key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("devissuer: %s is not a PEM \"PRIVATE KEY\"", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devissuer: parse key %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok || rk.N.BitLen() < 2048 {
		return nil, fmt.Errorf("devissuer: %s is not an RSA key of at least 2048 bits", path)
	}
	return rk, nil
}

func loadOrCreateUser(path string) (User, error) {
	u, err := loadUser(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return u, err
	}
	u = User{
		OID:  uuid.NewString(),
		TID:  uuid.NewString(),
		Name: "Dev User",
		UPN:  "dev.user@onlinemeetings.local",
	}
	data, err := json.MarshalIndent(u, "", "  ")
	if err != nil {
		return User{}, err
	}
	created, err := writeNew(path, append(data, '\n'))
	if err != nil {
		return User{}, fmt.Errorf("devissuer: write user: %w", err)
	}
	if !created {
		return loadUser(path)
	}
	return u, nil
}

func loadUser(path string) (User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return User{}, err
	}
	var u User
	if err := json.Unmarshal(data, &u); err != nil {
		return User{}, fmt.Errorf("devissuer: parse %s: %w", path, err)
	}
	if !isGUID(u.OID) || !isGUID(u.TID) {
		return User{}, fmt.Errorf("devissuer: %s: oid and tid must be GUIDs", path)
	}
	u.OID, u.TID = strings.ToLower(u.OID), strings.ToLower(u.TID)
	if u.Name == "" || u.UPN == "" {
		return User{}, fmt.Errorf("devissuer: %s: name and upn must not be empty", path)
	}
	return u, nil
}

// writeNew writes data to path (mode 0600) atomically: a temp file in the
// same folder, synced, then hard-linked to path so that an existing file is
// never replaced (created is false when path already existed). Where hard
// links are unsupported it falls back to rename.
func writeNew(path string, data []byte) (created bool, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return false, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		if err := os.Rename(tmp, path); err != nil {
			return false, err
		}
	}
	syncDir(dir)
	return true, nil
}

// staleTempAge is how old a temp file of writeNew must be for Open to
// remove it: writeNew keeps its own for milliseconds, so an older one was
// left by a process that died (kill -9, power loss) between creating it and
// removing it (after the link too) and would otherwise stay in the folder
// for good: for the key, a second copy of the private key. Younger ones
// may belong to another process starting at the same time, and are left
// alone.
const staleTempAge = time.Minute

// removeStaleTemps removes, best effort, the temp files writeNew leaves in
// dir when its process dies, if they are older than staleTempAge at now.
func removeStaleTemps(dir string, now time.Time) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(n, ".tmp") ||
			!strings.HasPrefix(n, "."+KeyFile+".") && !strings.HasPrefix(n, "."+UserFile+".") {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > staleTempAge {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
}

// syncDir makes a new directory entry durable (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// DefaultUser returns the user minted tokens carry unless told otherwise.
func (i *Issuer) DefaultUser() User { return i.user }

// KeyID returns the kid of the signing key: its RFC 7638 SHA-256
// thumbprint, base64url.
func (i *Issuer) KeyID() string { return i.kid }

// Handler serves the issuer's metadata relative to where it is mounted:
// GET /.well-known/openid-configuration (with issuer = issuerURL and
// jwks_uri = issuerURL + "/keys") and GET /keys. Mount it with the prefix
// stripped, e.g.
//
//	mux.Handle(devissuer.MountPath+"/", http.StripPrefix(devissuer.MountPath, iss.Handler(issuerURL)))
func (i *Issuer) Handler(issuerURL string) http.Handler {
	issuerURL = strings.TrimRight(issuerURL, "/")
	discovery, _ := json.Marshal(map[string]any{
		"issuer":                                issuerURL,
		"jwks_uri":                              issuerURL + "/keys",
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
		"claims_supported": []string{"iss", "aud", "exp", "nbf", "iat", "sub", "oid", "tid",
			"name", "upn", "preferred_username", "scp", "roles", "azp", "idtyp", "ver"},
	})
	serve := func(body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "max-age=300")
			_, _ = w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/openid-configuration", serve(discovery))
	mux.Handle("/keys", serve(i.jwks))
	return mux
}

// HTTPClient returns a client that answers requests for URLs under
// issuerURL in-process from Handler(issuerURL), without the network, and
// fails for any other URL. Give it to auth.Config.HTTPClient so that the
// server can discover its own dev issuer even when its public URL does not
// resolve from the machine it runs on.
func (i *Issuer) HTTPClient(issuerURL string) *http.Client {
	issuerURL = strings.TrimRight(issuerURL, "/")
	base, err := url.Parse(issuerURL)
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &localTransport{base: base, parseErr: err, handler: i.Handler(issuerURL)},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("devissuer: redirects are not followed")
		},
	}
}

// localTransport serves requests under base from handler.
type localTransport struct {
	base     *url.URL
	parseErr error
	handler  http.Handler
}

func (t *localTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	if t.parseErr != nil {
		return nil, fmt.Errorf("devissuer: bad issuer URL: %w", t.parseErr)
	}
	rel, ok := t.relative(req.URL)
	if !ok {
		return nil, fmt.Errorf("devissuer: refusing request for %s: not under the dev issuer %s", req.URL.Redacted(), t.base.Redacted())
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.URL.Path, r.URL.RawPath = rel, ""
	r.RequestURI = rel
	rec := &recorder{header: make(http.Header)}
	t.handler.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(&rec.body),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// recorder is the http.ResponseWriter for in-process requests (net/http/
// httptest is kept out of the server binary).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// relative returns u's path relative to the issuer URL, if u is under it.
func (t *localTransport) relative(u *url.URL) (string, bool) {
	if !strings.EqualFold(u.Scheme, t.base.Scheme) || !strings.EqualFold(u.Host, t.base.Host) {
		return "", false
	}
	p := u.Path
	if !strings.HasPrefix(p, t.base.Path) {
		return "", false
	}
	rel := p[len(t.base.Path):]
	if rel == "" || rel[0] != '/' {
		return "", false
	}
	return rel, true
}

// TokenOptions shapes a minted token. Zero fields take defaults.
type TokenOptions struct {
	// OID, TID, Name and UPN identify the caller; empty means the default
	// user's. OID and TID must be GUIDs.
	OID, TID, Name, UPN string
	// Scopes become scp, space-separated. nil means [DefaultScope], except
	// for app-only tokens.
	Scopes []string
	// Roles become the roles claim. Roles with nil Scopes make an app-only
	// token: no scp, name, upn or preferred_username, and idtyp "app".
	Roles []string
	// AppID is azp; empty means DefaultAppID.
	AppID string
	// TTL is the lifetime; 0 or less means DefaultTTL.
	TTL time.Duration
}

// Mint signs a token for issuerURL and audience, shaped like an Entra ID v2
// access token: iss, aud, exp, nbf, iat, sub, oid, tid, name, upn,
// preferred_username, scp, roles, azp, azpacr, uti, ver "2.0", and idtyp
// "app" for app-only tokens.
func (i *Issuer) Mint(issuerURL, audience string, o TokenOptions) (string, error) {
	issuerURL = strings.TrimRight(issuerURL, "/")
	if issuerURL == "" || audience == "" {
		return "", errors.New("devissuer: issuer URL and audience are required")
	}
	oid, tid := or(o.OID, i.user.OID), or(o.TID, i.user.TID)
	if !isGUID(oid) || !isGUID(tid) {
		return "", errors.New("devissuer: oid and tid must be GUIDs")
	}
	oid, tid = strings.ToLower(oid), strings.ToLower(tid)
	appID := or(o.AppID, DefaultAppID)
	ttl := o.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	appOnly := len(o.Roles) > 0 && o.Scopes == nil
	scopes := o.Scopes
	if scopes == nil && !appOnly {
		scopes = []string{DefaultScope}
	}

	now := time.Now()
	sub := sha256.Sum256([]byte(oid + "|" + appID))
	uti := make([]byte, 16)
	_, _ = rand.Read(uti)
	c := map[string]any{
		"iss": issuerURL,
		"aud": audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"sub": base64.RawURLEncoding.EncodeToString(sub[:]),
		"oid": oid,
		"tid": tid,
		"azp": appID,
		"uti": base64.RawURLEncoding.EncodeToString(uti),
		"ver": "2.0",
	}
	if appOnly {
		c["idtyp"] = "app"
		c["azpacr"] = "1"
	} else {
		upn := or(o.UPN, i.user.UPN)
		c["name"] = or(o.Name, i.user.Name)
		c["upn"] = upn
		c["preferred_username"] = upn
		c["azpacr"] = "0"
	}
	if len(scopes) > 0 {
		c["scp"] = strings.Join(scopes, " ")
	}
	if len(o.Roles) > 0 {
		c["roles"] = o.Roles
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: i.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", i.kid))
	if err != nil {
		return "", fmt.Errorf("devissuer: signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("devissuer: sign: %w", err)
	}
	return jws.CompactSerialize()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// isGUID reports whether s is a GUID in canonical 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
