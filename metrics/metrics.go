// Package metrics exposes the server's Prometheus metrics: requests by
// operation and status, request latency, store latency, token rejections by
// reason and throttled requests by reason. A nil *Metrics records nothing,
// so callers never check whether metrics are on.
//
// The metrics are served by their own handler on their own listener
// (serve --metrics-addr), never on the API port: they describe the
// deployment, not any one tenant, and must not be reachable by API clients.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onlinemeetings/onlinemeetings/store"
)

// Metrics holds the collectors of one server, in a registry of its own (so
// tests and several servers in one process never collide).
type Metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	storeLatency    *prometheus.HistogramVec
	tokenRejections *prometheus.CounterVec
	throttled       *prometheus.CounterVec
}

// Reasons for Throttled.
const (
	// ThrottledRate is a request over --rate-limit-user or --rate-limit-app.
	ThrottledRate = "rate"
	// ThrottledQuota is a creation over --create-quota-per-month.
	ThrottledQuota = "quota"
)

// New returns metrics registered with a new registry, plus the Go runtime
// and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onlinemeetings_http_requests_total",
			Help: "API requests answered, by operation id (\"unmatched\" when no route matched) and HTTP status.",
		}, []string{"operation", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "onlinemeetings_http_request_duration_seconds",
			Help:    "Time from receiving a request to having answered it, by operation id.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "onlinemeetings_store_operation_duration_seconds",
			Help:    "Time of store calls, by method and outcome (ok, not_found, conflict, quota_exceeded, unavailable, error).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "outcome"}),
		tokenRejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onlinemeetings_token_rejections_total",
			Help: "Requests refused with 401 or 503 because of their bearer token, by reason (no_token, expired, signature, ...).",
		}, []string{"reason"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onlinemeetings_throttled_requests_total",
			Help: "Requests answered 429, by reason: rate (the rate limits) or quota (the monthly creation quota).",
		}, []string{"reason"}),
	}
	for _, r := range []string{ThrottledRate, ThrottledQuota} {
		m.throttled.WithLabelValues(r) // exported as 0 from the start
	}
	m.reg.MustRegister(m.requests, m.latency, m.storeLatency, m.tokenRejections, m.throttled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest records one answered API request.
func (m *Metrics) ObserveRequest(operation string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if operation == "" {
		operation = "unmatched"
	}
	m.requests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(operation).Observe(d.Seconds())
}

// TokenRejected records a request refused for its token.
func (m *Metrics) TokenRejected(reason string) {
	if m == nil {
		return
	}
	m.tokenRejections.WithLabelValues(reason).Inc()
}

// Throttled records a request answered 429 for reason (ThrottledRate or
// ThrottledQuota).
func (m *Metrics) Throttled(reason string) {
	if m == nil {
		return
	}
	m.throttled.WithLabelValues(reason).Inc()
}

// Store returns st with every call timed; st itself when m is nil.
func (m *Metrics) Store(st store.Store) store.Store {
	if m == nil {
		return st
	}
	return &timedStore{st: st, m: m}
}

func (m *Metrics) observeStore(method string, start time.Time, err error) {
	m.storeLatency.WithLabelValues(method, outcome(err)).Observe(time.Since(start).Seconds())
}

// outcome classifies a store error for the store latency label.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errorsIs(err, store.ErrNotFound):
		return "not_found"
	case errorsIs(err, store.ErrIDTaken), errorsIs(err, store.ErrJoinMeetingIDTaken), errorsIs(err, store.ErrExternalIDTaken):
		return "conflict"
	case errorsIs(err, store.ErrUnavailable), errorsIs(err, store.ErrClosed), errorsIs(err, context.DeadlineExceeded):
		return "unavailable"
	case errorsIs(err, store.ErrQuotaExceeded):
		return "quota_exceeded"
	}
	return "error"
}
