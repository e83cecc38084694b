// Package gateway serves Convene's HTTP/JSON API: grpc-gateway handlers that
// call the events and registrations services over gRPC, the OpenAPI
// document, and a health endpoint that reflects both backends.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	// The error details that the services send; JSON needs their types registered.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"convene.dev/gateway/web"
	"convene.dev/gen"
	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/telemetry"
)

// Options configure the gateway.
type Options struct {
	HTTPAddr          string        // listen address
	EventsAddr        string        // the events service's gRPC address
	RegistrationsAddr string        // the registrations service's gRPC address
	MaxBodyBytes      int64         // larger request bodies are refused with 413
	ShutdownTimeout   time.Duration // how long in-flight requests may finish on shutdown
	CallTimeout       time.Duration // the deadline of every unary call to a backend
	RateLimit         float64       // public CreateRegistration calls per second per client address; 0: no limit
	RateBurst         int           // and how many may come at once
	CORSOrigins       string        // comma-separated origins allowed to call from browsers; none by default
	MetricsAddr       string        // serves /metrics; empty turns it off
	Pprof             bool          // also serves Go's profiles at /debug/pprof/ on MetricsAddr
	OTLPEndpoint      string        // host:port of an OTLP/gRPC collector for trace spans; empty: none
	Logger            *slog.Logger
}

// DefaultOptions returns the defaults of the operator contract.
func DefaultOptions() Options {
	return Options{
		HTTPAddr:          "127.0.0.1:8080",
		EventsAddr:        "127.0.0.1:9091",
		RegistrationsAddr: "127.0.0.1:9092",
		MaxBodyBytes:      1 << 20,
		ShutdownTimeout:   10 * time.Second,
		CallTimeout:       15 * time.Second,
		RateLimit:         5,
		RateBurst:         20,
		MetricsAddr:       "127.0.0.1:9180",
		Logger:            slog.Default(),
	}
}

// Gateway is a listening, not yet serving, gateway.
type Gateway struct {
	opts    Options
	lis     net.Listener
	conns   []*grpc.ClientConn
	srv     *http.Server
	metrics *telemetry.Metrics
	tracing *telemetry.Tracing
}

// New dials the backends (lazily: they may start later) and listens.
func New(ctx context.Context, opts Options) (*Gateway, error) {
	tracing, err := telemetry.NewTracing(ctx, "gateway", opts.OTLPEndpoint)
	if err != nil {
		return nil, err
	}
	g := &Gateway{opts: opts, metrics: telemetry.NewMetrics(), tracing: tracing}
	g.metrics.Profiling = opts.Pprof
	events, err := dial(opts.EventsAddr, g.metrics, tracing)
	if err != nil {
		return nil, err
	}
	registrations, err := dial(opts.RegistrationsAddr, g.metrics, tracing)
	if err != nil {
		events.Close()
		return nil, err
	}
	g.conns = []*grpc.ClientConn{events, registrations}

	mux := runtime.NewServeMux(
		// Absent, not empty: a field the server leaves out must not appear as "".
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: bodyJSON{&runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: false},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			}},
		}),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
	)
	if err := eventsv1.RegisterEventServiceHandler(ctx, mux, events); err != nil {
		g.Close()
		return nil, fmt.Errorf("register events handlers: %w", err)
	}
	if err := registrationsv1.RegisterRegistrationServiceHandler(ctx, mux, registrations); err != nil {
		g.Close()
		return nil, fmt.Errorf("register registrations handlers: %w", err)
	}

	root := http.NewServeMux()
	root.Handle("GET /healthz", g.healthz(map[string]*grpc.ClientConn{"events": events, "registrations": registrations}))
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(gen.OpenAPI)
	})
	root.Handle("GET /v1/events/{event}/registrations:export", exportHandler(mux, registrationsv1.NewRegistrationServiceClient(registrations)))
	api := limitBody(withDeadline(mux, opts.CallTimeout), opts.MaxBodyBytes)
	root.Handle("/v1/", api)
	root.Handle("/", web.Handler(api)) // the web page; any other path gets the API's JSON 404

	var limiter *rateLimiter
	if opts.RateLimit > 0 {
		limiter = newRateLimiter(opts.RateLimit, opts.RateBurst)
	}
	handler := observe(cors(limitRate(root, limiter), parseOrigins(opts.CORSOrigins)), opts.Logger, newHTTPMetrics(g.metrics.Registry))
	// The trace context of the caller (traceparent; a new one when spans
	// are exported and the caller sent none), for the
	// calls to the services and the log line.
	handler = tracing.HTTPHandler(handler, "gateway")

	lis, err := net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("listen on %s: %w", opts.HTTPAddr, err)
	}
	g.lis = lis
	g.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	return g, nil
}

