package grpcserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/peer"
)

// BenchmarkAccessLogLine is the request log's line for one finished call,
// written as JSON (to nowhere).
func BenchmarkAccessLogLine(b *testing.B) {
	a := &accessLog{log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40123}})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		a.write(ctx, "/convene.registrations.v1.RegistrationService/CreateRegistration", "unary", start, nil)
	}
}
