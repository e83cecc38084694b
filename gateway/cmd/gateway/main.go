// Command gateway serves Convene's HTTP/JSON API in front of the events and
// registrations services.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"convene.dev/gateway"
	"convene.dev/platform/config"
	"convene.dev/platform/logs"
)

// version is set at build time by `make build` (-ldflags -X main.version=…).
var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	opts := gateway.DefaultOptions()
	var logFormat string
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.StringVar(&opts.HTTPAddr, "http-addr", opts.HTTPAddr, "HTTP listen address")
	fs.StringVar(&opts.EventsAddr, "events-addr", opts.EventsAddr, "address of the events service")
	fs.StringVar(&opts.RegistrationsAddr, "registrations-addr", opts.RegistrationsAddr, "address of the registrations service")
	fs.Int64Var(&opts.MaxBodyBytes, "max-body-bytes", opts.MaxBodyBytes, "largest request body accepted")
	fs.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", opts.ShutdownTimeout, "how long in-flight requests may finish on shutdown")
	fs.Float64Var(&opts.RateLimit, "rate-limit", opts.RateLimit, "public registrations per second per client address (0 turns the limit off)")
	fs.IntVar(&opts.RateBurst, "rate-burst", opts.RateBurst, "public registrations a client address may make at once")
	fs.StringVar(&opts.CORSOrigins, "cors-origins", "", "comma-separated origins allowed to call the API from browsers (none by default)")
	fs.StringVar(&opts.OTLPEndpoint, "otlp-endpoint", "", "host:port of an OTLP/gRPC collector for trace spans (off when empty)")
	fs.StringVar(&opts.MetricsAddr, "metrics-addr", opts.MetricsAddr, "address of the Prometheus /metrics endpoint (empty: none)")
	fs.BoolVar(&opts.Pprof, "pprof", false, "also serve Go's profiles at /debug/pprof/ on the metrics address")
	fs.StringVar(&logFormat, "log-format", "json", "log format: json or text")
	if err := config.Parse(fs, args, os.LookupEnv); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	config.SetMemoryLimit(160<<20, os.LookupEnv) // stays well inside 256 MiB under load
	// A proxy: a small live heap and a lot of short-lived garbage (JSON,
	// headers) per request. Collecting when the heap has grown by 4x, not
	// 1x, took its garbage collection from ~24 % of its CPU to a fraction and
	// its creates up 15 % (BENCHMARKS.md); the memory limit above still
	// bounds the heap.
	config.SetGCPercent(400, os.LookupEnv)
	logOut := logs.NewWriter(os.Stderr)
	defer logOut.Close()
	log, err := logs.New(logOut, logFormat, "gateway")
	if err != nil {
		return err
	}
	opts.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return gateway.Run(ctx, opts)
}
