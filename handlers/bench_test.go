package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"
)

const benchBody = `{"startDateTime":"2019-07-12T14:30:34.2444915-07:00","endDateTime":"2019-07-12T15:00:34.2464912-07:00","subject":"User Token Meeting"}`

// BenchmarkCreate measures POST /v1.0/me/onlineMeetings in process, through
// the whole stack (request ids, token check, spec validation, handler,
// store), against a bare Echo handler answering a canned body in the same
// run: compare the ratio, not the absolute numbers.
func BenchmarkCreate(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		e := echo.New()
		canned := []byte(`{"id":"x","subject":"User Token Meeting"}`)
		e.POST("/v1.0/me/onlineMeetings", func(c *echo.Context) error {
			return c.Blob(http.StatusCreated, "application/json", canned)
		})
		runCreates(b, e, "")
	})
	for _, k := range storeKinds {
		b.Run(k.name, func(b *testing.B) {
			h := newHarness(b, k.open(b))
			runCreates(b, h.srv.Config.Handler, h.userToken())
		})
	}
}

func runCreates(b *testing.B, h http.Handler, token string) {
	b.ReportAllocs()
	b.SetParallelism(8) // 16 concurrent requests on 2 cores, as the load script uses
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/v1.0/me/onlineMeetings", strings.NewReader(benchBody))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkGet measures GET /v1.0/me/onlineMeetings/{id} in process through
// the whole stack, against a bare Echo handler answering a canned body of
// the same size in the same run.
func BenchmarkGet(b *testing.B) {
	for _, k := range storeKinds {
		b.Run(k.name, func(b *testing.B) {
			h := newHarness(b, k.open(b))
			tok := h.userToken()
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/v1.0/me/onlineMeetings", strings.NewReader(benchBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			h.srv.Config.Handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("create: %d %s", rec.Code, rec.Body)
			}
			canned := rec.Body.Bytes()
			id := strings.SplitN(strings.SplitN(string(canned), `"id":"`, 2)[1], `"`, 2)[0]
			path := "/v1.0/me/onlineMeetings/" + url.PathEscape(id)
			b.Run("bare", func(b *testing.B) {
				e := echo.New()
				e.GET("/v1.0/me/onlineMeetings/:id", func(c *echo.Context) error {
					return c.Blob(http.StatusOK, "application/json", canned)
				})
				runGets(b, e, path, "")
			})
			b.Run("server", func(b *testing.B) { runGets(b, h.srv.Config.Handler, path, tok) })
		})
	}
}

func runGets(b *testing.B, h http.Handler, path, token string) {
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
