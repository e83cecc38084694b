package eventsclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/services/registrations/internal/eventsclient"
)

// events is an EventService whose GetEvent answers with get.
type events struct {
	eventsv1.UnimplementedEventServiceServer
	get func(ctx context.Context, name string) (*eventsv1.Event, error)
}

func (e *events) GetEvent(ctx context.Context, req *eventsv1.GetEventRequest) (*eventsv1.Event, error) {
	return e.get(ctx, req.GetName())
}

// start serves get over bufconn and returns a client of it and its server.
func start(t *testing.T, get func(ctx context.Context, name string) (*eventsv1.Event, error)) (*eventsclient.Client, *grpc.Server) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	eventsv1.RegisterEventServiceServer(srv, &events{get: get})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return eventsclient.New(conn), srv
}

func TestGetEvent(t *testing.T) {
	want := &eventsv1.Event{Name: "events/ev1", Title: "Workshop", State: eventsv1.EventState_EVENT_STATE_PUBLISHED}
	var deadline time.Duration
	c, _ := start(t, func(ctx context.Context, name string) (*eventsv1.Event, error) {
		if d, ok := ctx.Deadline(); ok {
			deadline = time.Until(d)
		}
		if name != want.GetName() {
			return nil, status.Errorf(codes.InvalidArgument, "asked for %q", name)
		}
		return want, nil
	})
	got, err := c.GetEvent(context.Background(), "events/ev1")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("GetEvent = %v, want %v", got, want)
	}
	if deadline <= 0 || deadline > eventsclient.Timeout {
		t.Errorf("the call's deadline was %v away, want within %v", deadline, eventsclient.Timeout)
	}
}

func TestGetEventErrors(t *testing.T) {
	notFound := errdefs.ToGRPC(errdefs.WithReason(fmt.Errorf("event: %w", errdefs.ErrNotFound), "EVENT_NOT_FOUND"))
	for _, tc := range []struct {
		name       string
		err        error
		kind       error // nil: no kind, so INTERNAL to this service's clients
		wantReason string
	}{
		{"not found, with reason", notFound, errdefs.ErrNotFound, "EVENT_NOT_FOUND"},
		{"not found, plain status", status.Error(codes.NotFound, "no"), errdefs.ErrNotFound, ""},
		{"unavailable", status.Error(codes.Unavailable, "down"), errdefs.ErrUnavailable, ""},
		{"deadline exceeded", status.Error(codes.DeadlineExceeded, "slow"), errdefs.ErrUnavailable, ""},
		{"permission denied", status.Error(codes.PermissionDenied, "no"), errdefs.ErrPermissionDenied, ""},
		{"internal", status.Error(codes.Internal, "boom"), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := start(t, func(context.Context, string) (*eventsv1.Event, error) { return nil, tc.err })
			_, err := c.GetEvent(context.Background(), "events/ev1")
			if err == nil {
				t.Fatal("no error")
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error = %v, want errors.Is %v", err, tc.kind)
			}
			if got := errdefs.Reason(err); got != tc.wantReason {
				t.Errorf("reason = %q, want %q", got, tc.wantReason)
			}
			if tc.kind == nil {
				if got := status.Code(errdefs.ToGRPC(err)); got != codes.Internal {
					t.Errorf("mapped back to %s, want %s", got, codes.Internal)
				}
			}
		})
	}
}

func TestGetEventServiceDown(t *testing.T) {
	c, srv := start(t, func(context.Context, string) (*eventsv1.Event, error) { return &eventsv1.Event{}, nil })
	srv.Stop()
	began := time.Now()
	_, err := c.GetEvent(context.Background(), "events/ev1")
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("error = %v, want ErrUnavailable", err)
	}
	if got := status.Code(errdefs.ToGRPC(err)); got != codes.Unavailable {
		t.Errorf("mapped back to %s, want %s", got, codes.Unavailable)
	}
	if d := time.Since(began); d > eventsclient.Timeout+time.Second {
		t.Errorf("took %v, want at most about %v", d, eventsclient.Timeout)
	}
}

func TestGetEventCallerDeadline(t *testing.T) {
	// A caller's shorter deadline wins over Timeout.
	c, _ := start(t, func(ctx context.Context, _ string) (*eventsv1.Event, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := c.GetEvent(ctx, "events/ev1")
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("error = %v, want ErrUnavailable", err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("took %v, want about 50ms", d)
	}
}
