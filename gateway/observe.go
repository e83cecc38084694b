package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"convene.dev/platform/telemetry"
)

// httpMetrics count and time the gateway's HTTP requests.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
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
		rt := route(r.URL.Path)
		m.requests.WithLabelValues(rt, r.Method, strconv.Itoa(rec.code)).Inc()
		m.duration.WithLabelValues(rt, r.Method).Observe(d.Seconds())
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