func dial(addr string, m *telemetry.Metrics, t *telemetry.Tracing) (*grpc.ClientConn, error) {
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), t.DialOption()}, telemetry.DialOptions(m)...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", addr, err)
	}
	return conn, nil
}

// Addr returns the address the gateway listens on.
func (g *Gateway) Addr() string { return g.lis.Addr().String() }

// Serve serves until ctx is done, then shuts down gracefully.
func (g *Gateway) Serve(ctx context.Context) error {
	defer g.Close()
	if g.opts.MetricsAddr != "" {
		go func() {
			if err := g.metrics.Serve(ctx, g.opts.MetricsAddr, g.opts.Logger); err != nil {
				g.opts.Logger.Error("metrics", "err", err)
			}
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- g.srv.Serve(g.lis) }()
	g.opts.Logger.Info("serving HTTP", "addr", g.Addr())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.opts.ShutdownTimeout)
	defer cancel()
	if err := g.srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Run starts a gateway and serves until ctx is done.
func Run(ctx context.Context, opts Options) error {
	g, err := New(ctx, opts)
	if err != nil {
		return err
	}
	return g.Serve(ctx)
}

// Close closes the backend connections and flushes the trace spans.
func (g *Gateway) Close() {
	if g.tracing != nil {
		_ = g.tracing.Shutdown(context.Background())
	}
	for _, c := range g.conns {
		c.Close()
	}
}

// incomingHeader forwards to the services only the HTTP headers that they
// read: the registrant's secret, the request id, and Accept-Language (under
// grpc-gateway's own name for it), besides what grpc-gateway always sends
// (Authorization, X-Forwarded-For and -Host). Not the rest — cookies, user
// agents, Grpc-Metadata-* headers: a header no service reads should not
// reach one, and each costs every call work on both sides (BENCHMARKS.md).
func incomingHeader(key string) (string, bool) {
	// EqualFold, not ToLower: this runs for every header of every request.
	for _, h := range [...]string{"x-registration-secret", "x-request-id"} {
		if strings.EqualFold(key, h) {
			return h, true
		}
	}
	if strings.EqualFold(key, "accept-language") {
		return runtime.MetadataPrefix + "accept-language", true
	}
	return "", false
}

// outgoingHeader lets no gRPC response metadata out as HTTP headers unless
// it is on this list (none yet): internals stay inside.
func outgoingHeader(string) (string, bool) { return "", false }

// withDeadline gives every call a deadline, which grpc-gateway passes on to
// the backend; the streams (the change feed) run as long as their client.
func withDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ":watchChanges") {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// limitBody refuses bodies over max bytes with 413 before any decoding.
func limitBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeStatus(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
				fmt.Sprintf("request body of %d bytes is over the limit of %d", r.ContentLength, max))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// routingError answers unknown paths with 404 and wrong methods with 405,
// both as a JSON google.rpc.Status.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		writeStatus(w, httpStatus, codes.Unimplemented, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
	case http.StatusNotFound:
		writeStatus(w, httpStatus, codes.NotFound, fmt.Sprintf("no such path: %s", r.URL.Path))
	default:
		runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
	}
}

// writeStatus writes a google.rpc.Status as JSON with the given HTTP code.
func writeStatus(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	b, _ := protojson.Marshal(status.New(code, msg).Proto()) // a Status always marshals
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(b)
}

// healthz reports the gRPC health of every backend: 200 when all serve,
// 503 otherwise, with each backend's status in the body.
func (g *Gateway) healthz(backends map[string]*grpc.ClientConn) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		body := struct {
			Status   string            `json:"status"`
			Backends map[string]string `json:"backends"`
		}{Status: "SERVING", Backends: map[string]string{}}
		code := http.StatusOK
		for name, conn := range backends {
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			st := resp.GetStatus().String()
			if err != nil {
				st = "UNREACHABLE: " + status.Code(err).String()
			}
			body.Backends[name] = st
			if st != healthpb.HealthCheckResponse_SERVING.String() {
				body.Status, code = "NOT_SERVING", http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	})
}
