package grpcserver

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"convene.dev/platform/errdefs"
	"convene.dev/platform/validate"
)

// A hand-written service with one method that panics and one that returns
// a domain error, to see what the interceptor chain makes of them.
type testServer interface{}

func boom(_ any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
	in := &emptypb.Empty{}
	if err := dec(in); err != nil {
		return nil, err
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/test.Test/Boom"}
	return ic(ctx, in, info, func(context.Context, any) (any, error) { panic("secret detail") })
}

func missing(_ any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
	in := &emptypb.Empty{}
	if err := dec(in); err != nil {
		return nil, err
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/test.Test/Missing"}
	return ic(ctx, in, info, func(context.Context, any) (any, error) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "THING_NOT_FOUND", "no such thing")
	})
}

var testDesc = grpc.ServiceDesc{
	ServiceName: "test.Test",
	HandlerType: (*testServer)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Boom", Handler: boom},
		{MethodName: "Missing", Handler: missing},
	},
}

func TestServerLifecycle(t *testing.T) {
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig("127.0.0.1:0")
	cfg.ShutdownTimeout = 2 * time.Second
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), v)
	if err != nil {
		t.Fatal(err)
	}
	srv.GRPC().RegisterService(&testDesc, struct{}{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	waitFor := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for range 100 {
			r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "test.Test"})
			if err == nil && r.GetStatus() == want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("health never became %v", want)
	}
	waitFor(healthpb.HealthCheckResponse_SERVING)

	err = conn.Invoke(context.Background(), "/test.Test/Boom", &emptypb.Empty{}, &emptypb.Empty{})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("panic became %v %q, want INTERNAL without details", st.Code(), st.Message())
	}
	err = conn.Invoke(context.Background(), "/test.Test/Missing", &emptypb.Empty{}, &emptypb.Empty{})
	if status.Code(err) != codes.NotFound {
		t.Errorf("domain error became %v, want NOT_FOUND", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
