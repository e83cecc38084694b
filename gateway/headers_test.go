package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// seenMetadata is a registrations backend that records the metadata of the
// GetRegistration calls it gets.
type seenMetadata struct {
	registrationsv1.UnimplementedRegistrationServiceServer
	md chan metadata.MD
}

func (s *seenMetadata) GetRegistration(ctx context.Context, req *registrationsv1.GetRegistrationRequest) (*registrationsv1.Registration, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.md <- md
	return &registrationsv1.Registration{Name: req.GetName()}, nil
}

// logLines is a log's output, a line at a time (slog writes each record
// with one Write); lines beyond its room are dropped, never waited for.
type logLines chan []byte

func (l logLines) Write(p []byte) (int, error) {
	select {
	case l <- bytes.Clone(p):
	default:
	}
	return len(p), nil
}

// TestForwardedHeaders: of a request's HTTP headers, only those that the
// services read reach them as gRPC metadata; the request's log line says
// what it was and how it ended.
func TestForwardedHeaders(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := &seenMetadata{md: make(chan metadata.MD, 1)}
	srv := grpc.NewServer()
	registrationsv1.RegisterRegistrationServiceServer(srv, backend)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	ctx, cancel := context.WithCancel(context.Background())
	opts := DefaultOptions()
	opts.HTTPAddr, opts.MetricsAddr, opts.RateLimit = "127.0.0.1:0", "", 0
	opts.EventsAddr = "127.0.0.1:1" // not called
	opts.RegistrationsAddr = lis.Addr().String()
	lines := make(logLines, 100)
	opts.Logger = slog.New(slog.NewJSONHandler(lines, nil))
	g, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-served })

	req, _ := http.NewRequest("GET", "http://"+g.Addr()+"/v1/events/e/registrations/r", nil)
	for k, v := range map[string]string{
		"Authorization":         "Bearer t0ken",
		"X-Registration-Secret": "s3cret",
		"X-Request-Id":          "rcm-42-forwarded",
		"Accept-Language":       "es-CR,es;q=0.9",
		"Cookie":                "session=1",
		"User-Agent":            "test/1",
		"Grpc-Metadata-Role":    "admin",
		"X-Custom":              "x",
	} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: HTTP %d", resp.StatusCode)
	}
	var md metadata.MD
	select {
	case md = <-backend.md:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend was not called")
	}
	for k, want := range map[string]string{
		"authorization":               "Bearer t0ken",
		"x-registration-secret":       "s3cret",
		"x-request-id":                "rcm-42-forwarded",
		"grpcgateway-accept-language": "es-CR,es;q=0.9",
	} {
		if got := md.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("metadata %s = %q, want [%q]", k, got, want)
		}
	}
	for _, k := range []string{"cookie", "grpcgateway-cookie", "grpcgateway-user-agent", "grpcgateway-authorization", "role", "x-custom"} {
		if got := md.Get(k); len(got) > 0 {
			t.Errorf("metadata %s = %q reached the service", k, got)
		}
	}

	var line map[string]any
	for line["msg"] != "finished request" {
		select {
		case b := <-lines:
			line = nil
			if err := json.Unmarshal(b, &line); err != nil {
				t.Fatalf("log line %s: %v", b, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no log line for the request")
		}
	}
	for k, want := range map[string]any{
		"level": "INFO", "method": "GET", "path": "/v1/events/e/registrations/r", "code": 200.0, "request_id": "rcm-42-forwarded",
	} {
		if line[k] != want {
			t.Errorf("log line %s = %v, want %v (%v)", k, line[k], want, line)
		}
	}
	if d, ok := line["duration_ms"].(float64); !ok || d <= 0 {
		t.Errorf("log line duration_ms = %v, want a positive number", line["duration_ms"])
	}
	for _, k := range []string{"time", "trace_id", "remote"} {
		if _, ok := line[k].(string); !ok {
			t.Errorf("log line %s = %v, want a string", k, line[k])
		}
	}
}
