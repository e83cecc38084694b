package telemetry

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// Tracing carries W3C trace context (traceparent) through a process:
// taken from incoming calls, passed on to outgoing ones. Spans are only
// recorded and exported when an OTLP endpoint is given; without one the
// trace ids still travel, and appear in the logs.
type Tracing struct {
	Provider    trace.TracerProvider
	Propagators propagation.TextMapPropagator
	exporting   bool
	shutdown    func(context.Context) error
}

// NewTracing sets up tracing for a service; endpoint ("host:port" of an
// OTLP/gRPC collector) empty means propagation only.
func NewTracing(ctx context.Context, service, endpoint string) (*Tracing, error) {
	t := &Tracing{
		Propagators: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Provider:    noop.NewTracerProvider(),
		shutdown:    func(context.Context) error { return nil },
	}
	if endpoint == "" {
		return t, nil
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, fmt.Errorf("otlp exporter %s: %w", endpoint, err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("convene-"+service))),
	)
	t.Provider, t.shutdown, t.exporting = tp, tp.Shutdown, true
	return t, nil
}

// Shutdown flushes the spans not exported yet.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// ServerHandler instruments a gRPC server.
func (t *Tracing) ServerHandler() stats.Handler {
	return otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(t.Provider), otelgrpc.WithPropagators(t.Propagators))
}

// DialOption instruments a client connection. Without an exporter there
// are no spans to record, and OpenTelemetry's instrumentation would only
// cost each call its bookkeeping (~4 µs in the gateway, BENCHMARKS.md):
// the trace context is then passed on alone.
func (t *Tracing) DialOption() grpc.DialOption {
	if t.exporting {
		return grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(t.Provider), otelgrpc.WithPropagators(t.Propagators)))
	}
	return grpc.WithStatsHandler(propagator{t.Propagators})
}

// HTTPHandler takes the trace context of a request (traceparent), for the
// calls that serve it and its log line, and records a span of it when
// spans are exported. Without an exporter OpenTelemetry's middleware would
// cost each request ~11 µs of wrappers and metric attributes (BENCHMARKS.md).
func (t *Tracing) HTTPHandler(next http.Handler, operation string) http.Handler {
	if t.exporting {
		return otelhttp.NewHandler(next, operation, otelhttp.WithTracerProvider(t.Provider), otelhttp.WithPropagators(t.Propagators))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ctx := t.Propagators.Extract(r.Context(), propagation.HeaderCarrier(r.Header)); ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// propagator is a client stats.Handler that only passes the trace context
// of each call on, in its metadata, as otelgrpc's does besides its spans.
type propagator struct{ p propagation.TextMapPropagator }

func (p propagator) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	// Most calls carry neither (NewTracing's propagators are trace context
	// and baggage): nothing to allocate for them.
	if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
		return ctx
	}
	carrier := propagation.MapCarrier{}
	p.p.Inject(ctx, carrier)
	if len(carrier) == 0 {
		return ctx
	}
	// Set, not appended: a trace context already in the outgoing metadata
	// is replaced, as otelgrpc does, not sent beside the current one.
	md, ok := metadata.FromOutgoingContext(ctx) // a copy
	if !ok {
		md = metadata.MD{}
	}
	for k, v := range carrier {
		md.Set(k, v)
	}
	return metadata.NewOutgoingContext(ctx, md)
}

func (propagator) HandleRPC(context.Context, stats.RPCStats)                         {}
func (propagator) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (propagator) HandleConn(context.Context, stats.ConnStats)                       {}

// TraceID returns the trace id of ctx, or "".
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}
