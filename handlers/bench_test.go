package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
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
		e.POST("/v1.0/me/onlineMeetings", func(c echo.Context) error {
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
