package auth

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxMetadataBytes bounds discovery documents and key sets. Entra's are a
// few KiB (discovery) and about 20 KiB (JWKS); go-oidc itself reads
// discovery bodies without a limit.
const maxMetadataBytes = 1 << 20

// defaultHTTPTimeout is the whole-request timeout of the default client,
// and of a caller's client that has none.
const defaultHTTPTimeout = 10 * time.Second

// metadataClient returns a copy of c (nil → a new client) whose responses
// are cut off after maxMetadataBytes and which always has a timeout.
func metadataClient(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	}
	if cp.Timeout <= 0 {
		cp.Timeout = defaultHTTPTimeout
	}
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = &limitTransport{base: base, max: maxMetadataBytes}
	return &cp
}

// limitTransport makes response bodies fail once they exceed max bytes.
type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, remaining: t.max, max: t.max}
	return resp, nil
}

// limitedBody reads at most max bytes and returns an error (instead of a
// silent truncation) when the body is longer.
type limitedBody struct {
	rc        io.ReadCloser
	remaining int64
	max       int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.remaining < 0 {
		return 0, fmt.Errorf("auth: response body larger than %d bytes", b.max)
	}
	if int64(len(p)) > b.remaining+1 {
		p = p[:b.remaining+1]
	}
	n, err := b.rc.Read(p)
	b.remaining -= int64(n)
	if b.remaining < 0 {
		return 0, fmt.Errorf("auth: response body larger than %d bytes", b.max)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
