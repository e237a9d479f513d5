package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/auth/authtest"
	"github.com/onlinemeetings/onlinemeetings/gen"
	"github.com/onlinemeetings/onlinemeetings/handlers"
	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/memory"
	"github.com/onlinemeetings/onlinemeetings/store/postgres"
	"github.com/onlinemeetings/onlinemeetings/store/postgres/pgtest"
	"github.com/onlinemeetings/onlinemeetings/store/sqlite"
)

// publicURL is the --public-url of test servers: @odata.context must use it,
// whatever Host the request names.
const publicURL = "https://meetings.example.test"

// harness is one running server (the real handler stack behind
// httptest.Server), its test issuer and its store.
type harness struct {
	t      testing.TB
	iss    *authtest.Issuer
	srv    *httptest.Server
	store  *countingStore
	client *gen.ClientWithResponses
}

// countingStore counts successful creates so tests can assert that rejected
// requests store nothing, and can be told to fail or panic.
type countingStore struct {
	store.Store
	creates atomic.Int64
	panicOn atomic.Bool
}

func (s *countingStore) Create(ctx context.Context, m *store.Meeting, q store.Quota) error {
	if s.panicOn.Load() {
		panic("test store panic")
	}
	err := s.Store.Create(ctx, m, q)
	if err == nil {
		s.creates.Add(1)
	}
	return err
}

type storeKind struct {
	name string
	open func(t testing.TB) store.Store
}

// storeKinds are the stores every API test runs against. PostgreSQL joins
// when ONLINEMEETINGS_TEST_POSTGRES_URL is set (CI always sets it).
var storeKinds = func() []storeKind {
	kinds := baseStoreKinds
	if os.Getenv(pgtest.EnvURL) != "" {
		kinds = append(kinds, storeKind{"postgres", func(t testing.TB) store.Store {
			st, err := postgres.Open(context.Background(), pgtest.Schema(t))
			if err != nil {
				t.Fatalf("postgres.Open: %v", err)
			}
			return st
		}})
	}
	return kinds
}()

var baseStoreKinds = []storeKind{
	{"memory", func(t testing.TB) store.Store { return memory.New() }},
	{"sqlite", func(t testing.TB) store.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meetings.db"))
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		return st
	}},
}

// forEachStore runs f against a fresh server on every store implementation.
func forEachStore(t *testing.T, f func(t *testing.T, h *harness)) {
	t.Helper()
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) { f(t, newHarness(t, k.open(t))) })
	}
}

func newHarness(t testing.TB, st store.Store, opts ...func(*handlers.Config)) *harness {
	t.Helper()
	iss := authtest.NewIssuer(t)
	v := auth.NewVerifier(auth.Config{Issuer: iss.URL(), Audience: authtest.Audience})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v.Start(ctx)
	waitReady(t, v)
	return newHarnessWith(t, iss, st, v, opts...)
}

func newHarnessWith(t testing.TB, iss *authtest.Issuer, st store.Store, v handlers.TokenVerifier, opts ...func(*handlers.Config)) *harness {
	t.Helper()
	cs := &countingStore{Store: st}
	t.Cleanup(func() { _ = st.Close() })
	cfg := handlers.Config{Store: cs, Verifier: v, PublicURL: publicURL}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := handlers.New(cfg)
	if err != nil {
		t.Fatalf("handlers.New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client, err := gen.NewClientWithResponses(srv.URL + "/v1.0")
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, iss: iss, srv: srv, store: cs, client: client}
}

func waitReady(t testing.TB, v interface{ Ready() bool }) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("verifier never became ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// userToken is a valid delegated token of the default test user.
func (h *harness) userToken() string {
	return h.iss.UserToken(h.t, authtest.UserOpts{})
}

// bearer returns a client option that sends tok.
func bearer(tok string) gen.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
	// contentLength is the Content-Length header's value, -1 without one
	// (a chunked body).
	contentLength int64
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends a raw request to the server; headers with an empty value are removed.
func (h *harness) do(method, path string, header map[string]string, body io.Reader) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b, contentLength: res.ContentLength}
}

// create posts body to /v1.0/me/onlineMeetings with a valid token and JSON Content-Type.
func (h *harness) create(body string) response {
	h.t.Helper()
	return h.do(http.MethodPost, "/v1.0/me/onlineMeetings", map[string]string{
		"Authorization": "Bearer " + h.userToken(),
		"Content-Type":  "application/json",
	}, strings.NewReader(body))
}

// graphError checks that r is Graph's error JSON with the given status and
// code, a message containing msg, and consistent correlation ids.
func graphError(t *testing.T, r response, status int, code, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	var e struct {
		Error struct {
			Code       string         `json:"code"`
			Message    string         `json:"message"`
			InnerError map[string]any `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, r.body)
	}
	if e.Error.Code != code {
		t.Errorf("error.code = %q, want %q (message %q)", e.Error.Code, code, e.Error.Message)
	}
	if !strings.Contains(e.Error.Message, msg) {
		t.Errorf("error.message = %q, want it to contain %q", e.Error.Message, msg)
	}
	if got := r.header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	rid := r.header.Get("request-id")
	if !guidRE.MatchString(rid) {
		t.Errorf("request-id header = %q, want a GUID", rid)
	}
	if got := e.Error.InnerError["request-id"]; got != rid {
		t.Errorf("innerError.request-id = %v, want %q", got, rid)
	}
	if got := e.Error.InnerError["client-request-id"]; got != r.header.Get("client-request-id") {
		t.Errorf("innerError.client-request-id = %v, want the header %q", got, r.header.Get("client-request-id"))
	}
	date, _ := e.Error.InnerError["date"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05", date); err != nil {
		t.Errorf("innerError.date = %q, want yyyy-MM-ddTHH:mm:ss", date)
	}
}
