package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// RequestIDKey is the metadata key (and, as X-Request-Id, the HTTP header)
// that carries a request's id.
const RequestIDKey = "x-request-id"

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// NewRequestID returns a fresh random id.
func NewRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// ValidRequestID reports whether a caller's id may be used as it is: short,
// printable ASCII without spaces (it ends up in logs and headers).
func ValidRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

func withRequestID(ctx context.Context) (context.Context, string) {
	id := ""
	if v := metadata.ValueFromIncomingContext(ctx, RequestIDKey); len(v) > 0 && ValidRequestID(v[0]) {
		id = v[0]
	} else {
		id = NewRequestID()
	}
	return context.WithValue(ctx, requestIDKey{}, id), id
}

// RequestIDUnary takes the caller's request id (or makes one), adds it to
// the request's log line, and sends it back in the response header. It must
// run before the logging interceptor.
func RequestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, id := withRequestID(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDKey, id))
	return handler(ctx, req)
}

// RequestIDStream is RequestIDUnary for streams.
func RequestIDStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, id := withRequestID(ss.Context())
	_ = ss.SetHeader(metadata.Pairs(RequestIDKey, id))
	return handler(srv, &idStream{ServerStream: ss, ctx: ctx})
}

type idStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *idStream) Context() context.Context { return s.ctx }

// outgoing passes the request id of ctx on to the next service.
func outgoing(ctx context.Context) context.Context {
	if id := RequestID(ctx); id != "" {
		return metadata.AppendToOutgoingContext(ctx, RequestIDKey, id)
	}
	return ctx
}

// RequestIDClientUnary passes the request id on to the services called.
func RequestIDClientUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(outgoing(ctx), method, req, reply, cc, opts...)
}

// RequestIDClientStream is RequestIDClientUnary for streams.
func RequestIDClientStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(outgoing(ctx), desc, cc, method, opts...)
}
