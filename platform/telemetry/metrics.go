// Package telemetry gives every Convene process its Prometheus metrics
// (served on their own address at /metrics) and the request ids that tie
// one request's log lines together across the gateway and both services.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
)

// Metrics is one process's registry with the gRPC server and client metrics
// (handled counts and latency histograms by method and code).
type Metrics struct {
	Registry *prometheus.Registry
	Server   *grpcprom.ServerMetrics
	Client   *grpcprom.ClientMetrics
	// Profiling adds Go's profiles (net/http/pprof) under /debug/pprof/
	// on the metrics address. Off by default: a CPU profile costs the
	// process while it runs, and the metrics address is for scrapers.
	Profiling bool
}

// latencyBuckets suit calls of a fraction of a millisecond to seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// NewMetrics returns the metrics of a process, with Go runtime and process
// metrics registered.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Server:   grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets))),
		Client:   grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets))),
	}
	m.Registry.MustRegister(m.Server, m.Client, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Serve serves /metrics on addr until ctx ends.
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	if m.Profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// No WriteTimeout: a CPU profile streams for as long as it was asked.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("serving metrics", "addr", lis.Addr().String())
	if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// GaugeFunc is a gauge with one label whose values are read when scraped.
type GaugeFunc struct {
	desc *prometheus.Desc
	read func() (map[string]float64, error)
}

// NewGaugeFunc returns a collector of the gauge name{label=…} = read()[…].
func NewGaugeFunc(name, help, label string, read func() (map[string]float64, error)) *GaugeFunc {
	return &GaugeFunc{desc: prometheus.NewDesc(name, help, []string{label}, nil), read: read}
}

// Describe implements prometheus.Collector.
func (g *GaugeFunc) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *GaugeFunc) Collect(ch chan<- prometheus.Metric) {
	values, err := g.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(g.desc, err)
		return
	}
	for k, v := range values {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, k)
	}
}

// DialOptions instrument a client connection to another Convene service:
// client metrics, and the request id passed on. m may be nil.
func DialOptions(m *Metrics) []grpc.DialOption {
	unary := []grpc.UnaryClientInterceptor{RequestIDClientUnary}
	stream := []grpc.StreamClientInterceptor{RequestIDClientStream}
	if m != nil {
		unary = append([]grpc.UnaryClientInterceptor{m.Client.UnaryClientInterceptor()}, unary...)
		stream = append([]grpc.StreamClientInterceptor{m.Client.StreamClientInterceptor()}, stream...)
	}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(unary...), grpc.WithChainStreamInterceptor(stream...)}
}
