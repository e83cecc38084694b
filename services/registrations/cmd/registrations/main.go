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
	"convene.dev/platform/config"
	"convene.dev/platform/grpcserver"
	"convene.dev/platform/servicecmd"
	"convene.dev/platform/telemetry"
	"convene.dev/platform/validate"
	"convene.dev/services/registrations/internal/eventsclient"
	"convene.dev/services/registrations/internal/follower"
	"convene.dev/services/registrations/internal/service"
	"convene.dev/services/registrations/internal/store/boltstore"
)

// Config is the registrations service's configuration.
type Config struct {
	servicecmd.Common
	EventsAddr string
	// ServiceTokenFile holds this service's own token towards the events service.
	ServiceTokenFile string
}

// DefaultConfig returns the defaults of the operator contract.
func DefaultConfig() Config {
	return Config{
		Common:     servicecmd.Defaults("127.0.0.1:9092", "data/registrations.db", "127.0.0.1:9192"),
		EventsAddr: "127.0.0.1:9091",
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
	cfg.Flags(fs)
	fs.StringVar(&cfg.EventsAddr, "events-addr", cfg.EventsAddr, "address of the events service")
	fs.StringVar(&cfg.ServiceTokenFile, "service-token-file", "", "file holding this service's token towards the events service")
	if err := config.Parse(fs, args, os.LookupEnv); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	config.SetMemoryLimit(160<<20, os.LookupEnv) // stays well inside 256 MiB under load
	log, metrics, err := cfg.Setup("registrations", service.AccessTable())
	if err != nil {
		return err
	}
	defer cfg.CloseLog()
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

	st, err := boltstore.Open(cfg.DBPath)
	if err != nil {
		return err
	}
	defer st.Close()
	metrics.Registry.MustRegister(st.Collector(), telemetry.NewGaugeFunc("convene_registrations", "Registrations by state, in all events.", "state",
		func() (map[string]float64, error) { return st.TotalsByState(context.Background()) }))
	cfg.ServeMetrics(ctx, log, metrics)

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
	registrationsv1.RegisterRegistrationServiceServer(srv.GRPC(), svc.GRPC())

	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() {
		defer close(feedDone)
		follower.New(eventsv1.NewEventServiceClient(conn), svc, st, log).Run(feedCtx)
	}()
	defer func() { stopFeed(); <-feedDone }() // the follower writes to the store: stop it before the store closes
	return srv.Run(ctx)
}
