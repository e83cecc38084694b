package service_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/auth"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/cputime"
	"convene.dev/platform/grpcserver"
	"convene.dev/platform/logs"
	"convene.dev/platform/telemetry"
	"convene.dev/platform/validate"
	"convene.dev/services/registrations/internal/service"
	"convene.dev/services/registrations/internal/store"
	"convene.dev/services/registrations/internal/store/boltstore"
)

// benchEvents is the events service as CreateRegistration sees it when it
// holds a copy of the event: never asked.
type benchEvents struct{ ev *eventsv1.Event }

func (b benchEvents) GetEvent(context.Context, string) (*eventsv1.Event, error) { return b.ev, nil }

// benchOpenEvent takes every registration the benchmark sends: hybrid,
// open, every category, capacity, room and quotas far above what it
// registers, so the rules run and nothing fills.
func benchOpenEvent() *eventsv1.Event {
	start := time.Now().Add(90 * 24 * time.Hour)
	return &eventsv1.Event{
		Name:               "events/bench",
		State:              eventsv1.EventState_EVENT_STATE_PUBLISHED,
		AttendanceMode:     eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID,
		StartTime:          timestamppb.New(start),
		EndTime:            timestamppb.New(start.Add(48 * time.Hour)),
		RegistrationPolicy: &eventsv1.RegistrationPolicy{Capacity: 1000000, InPersonCapacity: 1000000, DelegatesPerCountry: 10000, WaitlistEnabled: true},
		OnlineMeetingUrl:   "https://meet.example.org/bench",
		Revision:           2,
	}
}

var benchMembers = []string{"BZ", "CA", "CR", "DO", "SV", "GT", "HN", "MX", "NI", "PA", "US"}

// benchParticipant is the i-th participant: distinct e-mail addresses in
// no particular order.
func benchParticipant(i int) *registrationsv1.Registration {
	h := uint32(i) * 0x9e3779b1
	return &registrationsv1.Registration{
		Participant: &registrationsv1.Participant{
			GivenName:         "María José",
			FamilyName:        "Pérez García",
			Email:             fmt.Sprintf("maria.jose.perez.%08x@migracion.example.org", h),
			Phone:             "+502 2411 2411",
			Organization:      "Dirección General de Migración y Extranjería",
			JobTitle:          "Jefa de Departamento de Asuntos Migratorios",
			CountryCode:       benchMembers[i%len(benchMembers)],
			Gender:            registrationsv1.Gender_GENDER_FEMALE,
			PreferredLanguage: "es",
		},
		Category:       eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL,
	}
}

// benchRequestID is a UUID made from a counter.
func benchRequestID(i int64) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", i) }

// BenchmarkCreateRegistrationGRPC is CreateRegistration as the public calls
// it, over an in-memory connection through the whole server chain of the
// binary (metrics, request id, logging as JSON, errors, deadline, auth,
// validation, recovery), durable (the store's file on disk, fsync on), from
// 64 callers; next to it the health Check through the same chain, the
// empty call that `make bench` compares with. cpu-ns/op (client and server,
// both in this process) is what decides their rates on two cores.
func BenchmarkCreateRegistrationGRPC(b *testing.B) {
	conn := benchServeRegistrations(b)
	regs := registrationsv1.NewRegistrationServiceClient(conn)
	health := healthpb.NewHealthClient(conn)
	var seq atomic.Int64
	for _, c := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"HealthCheck", func(ctx context.Context) error {
			_, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}},
		{"CreateRegistration", func(ctx context.Context) error {
			i := seq.Add(1)
			_, err := regs.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
				Parent: "events/bench", Registration: benchParticipant(int(i)), RequestId: benchRequestID(i),
			})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(32) // 64 callers on 2 cores
			b.ReportAllocs()
			cpu := cputime.Start(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.call(context.Background()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			cpu.Report(b)
		})
	}
}

// BenchmarkCreateBesideWaitlist is CreateRegistration in an event whose
// waiting list is long and held back by a quota, not by the capacity: every
// delegate of one country past the first waits (COUNTRY_QUOTA_REACHED)
// while seats stay free for others. Each create may give a waiting
// registration a seat first (policy.Promote) — it must not pay for reading
// the whole waiting list to find that nobody fits.
func BenchmarkCreateBesideWaitlist(b *testing.B) {
	ev := benchOpenEvent()
	ev.RegistrationPolicy.DelegatesPerCountry = 1
	regs := registrationsv1.NewRegistrationServiceClient(benchServe(b, ev))
	var seq atomic.Int64
	create := func(country string) *registrationsv1.Registration {
		i := seq.Add(1)
		reg := benchParticipant(int(i))
		reg.Participant.CountryCode = country
		got, err := regs.CreateRegistration(context.Background(), &registrationsv1.CreateRegistrationRequest{
			Parent: "events/bench", Registration: reg, RequestId: benchRequestID(i),
		})
		if err != nil {
			b.Fatal(err)
		}
		return got
	}
	const waiting = 2000
	create("GT") // the one delegate of Guatemala with a seat
	for range waiting {
		if got := create("GT"); got.GetStateReason() != "COUNTRY_QUOTA_REACHED" {
			b.Fatalf("a second delegate of GT: %v (%s), want WAITLISTED (COUNTRY_QUOTA_REACHED)", got.GetState(), got.GetStateReason())
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		create(benchMembers[i%len(benchMembers)])
	}
	b.ReportMetric(waiting, "waiting")
}

// benchServeRegistrations serves the registrations service as its binary
// does, on an in-memory listener, over a durable store that holds a copy of
// the event (so the events service is never asked).
func benchServeRegistrations(b *testing.B) *grpc.ClientConn {
	b.Helper()
	return benchServe(b, benchOpenEvent())
}

// benchServe serves the registrations service over ev, as
// benchServeRegistrations does.
func benchServe(b *testing.B, ev *eventsv1.Event) *grpc.ClientConn {
	b.Helper()
	db, err := boltdb.Open(filepath.Join(b.TempDir(), "registrations.db"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := boltstore.New(db)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Update(context.Background(), "bench", func(tx store.Tx) error { return tx.SetEvent(ev) }); err != nil {
		b.Fatal(err)
	}
	v, err := validate.New()
	if err != nil {
		b.Fatal(err)
	}
	log, err := logs.New(io.Discard, "json", "registrations")
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
	registrationsv1.RegisterRegistrationServiceServer(srv.GRPC(), service.New(st, benchEvents{ev}, time.Now).GRPC())
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
