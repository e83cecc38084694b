package grpcserver

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"

	"convene.dev/platform/errdefs"
	"convene.dev/platform/validate"
)

// lockedBuffer is a log destination that calls on many goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "finished call" {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLog: every finished call but health checks gets one line, with
// its method, code, level by code, request id, peer and duration.
func TestAccessLog(t *testing.T) {
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	srv, err := New(DefaultConfig("127.0.0.1:0"), slog.New(slog.NewJSONHandler(&logs, nil)), v)
	if err != nil {
		t.Fatal(err)
	}
	desc := testDesc
	desc.Streams = []grpc.StreamDesc{{StreamName: "Watch", ServerStreams: true, Handler: func(any, grpc.ServerStream) error {
		return errdefs.Newf(errdefs.ErrFailedPrecondition, "NOT_READY", "not ready")
	}}}
	srv.GRPC().RegisterService(&desc, struct{}{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 3 {
		if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	callCtx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "rcm-log-7")
	_ = conn.Invoke(callCtx, "/test.Test/Missing", &emptypb.Empty{}, &emptypb.Empty{})
	_ = conn.Invoke(context.Background(), "/test.Test/Boom", &emptypb.Empty{}, &emptypb.Empty{})
	st, err := conn.NewStream(context.Background(), &desc.Streams[0], "/test.Test/Watch")
	if err != nil {
		t.Fatal(err)
	}
	_ = st.CloseSend()
	_ = st.RecvMsg(&emptypb.Empty{})

	lines := logs.lines(t)
	if len(lines) != 3 {
		t.Fatalf("%d request log lines, want 3 (health checks left out): %v", len(lines), lines)
	}
	want := []map[string]string{
		{"grpc.method": "Missing", "grpc.code": "NotFound", "level": "INFO", "grpc.method_type": "unary", "request_id": "rcm-log-7"},
		{"grpc.method": "Boom", "grpc.code": "Internal", "level": "ERROR", "grpc.method_type": "unary"},
		{"grpc.method": "Watch", "grpc.code": "FailedPrecondition", "level": "WARN", "grpc.method_type": "server_stream"},
	}
	for i, line := range lines {
		for k, v := range want[i] {
			if line[k] != v {
				t.Errorf("line %d: %s = %v, want %q (%v)", i, k, line[k], v, line)
			}
		}
		if line["grpc.service"] != "test.Test" || line["protocol"] != "grpc" {
			t.Errorf("line %d names %v/%v", i, line["protocol"], line["grpc.service"])
		}
		if id, _ := line["request_id"].(string); id == "" {
			t.Errorf("line %d has no request id", i)
		}
		if addr, _ := line["peer.address"].(string); !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("line %d: peer.address = %v", i, line["peer.address"])
		}
		if ms, err := strconv.ParseFloat(line["grpc.time_ms"].(string), 64); err != nil || ms < 0 {
			t.Errorf("line %d: grpc.time_ms = %v", i, line["grpc.time_ms"])
		}
	}
	if errText, _ := lines[1]["grpc.error"].(string); errText == "" || strings.Contains(errText, "secret detail") {
		t.Errorf("the panic's line: grpc.error = %q, want the error sent without the panic's details", errText)
	}
}

// TestPeerAddress: each caller's address reads as its own text, from many
// goroutines at once, when connections share a slot of the kept texts (the
// same port modulo 64, or the same port on other hosts), when the address
// is not TCP, and when it is a nil *net.TCPAddr.
func TestPeerAddress(t *testing.T) {
	a := &accessLog{}
	addrs := []net.Addr{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001},
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001 + 64},
		&net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 40001},
		&net.TCPAddr{IP: net.ParseIP("::1"), Port: 40002},
		&net.UnixAddr{Name: "/run/convene.sock", Net: "unix"},
		(*net.TCPAddr)(nil),
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				addr := addrs[(g+i)%len(addrs)]
				if got, want := a.peerAddress(addr), addr.String(); got != want {
					t.Errorf("peerAddress(%v) = %q, want %q", addr, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	// A new address value with the text of one kept is still formatted: the
	// text is kept for the value, and is the same.
	again := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001}
	if got := a.peerAddress(again); got != "127.0.0.1:40001" {
		t.Errorf("peerAddress(%v) = %q", again, got)
	}
}

// TestSecondText: a time's text is kept for the second and zone it names,
// never given for another, from many goroutines at once.
func TestSecondText(t *testing.T) {
	var last atomic.Pointer[timeText]
	base := time.Date(2026, 11, 27, 10, 59, 58, 0, time.UTC)
	mexico := time.FixedZone("CST", -6*3600)
	times := []time.Time{
		base, base.Add(400 * time.Millisecond), base.Add(time.Second), base.Add(1999 * time.Millisecond),
		base.In(mexico), base.Add(time.Second).In(mexico), base.Add(-time.Second), base.Add(time.Hour),
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 4000 {
				tm := times[(g*3+i)%len(times)]
				if got, want := secondText(&last, tm), tm.Format(time.RFC3339); got != want {
					t.Errorf("secondText(%v) = %q, want %q", tm, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
