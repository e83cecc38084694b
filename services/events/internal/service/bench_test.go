package service_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/auth"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/grpcserver"
	"convene.dev/platform/logs"
	"convene.dev/platform/telemetry"
	"convene.dev/platform/validate"
	"convene.dev/services/events/demo"
	"convene.dev/services/events/internal/service"
	"convene.dev/services/events/internal/store/boltstore"
)

// benchEventCount is how many events the list benchmarks hold, as in
// `make bench`.
const benchEventCount = 10000

var benchKinds = []eventsv1.EventKind{
	eventsv1.EventKind_EVENT_KIND_WORKSHOP, eventsv1.EventKind_EVENT_KIND_WEBINAR, eventsv1.EventKind_EVENT_KIND_TRAINING,
	eventsv1.EventKind_EVENT_KIND_MEETING, eventsv1.EventKind_EVENT_KIND_CONFERENCE, eventsv1.EventKind_EVENT_KIND_CONGRESS,
	eventsv1.EventKind_EVENT_KIND_FORUM, eventsv1.EventKind_EVENT_KIND_ROUND_TABLE, eventsv1.EventKind_EVENT_KIND_SEMINAR,
	eventsv1.EventKind_EVENT_KIND_TECHNICAL_EXCHANGE, eventsv1.EventKind_EVENT_KIND_DIALOGUE, eventsv1.EventKind_EVENT_KIND_OTHER,
}

var (
	benchOnce  sync.Once
	benchSvc   *service.Service
	benchNames []string
	benchErr   error
)

// benchService returns a service over a store holding benchEventCount
// published events, copies of the RCM's real ones with the kinds in turn.
// The database lies in memory (/dev/shm) when it can: its fsyncs are not
// what these benchmarks measure.
func benchService(b *testing.B) (*service.Service, []string) {
	b.Helper()
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("/dev/shm", "convene-events-bench-")
		if err != nil {
			dir, err = os.MkdirTemp("", "convene-events-bench-")
		}
		if err != nil {
			benchErr = err
			return
		}
		db, err := boltdb.Open(filepath.Join(dir, "events.db"))
		if err != nil {
			benchErr = err
			return
		}
		os.RemoveAll(dir) // the open file lives on until the process ends
		st, err := boltstore.New(db, time.Now)
		if err != nil {
			benchErr = err
			return
		}
		templates, err := demo.Events()
		if err != nil {
			benchErr = err
			return
		}
		now := time.Now()
		for i := range benchEventCount {
			t := templates[i%len(templates)]
			ev := proto.CloneOf(t)
			id := fmt.Sprintf("bench-%05d", i)
			ev.Name = "events/" + id
			ev.State = eventsv1.EventState_EVENT_STATE_PUBLISHED
			ev.Kind = benchKinds[i%len(benchKinds)]
			start := now.Add(time.Duration(30+i%700) * 24 * time.Hour)
			ev.StartTime, ev.EndTime = timestamppb.New(start), timestamppb.New(start.Add(8*time.Hour))
			ev.OnlineMeetingUrl = "https://meet.example.org/" + id
			ev.Revision = 2
			if _, _, err := st.Create(context.Background(), id, "", ev); err != nil {
				benchErr = err
				return
			}
			benchNames = append(benchNames, ev.Name)
		}
		v, err := validate.New()
		if err != nil {
			benchErr = err
			return
		}
		benchSvc = service.New(st, v, time.Now, nil)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchSvc, benchNames
}

var benchListRequest = &eventsv1.ListEventsRequest{PageSize: 50, Filter: "kind = WORKSHOP"}

// BenchmarkListEventsHandler is ListEvents as the public calls it (a page of
// 50 of the 10,000 events, filtered on kind), the handler alone plus the
// encoding of its answer: what the service does per call apart from gRPC.
func BenchmarkListEventsHandler(b *testing.B) {
	svc, _ := benchService(b)
	ctx := context.Background() // the public
	b.ReportAllocs()
	for b.Loop() {
		resp, err := svc.ListEvents(ctx, benchListRequest)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := proto.Marshal(resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetEventHandler is GetEvent as the public calls it, plus the
// encoding of its answer.
func BenchmarkGetEventHandler(b *testing.B) {
	svc, names := benchService(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ev, err := svc.GetEvent(ctx, &eventsv1.GetEventRequest{Name: names[i%len(names)]})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := proto.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGRPC calls the service over an in-memory connection through the
// whole server chain of the binary (metrics, request id, logging as JSON,
// errors, deadline, auth, validation, recovery), from 64 callers: the
// health Check (the empty call) next to ListEvents and GetEvent, so that
// their ratios can be read as `make bench` reads them, without the network.
func BenchmarkGRPC(b *testing.B) {
	svc, names := benchService(b)
	conn := benchServe(b, svc)
	events := eventsv1.NewEventServiceClient(conn)
	health := healthpb.NewHealthClient(conn)
	calls := []struct {
		name string
		call func(ctx context.Context, i int) error
	}{
		{"HealthCheck", func(ctx context.Context, _ int) error {
			_, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}},
		{"ListEvents", func(ctx context.Context, _ int) error {
			_, err := events.ListEvents(ctx, benchListRequest)
			return err
		}},
		{"GetEvent", func(ctx context.Context, i int) error {
			_, err := events.GetEvent(ctx, &eventsv1.GetEventRequest{Name: names[i%len(names)]})
			return err
		}},
	}
	for _, c := range calls {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(32) // 64 callers on 2 cores
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					if err := c.call(context.Background(), i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchServe serves svc as the events binary does, on an in-memory listener.
func benchServe(b *testing.B, svc *service.Service) *grpc.ClientConn {
	b.Helper()
	v, err := validate.New()
	if err != nil {
		b.Fatal(err)
	}
	log, err := logs.New(io.Discard, "json", "events")
	if err != nil {
		b.Fatal(err)
	}
	authn, err := auth.New(auth.File{Tokens: []auth.Token{{Name: "secretariat", Role: auth.Organizer, SHA256: auth.HashToken("bench-organizer")}}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := grpcserver.DefaultConfig("bufnet")
	cfg.Guard = auth.NewGuard(authn, service.AccessTable())
	cfg.Metrics = telemetry.NewMetrics()
	lis := bufconn.Listen(1 << 20)
	srv := grpcserver.NewOnListener(lis, cfg, log, v)
	eventsv1.RegisterEventServiceServer(srv.GRPC(), svc.GRPC())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}
