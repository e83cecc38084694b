// Package servicecmd holds what the events and registrations binaries share
// on their command lines and at start-up: the common flags (each also an
// environment variable, see config), the logger, the authentication guard
// and the metrics endpoint.
package servicecmd

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"convene.dev/platform/auth"
	"convene.dev/platform/grpcserver"
	"convene.dev/platform/logs"
	"convene.dev/platform/telemetry"
)

// Common is the configuration every Convene gRPC service has.
type Common struct {
	GRPC      grpcserver.Config
	DBPath    string
	LogFormat string
	// AuthFile holds the token hashes; InsecureDev runs without it.
	AuthFile    string
	InsecureDev bool
	// JWT, when set, also accepts signed JWTs of an identity provider.
	JWT auth.JWTConfig
	// MetricsAddr serves /metrics; empty turns it off.
	MetricsAddr string
	// Pprof adds /debug/pprof/ to the metrics address.
	Pprof bool
	// OTLPEndpoint receives the trace spans (OTLP over gRPC); empty: none.
	OTLPEndpoint string

	// logOut writes the log to stderr (Setup); CloseLog writes what is left.
	logOut *logs.Writer
}

// Defaults returns the common defaults of a service listening on grpcAddr.
func Defaults(grpcAddr, dbPath, metricsAddr string) Common {
	return Common{GRPC: grpcserver.DefaultConfig(grpcAddr), DBPath: dbPath, LogFormat: "json", MetricsAddr: metricsAddr}
}

// Flags adds the common flags to fs.
func (c *Common) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.GRPC.Addr, "grpc-addr", c.GRPC.Addr, "gRPC listen address")
	fs.StringVar(&c.DBPath, "db", c.DBPath, "bbolt database file")
	fs.BoolVar(&c.GRPC.Reflection, "reflection", c.GRPC.Reflection, "serve gRPC server reflection")
	fs.DurationVar(&c.GRPC.ShutdownTimeout, "shutdown-timeout", c.GRPC.ShutdownTimeout, "how long in-flight calls may finish on shutdown")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: json or text")
	fs.StringVar(&c.AuthFile, "auth-file", c.AuthFile, "JSON file of bearer token hashes (see README)")
	fs.BoolVar(&c.InsecureDev, "insecure-dev", c.InsecureDev, "without -auth-file, let every caller in as an organizer (development only)")
	c.JWT.Flags(fs)
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", c.OTLPEndpoint, "host:port of an OTLP/gRPC collector for trace spans (off when empty)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "address of the Prometheus /metrics endpoint (empty: none)")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "also serve Go's profiles at /debug/pprof/ on the metrics address")
}

// Setup makes the service's logger, puts the authentication guard for
// table and the metrics into c.GRPC, and returns the logger and the
// metrics (served by ServeMetrics once the service has registered its own).
// Once it succeeds, call CloseLog before the process exits.
func (c *Common) Setup(service string, table auth.Table) (*slog.Logger, *telemetry.Metrics, error) {
	c.logOut = logs.NewWriter(os.Stderr)
	log, err := logs.New(c.logOut, c.LogFormat, service)
	if err != nil {
		c.CloseLog()
		return nil, nil, err
	}
	authn, err := auth.Setup(c.AuthFile, c.InsecureDev, c.JWT)
	if err != nil {
		c.CloseLog()
		return nil, nil, err
	}
	if c.AuthFile == "" {
		log.Warn("running WITHOUT authentication (-insecure-dev): every caller is an organizer")
	}
	c.GRPC.Guard = auth.NewGuard(authn, table)
	metrics := telemetry.NewMetrics()
	metrics.Profiling = c.Pprof
	c.GRPC.Metrics = metrics
	return log, metrics, nil
}

// CloseLog writes the log lines still pending; later lines go straight to
// stderr.
func (c *Common) CloseLog() {
	if c.logOut != nil {
		c.logOut.Close()
	}
}

// ServeMetrics serves m on the metrics address, if there is one, until ctx
// ends.
func (c *Common) ServeMetrics(ctx context.Context, log *slog.Logger, m *telemetry.Metrics) {
	if c.MetricsAddr == "" {
		return
	}
	go func() {
		if err := m.Serve(ctx, c.MetricsAddr, log); err != nil {
			log.Error("metrics", "err", err)
		}
	}()
}
