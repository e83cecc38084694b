package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// Tracing carries W3C trace context (traceparent) through a process:
// taken from incoming calls, passed on to outgoing ones. Spans are only
// recorded and exported when an OTLP endpoint is given; without one the
// trace ids still travel, and appear in the logs.
type Tracing struct {
	Provider    trace.TracerProvider
	Propagators propagation.TextMapPropagator
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
	t.Provider, t.shutdown = tp, tp.Shutdown
	return t, nil
}

// Shutdown flushes the spans not exported yet.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// ServerHandler instruments a gRPC server.
func (t *Tracing) ServerHandler() stats.Handler {
	return otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(t.Provider), otelgrpc.WithPropagators(t.Propagators))
}

// DialOption instruments a client connection.
func (t *Tracing) DialOption() grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(t.Provider), otelgrpc.WithPropagators(t.Propagators)))
}

// TraceID returns the trace id of ctx, or "".
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}
