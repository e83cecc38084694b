// Command registrations serves the RegistrationService over gRPC. It asks the
// events service about events over gRPC and never reads its database.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/auth"
	"convene.dev/platform/backup"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/config"
	"convene.dev/platform/grpcserver"
	"convene.dev/platform/logs"
	"convene.dev/platform/telemetry"
	"convene.dev/platform/validate"
	"convene.dev/services/registrations/internal/eventsclient"
	"convene.dev/services/registrations/internal/follower"
	"convene.dev/services/registrations/internal/service"
	"convene.dev/services/registrations/internal/store/boltstore"
)

// Config is the registrations service's configuration.
type Config struct {
	GRPC       grpcserver.Config
	DBPath     string
	EventsAddr string
	LogFormat  string
	// AuthFile holds the token hashes; InsecureDev runs without it.
	AuthFile    string
	InsecureDev bool
	// JWT, when set, also accepts signed JWTs of an identity provider.
	JWT auth.JWTConfig
	// ServiceTokenFile holds this service's own token towards the events service.
	ServiceTokenFile string
	// MetricsAddr serves /metrics; empty turns it off.
	MetricsAddr string
	// Pprof adds /debug/pprof/ to the metrics address.
	Pprof bool
	// OTLPEndpoint receives the trace spans (OTLP over gRPC); empty: none.
	OTLPEndpoint string
}

// DefaultConfig returns the defaults of the operator contract.
func DefaultConfig() Config {
	return Config{
		GRPC:        grpcserver.DefaultConfig("127.0.0.1:9092"),
		DBPath:      "data/registrations.db",
		EventsAddr:  "127.0.0.1:9091",
		MetricsAddr: "127.0.0.1:9192",
	}
}

// version is set at build time by `make build` (-ldflags -X main.version=…).
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "backup" {
		if err := backup.Command("registrations", "127.0.0.1:9092", os.Args[2:], openBackup); err != nil {
			fmt.Fprintln(os.Stderr, "registrations:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "registrations:", err)
		os.Exit(1)
	}
}

// openBackup starts the BackupDatabase stream of a running service.
func openBackup(ctx context.Context, conn *grpc.ClientConn) (func() ([]byte, error), error) {
	stream, err := registrationsv1.NewRegistrationServiceClient(conn).BackupDatabase(ctx, &registrationsv1.BackupDatabaseRequest{})
	if err != nil {
		return nil, err
	}
	return func() ([]byte, error) {
		chunk, err := stream.Recv()
		return chunk.GetData(), err
	}, nil
}

func run(args []string) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("registrations", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.StringVar(&cfg.GRPC.Addr, "grpc-addr", cfg.GRPC.Addr, "gRPC listen address")
	fs.StringVar(&cfg.DBPath, "db", cfg.DBPath, "bbolt database file")
	fs.StringVar(&cfg.EventsAddr, "events-addr", cfg.EventsAddr, "address of the events service")
	fs.BoolVar(&cfg.GRPC.Reflection, "reflection", false, "serve gRPC server reflection")
	fs.DurationVar(&cfg.GRPC.ShutdownTimeout, "shutdown-timeout", cfg.GRPC.ShutdownTimeout, "how long in-flight calls may finish on shutdown")
	fs.StringVar(&cfg.LogFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&cfg.AuthFile, "auth-file", "", "JSON file of bearer token hashes (see README)")
	fs.BoolVar(&cfg.InsecureDev, "insecure-dev", false, "without -auth-file, let every caller in as an organizer (development only)")
	cfg.JWT.Flags(fs)
	fs.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", "", "host:port of an OTLP/gRPC collector for trace spans (off when empty)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "address of the Prometheus /metrics endpoint (empty: none)")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "also serve Go's profiles at /debug/pprof/ on the metrics address")
	fs.StringVar(&cfg.ServiceTokenFile, "service-token-file", "", "file holding this service's token towards the events service")
	if err := config.Parse(fs, args, os.LookupEnv); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	config.SetMemoryLimit(160<<20, os.LookupEnv) // stays well inside 256 MiB under load
	log, err := logs.New(os.Stderr, cfg.LogFormat, "registrations")
	if err != nil {
		return err
	}
	authn, err := auth.Setup(cfg.AuthFile, cfg.InsecureDev, cfg.JWT)
	if err != nil {
		return err
	}
	if cfg.AuthFile == "" {
		log.Warn("running WITHOUT authentication (-insecure-dev): every caller is an organizer")
	}
	cfg.GRPC.Guard = auth.NewGuard(authn, service.AccessTable())
	metrics := telemetry.NewMetrics()
	metrics.Profiling = cfg.Pprof
	cfg.GRPC.Metrics = metrics
	dialOpts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, telemetry.DialOptions(metrics)...)
	if cfg.ServiceTokenFile != "" {
		token, err := os.ReadFile(cfg.ServiceTokenFile)
		if err != nil {
			return fmt.Errorf("service token: %w", err)
		}
		if t := strings.TrimSpace(string(token)); t != "" {
			dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(auth.TokenCredentials(t)))
		}
	} else if !cfg.InsecureDev {
		return fmt.Errorf("no -service-token-file: the events service would not know this service (pass -insecure-dev for development)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tracing, err := telemetry.NewTracing(ctx, "registrations", cfg.OTLPEndpoint)
	if err != nil {
		return err
	}
	defer tracing.Shutdown(context.WithoutCancel(ctx))
	cfg.GRPC.Tracing = tracing

	db, err := boltdb.Open(cfg.DBPath)
	if err != nil {
		return err
	}
	st, err := boltstore.New(db)
	if err != nil {
		db.Close()
		return err
	}
	defer st.Close()
	metrics.Registry.MustRegister(st.Collector(), telemetry.NewGaugeFunc("convene_registrations", "Registrations by state, in all events.", "state",
		func() (map[string]float64, error) { return st.TotalsByState(context.Background()) }))
	if cfg.MetricsAddr != "" {
		go func() {
			if err := metrics.Serve(ctx, cfg.MetricsAddr, log); err != nil {
				log.Error("metrics", "err", err)
			}
		}()
	}

	// The connection is lazy: the service starts even when the events
	// service is not up yet, and reconnects on its own.
	conn, err := grpc.NewClient(cfg.EventsAddr, append(dialOpts, tracing.DialOption())...)
	if err != nil {
		return fmt.Errorf("events service %s: %w", cfg.EventsAddr, err)
	}
	defer conn.Close()

	v, err := validate.New()
	if err != nil {
		return err
	}
	srv, err := grpcserver.New(cfg.GRPC, log, v)
	if err != nil {
		return err
	}
	svc := service.New(st, eventsclient.New(conn), time.Now)
	registrationsv1.RegisterRegistrationServiceServer(srv.GRPC(), svc)

	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		follower.New(eventsv1.NewEventServiceClient(conn), svc, st, log).Run(feedCtx)
	}()
	defer func() { stopFeed(); <-feedDone }() // the follower writes to the store: stop it before the store closes
	return srv.Run(ctx)
}
