package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"convene.dev/platform/telemetry"
)

// httpMetrics count and time the gateway's HTTP requests.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// series holds each label set's counter and histogram once used
	// (seriesKey → *series): looking them up by their label values hashes
	// them on every request (~1.8 µs of a create through the gateway in
	// `make bench`). There are a few dozen at most: five routes, the
	// methods of httpMethod, the status codes the gateway answers with.
	series sync.Map
}

type seriesKey struct {
	route, method string
	code          int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// record counts one finished request and its duration.
func (m *httpMetrics) record(route, method string, code int, d time.Duration) {
	k := seriesKey{route, method, code}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(code)),
			duration: m.duration.WithLabelValues(route, method),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "convene_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "convene_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// route names the kind of request without its ids, to keep the label set small.
func route(path string) string {
	switch {
	case path == "/healthz", path == "/openapi.json":
		return path
	case strings.HasPrefix(path, "/v1/events"):
		switch {
		case strings.Contains(path, "/registrationStats"):
			return "registrationStats"
		case strings.Contains(path, "/registrations"):
			return "registrations"
		}
		return "events"
	}
	return "other"
}

// httpMethod is the method as a metric label: the standard ones, and
// "other" for any other token a client sends, which would otherwise make
// a new series each.
func httpMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets the streamed responses (the change feed, exports) through.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe gives every request an id (the caller's X-Request-Id, or a new
// one), which goes to the services with the call and back in the response,
// then logs one line and records the metrics when the request is done.
func observe(next http.Handler, log *slog.Logger, m *httpMetrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !telemetry.ValidRequestID(id) {
			id = telemetry.NewRequestID()
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		d := time.Since(start)
		m.record(route(r.URL.Path), httpMethod(r.Method), rec.code, d)
		if r.URL.Path != "/healthz" && log.Enabled(context.Background(), slog.LevelInfo) {
			// As log.Info would write it, without the caller's program
			// counter that log.Info looks up (runtime.Callers) for handlers
			// that add the source, which ours do not.
			line := slog.NewRecord(time.Now(), slog.LevelInfo, "finished request", 0)
			line.AddAttrs(slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("code", rec.code),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.String("request_id", id),
				slog.String("trace_id", telemetry.TraceID(r.Context())), slog.String("remote", r.RemoteAddr))
			_ = log.Handler().Handle(context.Background(), line) // a line that cannot be written is not the request's failure
		}
	})
}
