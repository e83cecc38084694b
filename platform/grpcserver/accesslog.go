package grpcserver

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"convene.dev/platform/telemetry"
)

// accessLog writes the request log: one line per finished call, with the
// fields (and levels) of go-grpc-middleware's logging interceptor, which it
// replaced — that one gathers its fields in a generic list and cost ~14 µs
// of CPU per call, a tenth of a whole CreateRegistration (BENCHMARKS.md);
// this writes the same line with one slog call. Health checks, which load
// balancers and the gateway make several times a second, are left out.
type accessLog struct {
	log *slog.Logger
	// methods holds, for each method called, log with the fields that name
	// it and its kind bound (slog.Logger.With): the handler formats those
	// once rather than on every line (BenchmarkAccessLogLine 1.65 → 1.2
	// µs). A method's kind never changes, and gRPC runs interceptors only
	// for the methods registered, so it stays small.
	methods sync.Map // fullMethod → *slog.Logger
	// peers holds the text of recent callers' addresses (peerAddress).
	peers [64]atomic.Pointer[peerText]
	// starts and deadlines hold the text of the last second each was
	// written for (secondText).
	starts, deadlines atomic.Pointer[timeText]
}

// timeText is a time's RFC 3339 text, which names whole seconds.
type timeText struct {
	sec  int64
	loc  *time.Location
	text string
}

// secondText returns t in RFC 3339, from last when t falls in the second
// (and zone) it holds, else formatted and kept there: the text changes once
// a second, and formatting it for every line was ~0.4 µs and an allocation
// each (the start and the deadline).
func secondText(last *atomic.Pointer[timeText], t time.Time) string {
	sec, loc := t.Unix(), t.Location()
	if p := last.Load(); p != nil && p.sec == sec && p.loc == loc {
		return p.text
	}
	text := t.Format(time.RFC3339)
	last.Store(&timeText{sec: sec, loc: loc, text: text})
	return text
}

// peerText is a caller's address and its text.
type peerText struct {
	addr *net.TCPAddr
	text string
}

// peerAddress returns addr as text. gRPC gives every call on a connection
// the connection's own *net.TCPAddr, and formatting it was the line's
// dearest part (~1 µs in the running service, as much as the JSON), so the
// text is kept per address value, in a slot chosen by the port; a slot
// holds the last connection that used it. Holding the address keeps it
// from being reused for another while its text is kept.
func (a *accessLog) peerAddress(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp == nil {
		return addr.String()
	}
	slot := &a.peers[uint(tcp.Port)%uint(len(a.peers))]
	if p := slot.Load(); p != nil && p.addr == tcp {
		return p.text
	}
	text := tcp.String()
	slot.Store(&peerText{addr: tcp, text: text})
	return text
}

// healthPrefix begins the full method names of the health service.
const healthPrefix = "/grpc.health.v1.Health/"

func (a *accessLog) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, healthPrefix) {
		return handler(ctx, req)
	}
	start := time.Now()
	resp, err := handler(ctx, req)
	a.write(ctx, info.FullMethod, "unary", start, err)
	return resp, err
}

func (a *accessLog) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if strings.HasPrefix(info.FullMethod, healthPrefix) {
		return handler(srv, ss)
	}
	start := time.Now()
	err := handler(srv, ss)
	kind := "server_stream"
	switch {
	case info.IsClientStream && info.IsServerStream:
		kind = "bidi_stream"
	case info.IsClientStream:
		kind = "client_stream"
	}
	a.write(ss.Context(), info.FullMethod, kind, start, err)
	return err
}

// methodLog returns log with the fields of a method, of the kind given,
// bound.
func (a *accessLog) methodLog(fullMethod, kind string) *slog.Logger {
	if l, ok := a.methods.Load(fullMethod); ok {
		return l.(*slog.Logger)
	}
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	l, _ := a.methods.LoadOrStore(fullMethod, a.log.With(
		slog.String("protocol", "grpc"),
		slog.String("grpc.component", "server"),
		slog.String("grpc.service", service),
		slog.String("grpc.method", method),
		slog.String("grpc.method_type", kind)))
	return l.(*slog.Logger)
}

func (a *accessLog) write(ctx context.Context, fullMethod, kind string, start time.Time, err error) {
	code := status.Code(err)
	level := codeLevel(code)
	if !a.log.Enabled(ctx, level) {
		return
	}
	var buf [9]slog.Attr
	attrs := buf[:0]
	if id := telemetry.RequestID(ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if id := telemetry.TraceID(ctx); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer.address", a.peerAddress(p.Addr)))
	}
	if d, ok := ctx.Deadline(); ok {
		attrs = append(attrs, slog.String("grpc.request.deadline", secondText(&a.deadlines, d)))
	}
	attrs = append(attrs,
		slog.String("grpc.start_time", secondText(&a.starts, start)),
		slog.String("grpc.code", code.String()),
		slog.String("grpc.time_ms", strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', -1, 64)))
	if err != nil {
		attrs = append(attrs, slog.String("grpc.error", err.Error()))
	}
	// The record is made here, without the caller's program counter, which
	// slog's own methods look up (runtime.Callers, an eighth of the line's
	// cost) for handlers that add the source; ours do not.
	r := slog.NewRecord(time.Now(), level, "finished call", 0)
	r.AddAttrs(attrs...)
	_ = a.methodLog(fullMethod, kind).Handler().Handle(ctx, r) // a log line that cannot be written is not the call's failure
}

// codeLevel is the level of a finished call's line: the caller's mistakes
// are INFO, conditions to watch WARN, the server's failures ERROR.
func codeLevel(c codes.Code) slog.Level {
	switch c {
	case codes.OK, codes.NotFound, codes.Canceled, codes.AlreadyExists, codes.InvalidArgument, codes.Unauthenticated:
		return slog.LevelInfo
	case codes.DeadlineExceeded, codes.PermissionDenied, codes.ResourceExhausted, codes.FailedPrecondition, codes.Aborted, codes.OutOfRange:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}
