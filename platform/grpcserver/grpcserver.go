// Package grpcserver starts and stops a Convene gRPC service the same way in
// every binary: one interceptor chain (metrics → request id → logging →
// error mapping → deadline cap → authentication and authorisation →
// validation → recovery), the standard health service, optional
// reflection, and a graceful shutdown bounded in time.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"convene.dev/platform/auth"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/telemetry"
	"convene.dev/platform/validate"
)

// Config configures a server.
type Config struct {
	Addr            string        // listen address, host:port
	Reflection      bool          // serve gRPC server reflection
	ShutdownTimeout time.Duration // how long in-flight calls may take to finish on shutdown
	MaxRecvMsgBytes int           // the largest request accepted
	MaxCallDuration time.Duration // the longest a unary call may run, whatever deadline the caller set

	// Guard authenticates and authorises every call. Without one, every
	// caller is the public: only tests leave it out.
	Guard *auth.Guard

	// Metrics, when set, counts and times every call.
	Metrics *telemetry.Metrics

	// Tracing, when set, takes the W3C trace context of every call.
	Tracing *telemetry.Tracing
}

// DefaultConfig returns the configuration for a service listening on addr.
func DefaultConfig(addr string) Config {
	return Config{Addr: addr, ShutdownTimeout: 10 * time.Second, MaxRecvMsgBytes: 2 << 20, MaxCallDuration: 30 * time.Second}
}

// Server is a gRPC server with its listener.
type Server struct {
	cfg    Config
	log    *slog.Logger
	grpc   *grpc.Server
	health *health.Server
	lis    net.Listener
}

// New listens on cfg.Addr and builds the server. Register the services on
// GRPC() before calling Run.
func New(cfg Config, log *slog.Logger, v *validate.Validator) (*Server, error) {
	lis, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return NewOnListener(lis, cfg, log, v), nil
}

// NewOnListener builds the server on a listener the caller made (tests use
// an in-memory bufconn listener); cfg.Addr is not used.
func NewOnListener(lis net.Listener, cfg Config, log *slog.Logger, v *validate.Validator) *Server {
	access := &accessLog{log: log}
	recoverOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", p)
		return fmt.Errorf("panic: %v", p) // no kind: becomes INTERNAL without its text
	})
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor
	if cfg.Metrics != nil {
		unary = append(unary, cfg.Metrics.Server.UnaryServerInterceptor())
		stream = append(stream, cfg.Metrics.Server.StreamServerInterceptor())
	}
	unary = append(unary,
		telemetry.RequestIDUnary,
		access.unary,
		errorsUnary,
		deadlineCap(cfg.MaxCallDuration),
	)
	stream = append(stream,
		telemetry.RequestIDStream,
		access.stream,
		errorsStream,
	)
	if cfg.Guard != nil {
		unary = append(unary, cfg.Guard.UnaryServerInterceptor())
		stream = append(stream, cfg.Guard.StreamServerInterceptor())
	}
	unary = append(unary, v.UnaryServerInterceptor(), recovery.UnaryServerInterceptor(recoverOpt))
	stream = append(stream, v.StreamServerInterceptor(), recovery.StreamServerInterceptor(recoverOpt))
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgBytes),
		grpc.ForceServerCodecV2(newCodec()),
		// Calls run on long-lived workers whose stacks have already grown
		// through the interceptors and the validator, rather than each on a
		// new goroutine (when all are busy, gRPC starts one as before).
		// Writes hold their worker while they wait for the disk, so there
		// are as many as the calls one group commit usually gathers.
		grpc.NumStreamWorkers(streamWorkers),
	}
	if cfg.Tracing != nil {
		opts = append(opts, grpc.StatsHandler(cfg.Tracing.ServerHandler()))
	}
	s := grpc.NewServer(append(opts,
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	)...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	if cfg.Reflection {
		reflection.Register(s)
	}
	return &Server{cfg: cfg, log: log, grpc: s, health: hs, lis: lis}
}

// streamWorkers is how many goroutines serve calls (see NumStreamWorkers).
const streamWorkers = 64

// deadlineCap bounds every unary call: a caller's longer deadline, or none,
// becomes max. Streams (feeds, exports) are bounded by their clients.
func deadlineCap(max time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if max <= 0 {
			return handler(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, max)
		defer cancel()
		return handler(ctx, req)
	}
}

// errorsUnary is the one place where handler errors become gRPC statuses.
func errorsUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	return resp, errdefs.ToGRPC(err)
}

func errorsStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return errdefs.ToGRPC(handler(srv, ss))
}

// GRPC returns the server to register services on.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Run serves until ctx is done, then shuts down: health NOT_SERVING, in-flight
// calls finish (up to ShutdownTimeout), then the remaining ones are cut off.
func (s *Server) Run(ctx context.Context) error {
	for name := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Server.InitializeMetrics(s.grpc) // every method shows, at 0, from the start
	}

	errc := make(chan error, 1)
	go func() { errc <- s.grpc.Serve(s.lis) }()
	s.log.Info("serving gRPC", "addr", s.Addr())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout)
	s.health.Shutdown() // every service NOT_SERVING
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.cfg.ShutdownTimeout):
		s.log.Warn("shutdown timeout: stopping in-flight calls")
		s.grpc.Stop()
		<-done
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
