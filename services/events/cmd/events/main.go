// Command events serves the EventService over gRPC.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // IANA time zones even on machines without zoneinfo

	"google.golang.org/grpc"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/backup"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/config"
	"convene.dev/platform/grpcserver"
	"convene.dev/platform/servicecmd"
	"convene.dev/platform/telemetry"
	"convene.dev/platform/validate"
	"convene.dev/services/events/demo"
	"convene.dev/services/events/internal/service"
	"convene.dev/services/events/internal/store/boltstore"
)

// Config is the events service's configuration.
type Config struct {
	servicecmd.Common
	LoadDemo bool
	// ChangeRetention is how long the change feed keeps a change.
	ChangeRetention time.Duration
	// PublicURL is the web page's address, for the links in calendars.
	PublicURL string
}

// DefaultConfig returns the defaults of the operator contract.
func DefaultConfig() Config {
	return Config{
		Common:          servicecmd.Defaults("127.0.0.1:9091", "data/events.db", "127.0.0.1:9191"),
		ChangeRetention: 7 * 24 * time.Hour,
		PublicURL:       "http://127.0.0.1:8080",
	}
}

// version is set at build time by `make build` (-ldflags -X main.version=…).
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "backup" {
		if err := backup.Command("events", "127.0.0.1:9091", os.Args[2:], openBackup); err != nil {
			fmt.Fprintln(os.Stderr, "events:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}

// openBackup starts the BackupDatabase stream of a running service.
func openBackup(ctx context.Context, conn *grpc.ClientConn) (func() ([]byte, error), error) {
	stream, err := eventsv1.NewEventServiceClient(conn).BackupDatabase(ctx, &eventsv1.BackupDatabaseRequest{})
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
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	cfg.Flags(fs)
	fs.BoolVar(&cfg.LoadDemo, "demo", false, "load the RCM demo events that are not there yet")
	fs.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "address of the web page, for the event links in calendar files")
	fs.DurationVar(&cfg.ChangeRetention, "change-retention", cfg.ChangeRetention, "how long the change feed keeps a change")
	if err := config.Parse(fs, args, os.LookupEnv); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	config.SetMemoryLimit(160<<20, os.LookupEnv) // stays well inside 256 MiB under load
	if cfg.ChangeRetention <= 0 {
		return fmt.Errorf("-change-retention must be positive, got %s", cfg.ChangeRetention)
	}
	log, metrics, err := cfg.Setup("events", service.AccessTable())
	if err != nil {
		return err
	}
	defer cfg.CloseLog()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tracing, err := telemetry.NewTracing(ctx, "events", cfg.OTLPEndpoint)
	if err != nil {
		return err
	}
	defer tracing.Shutdown(context.WithoutCancel(ctx))
	cfg.GRPC.Tracing = tracing

	db, err := boltdb.Open(cfg.DBPath)
	if err != nil {
		return err
	}
	st, err := boltstore.New(db, time.Now)
	if err != nil {
		db.Close()
		return err
	}
	defer st.Close()

	v, err := validate.New()
	if err != nil {
		return err
	}
	svc := service.New(st, v, time.Now, ctx.Done())
	svc.SetPublicURL(cfg.PublicURL)
	if cfg.LoadDemo {
		n, err := demo.Load(ctx, svc, v)
		if err != nil {
			return fmt.Errorf("load demo events: %w", err)
		}
		log.Info("demo events loaded", "added", n)
	}

	metrics.Registry.MustRegister(st.Collector())
	cfg.ServeMetrics(ctx, log, metrics)
	srv, err := grpcserver.New(cfg.GRPC, log, v)
	if err != nil {
		return err
	}
	eventsv1.RegisterEventServiceServer(srv.GRPC(), svc.GRPC())
	go compactLoop(ctx, log, st, cfg.ChangeRetention)
	return srv.Run(ctx)
}

// compactLoop removes changes older than retention from the feed, at start
// and then every tenth of the retention (at least every hour, at most
// ten times a second).
func compactLoop(ctx context.Context, log *slog.Logger, st *boltstore.Store, retention time.Duration) {
	every := min(max(retention/10, 100*time.Millisecond), time.Hour)
	for {
		n, err := st.Compact(ctx, time.Now().Add(-retention))
		switch {
		case err != nil:
			log.Error("compact change feed", "err", err)
		case n > 0:
			log.Info("compacted change feed", "removed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
