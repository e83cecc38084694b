package telemetry

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

const (
	traceHex  = "4bf92f3577b34da6a3ce929d0e0e4736"
	spanHex   = "00f067aa0ba902b7"
	wantTrace = "00-" + traceHex + "-" + spanHex + "-01"
)

// inTrace returns ctx in the remote trace traceHex.
func inTrace(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tid, err := trace.TraceIDFromHex(traceHex)
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex(spanHex)
	if err != nil {
		t.Fatal(err)
	}
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
}

// TestPropagationWithoutExporter: without an exporter, a client passes the
// caller's trace context on, once, on unary and streaming calls, and none
// when there is none.
func TestPropagationWithoutExporter(t *testing.T) {
	seen := make(chan []string, 1)
	seenBaggage := make(chan []string, 1)
	record := func(ctx context.Context) {
		md, _ := metadata.FromIncomingContext(ctx)
		seen <- md.Get("traceparent")
		seenBaggage <- md.Get("baggage")
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			record(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			record(ss.Context())
			return h(srv, ss)
		}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	tr, err := NewTracing(context.Background(), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), tr.DialOption())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)

	check := func(name string, ctx context.Context, want []string) {
		t.Helper()
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		if got := <-seen; len(got) != len(want) || (len(want) == 1 && got[0] != want[0]) {
			t.Errorf("%s: traceparent %q, want %q", name, got, want)
		}
		<-seenBaggage
	}
	check("no trace", context.Background(), nil)
	check("a trace", inTrace(t, context.Background()), []string{wantTrace})
	stale := metadata.AppendToOutgoingContext(context.Background(), "traceparent", "00-11111111111111111111111111111111-2222222222222222-01")
	check("a trace and an older traceparent", inTrace(t, stale), []string{wantTrace})

	member, err := baggage.NewMember("delegation", "MX")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Check(baggage.ContextWithBaggage(context.Background(), bag), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; len(got) != 0 {
		t.Errorf("baggage alone: traceparent %q, want none", got)
	}
	if got := <-seenBaggage; len(got) != 1 || got[0] != "delegation=MX" {
		t.Errorf("baggage alone: baggage %q, want [delegation=MX]", got)
	}

	ctx, cancel := context.WithCancel(inTrace(t, context.Background()))
	defer cancel()
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; len(got) != 1 || got[0] != wantTrace {
		t.Errorf("stream: traceparent %q, want %q", got, wantTrace)
	}
	<-seenBaggage
}

// TestHTTPHandlerWithoutExporter: the trace context of a request reaches
// the handler; a request without one has none.
func TestHTTPHandlerWithoutExporter(t *testing.T) {
	tr, err := NewTracing(context.Background(), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	h := tr.HTTPHandler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = TraceID(r.Context()) }), "test")
	for _, tc := range []struct{ header, want string }{{wantTrace, traceHex}, {"", ""}, {"not a traceparent", ""}} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("Traceparent", tc.header)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tc.want {
			t.Errorf("traceparent %q: trace id %q, want %q", tc.header, got, tc.want)
		}
	}
}
