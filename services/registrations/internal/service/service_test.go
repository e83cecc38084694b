package service_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/validate"
	"convene.dev/services/registrations/internal/eventsclient"
	"convene.dev/services/registrations/internal/service"
	"convene.dev/services/registrations/internal/store/boltstore"
)

const (
	confirmed  = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	waitlisted = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED
	pending    = registrationsv1.RegistrationState_REGISTRATION_STATE_PENDING_APPROVAL
	cancelled  = registrationsv1.RegistrationState_REGISTRATION_STATE_CANCELLED

	delegate     = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE
	observer     = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_COUNTRY
	expert       = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_INVITED_EXPERT
	civilSociety = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_CIVIL_SOCIETY
	noCategory   = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_UNSPECIFIED

	inPerson = eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
	virtual  = eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL
	hybrid   = eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID

	published = eventsv1.EventState_EVENT_STATE_PUBLISHED
)

// t0 is the fake clock's time when a test starts.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }

const day = 24 * time.Hour

// testEvents are the events the fake events service knows.
func testEvents() []*eventsv1.Event {
	ev := func(id string, mode eventsv1.AttendanceMode, p *eventsv1.RegistrationPolicy) *eventsv1.Event {
		return &eventsv1.Event{
			Name: "events/" + id, Title: "Event " + id, State: published, AttendanceMode: mode,
			StartTime: at(30 * day), EndTime: at(31 * day), RegistrationPolicy: p,
		}
	}
	draft := ev("draft", inPerson, nil)
	draft.State = eventsv1.EventState_EVENT_STATE_DRAFT
	cancelledEv := ev("cancelled", inPerson, nil)
	cancelledEv.State = eventsv1.EventState_EVENT_STATE_CANCELLED
	started := ev("started", inPerson, nil)
	started.StartTime = at(-time.Hour)
	return []*eventsv1.Event{
		ev("open", inPerson, nil),
		ev("other", inPerson, nil),
		draft,
		cancelledEv,
		started,
		ev("closed", inPerson, &eventsv1.RegistrationPolicy{OpensTime: at(-10 * day), ClosesTime: at(-time.Hour)}),
		ev("not-open", inPerson, &eventsv1.RegistrationPolicy{OpensTime: at(time.Hour)}),
		ev("delegates-only", inPerson, &eventsv1.RegistrationPolicy{AllowedCategories: []eventsv1.ParticipantCategory{delegate}}),
		ev("small", inPerson, &eventsv1.RegistrationPolicy{Capacity: 2}),
		ev("small-waitlist", inPerson, &eventsv1.RegistrationPolicy{Capacity: 1, WaitlistEnabled: true}),
		ev("quota", inPerson, &eventsv1.RegistrationPolicy{DelegatesPerCountry: 1}),
		ev("approval", inPerson, &eventsv1.RegistrationPolicy{RequiresApproval: true, Capacity: 1}),
		ev("hybrid", hybrid, nil),
		ev("hybrid-room", hybrid, &eventsv1.RegistrationPolicy{InPersonCapacity: 1}),
		ev("virtual", virtual, nil),
		ev("list", hybrid, &eventsv1.RegistrationPolicy{Capacity: 4, WaitlistEnabled: true}),
	}
}

// fakeEvents is a minimal EventService: a map of events, and GetEvent as the
// real service answers it (NOT_FOUND with reason EVENT_NOT_FOUND for an
// unknown name). The end-to-end suite runs against the real one.
type fakeEvents struct {
	eventsv1.UnimplementedEventServiceServer
	mu     sync.Mutex
	events map[string]*eventsv1.Event
}

func (f *fakeEvents) GetEvent(_ context.Context, req *eventsv1.GetEventRequest) (*eventsv1.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev, ok := f.events[req.GetName()]
	if !ok {
		return nil, errdefs.ToGRPC(errdefs.WithReason(
			fmt.Errorf("event %q: %w", req.GetName(), errdefs.ErrNotFound), "EVENT_NOT_FOUND", "name", req.GetName()))
	}
	return proto.CloneOf(ev), nil
}

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	client    registrationsv1.RegistrationServiceClient
	store     *boltstore.Store
	clock     *clock
	eventsSrv *grpc.Server
}

var newValidator = sync.OnceValues(validate.New)

// errorsUnary maps handler errors to statuses, as grpcserver's (unexported)
// interceptor of the same name does in production. grpcserver.New listens on
// a TCP address itself, so its chain cannot be put over bufconn.
func errorsUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	return resp, errdefs.ToGRPC(err)
}

// serve serves srv over a fresh bufconn listener and returns a client
// connection to it; both are closed when the test ends.
func serve(t *testing.T, srv *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// newEnv starts an events service with testEvents and a RegistrationService
// on a fresh database, with the production interceptors (error mapping
// outermost, then validation).
func newEnv(t *testing.T) *env {
	t.Helper()
	fe := &fakeEvents{events: map[string]*eventsv1.Event{}}
	for _, ev := range testEvents() {
		fe.events[ev.GetName()] = ev
	}
	eventsSrv := grpc.NewServer()
	eventsv1.RegisterEventServiceServer(eventsSrv, fe)
	eventsConn := serve(t, eventsSrv)

	db, err := boltdb.Open(filepath.Join(t.TempDir(), "registrations.db"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.New(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	v, err := newValidator()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(errorsUnary, v.UnaryServerInterceptor()))
	registrationsv1.RegisterRegistrationServiceServer(srv, service.New(st, eventsclient.New(eventsConn), clk.Now))
	return &env{
		client:    registrationsv1.NewRegistrationServiceClient(serve(t, srv)),
		store:     st,
		clock:     clk,
		eventsSrv: eventsSrv,
	}
}

var ctx = context.Background()

// participant returns a valid registration of a Mexican delegate.
func participant(email string) *registrationsv1.Registration {
	return &registrationsv1.Registration{
		Participant: &registrationsv1.Participant{
			GivenName:    "Ana",
			FamilyName:   "Pérez",
			Email:        email,
			CountryCode:  "MX",
			Organization: "Instituto Nacional de Migración",
			Gender:       registrationsv1.Gender_GENDER_FEMALE,
		},
		Category: delegate,
	}
}

func as(r *registrationsv1.Registration, country string, category eventsv1.ParticipantCategory, mode eventsv1.AttendanceMode) *registrationsv1.Registration {
	r.Participant.CountryCode, r.Category, r.AttendanceMode = country, category, mode
	return r
}

func (e *env) create(t *testing.T, parent string, reg *registrationsv1.Registration) *registrationsv1.Registration {
	t.Helper()
	got, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{Parent: parent, Registration: reg})
	if err != nil {
		t.Fatalf("CreateRegistration(%s, %s): %v", parent, reg.GetParticipant().GetEmail(), err)
	}
	return got
}

// stored returns how many registrations the event has in the database.
func (e *env) stored(t *testing.T, parent string) int {
	t.Helper()
	_, total, err := e.store.List(ctx, strings.TrimPrefix(parent, "events/"), "", 1, func(*registrationsv1.Registration) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// assertStatus checks the code of err and the reason of its ErrorInfo.
func assertStatus(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || err == nil {
		t.Fatalf("error = %v, want a status %s %s", err, code, reason)
	}
	if got := st.Code(); got != code {
		t.Errorf("code = %s, want %s (%s)", got, code, st.Message())
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil {
		t.Errorf("no ErrorInfo in %v", st.Proto())
		return
	}
	if got := info.GetReason(); got != reason {
		t.Errorf("reason = %q, want %q (%s)", got, reason, st.Message())
	}
	if got, want := info.GetDomain(), errdefs.Domain; got != want {
		t.Errorf("domain = %q, want %q", got, want)
	}
}

// badRequestFields returns the fields named by the BadRequest detail of err.
func badRequestFields(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func assertInvalid(t *testing.T, err error, field string) {
	t.Helper()
	assertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT")
	if fields := badRequestFields(err); !slices.Contains(fields, field) {
		t.Errorf("BadRequest fields = %v, want %q", fields, field)
	}
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	got := e.create(t, "events/open", participant("ana@example.org"))

	id, ok := strings.CutPrefix(got.GetName(), "events/open/registrations/")
	if !ok || id == "" {
		t.Errorf("name = %q, want events/open/registrations/{id}", got.GetName())
	}
	if got.GetState() != confirmed {
		t.Errorf("state = %v, want %v", got.GetState(), confirmed)
	}
	if got.GetStateReason() != "" {
		t.Errorf("state_reason = %q, want none", got.GetStateReason())
	}
	if !got.GetCreateTime().AsTime().Equal(t0) || !got.GetUpdateTime().AsTime().Equal(t0) {
		t.Errorf("create_time, update_time = %v, %v; want %v", got.GetCreateTime().AsTime(), got.GetUpdateTime().AsTime(), t0)
	}
	if got.GetEtag() == "" {
		t.Error("no etag")
	}
	if got.GetAttendanceMode() != inPerson {
		t.Errorf("attendance_mode = %v, want the event's %v", got.GetAttendanceMode(), inPerson)
	}
	if got.GetParticipant().GetEmail() != "ana@example.org" || got.GetParticipant().GetOrganization() != "Instituto Nacional de Migración" {
		t.Errorf("participant = %v, want what was sent", got.GetParticipant())
	}

	read, err := e.client.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: got.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(read, got) {
		t.Errorf("GetRegistration = %v, want %v", read, got)
	}
}

func TestCreateIgnoresServerOwnedFields(t *testing.T) {
	e := newEnv(t)
	in := participant("ana@example.org")
	in.Name = "events/open/registrations/mine"
	in.State = cancelled
	in.StateReason = "made up"
	in.CheckInTime = at(-day)
	in.CreateTime = at(-10 * day)
	in.UpdateTime = at(-10 * day)
	in.Etag = "made-up"
	got := e.create(t, "events/open", in)

	if got.GetName() == in.GetName() || !strings.HasPrefix(got.GetName(), "events/open/registrations/") {
		t.Errorf("name = %q, want one the server chose", got.GetName())
	}
	if got.GetState() != confirmed || got.GetStateReason() != "" {
		t.Errorf("state = %v (%q), want %v", got.GetState(), got.GetStateReason(), confirmed)
	}
	if got.GetCheckInTime() != nil {
		t.Errorf("check_in_time = %v, want none", got.GetCheckInTime())
	}
	if !got.GetCreateTime().AsTime().Equal(t0) || !got.GetUpdateTime().AsTime().Equal(t0) {
		t.Errorf("create_time, update_time = %v, %v; want %v", got.GetCreateTime().AsTime(), got.GetUpdateTime().AsTime(), t0)
	}
	if got.GetEtag() == in.GetEtag() || got.GetEtag() == "" {
		t.Errorf("etag = %q, want one the server computed", got.GetEtag())
	}
	// The etag is the stored one: a conditional cancel with it succeeds.
	if _, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: got.GetName(), Etag: got.GetEtag()}); err != nil {
		t.Errorf("CancelRegistration with the returned etag: %v", err)
	}
}

func TestCreateInvalidArgument(t *testing.T) {
	for _, tc := range []struct {
		name   string
		parent string
		edit   func(req *registrationsv1.CreateRegistrationRequest)
		field  string
	}{
		{"invalid email", "events/open", func(r *registrationsv1.CreateRegistrationRequest) {
			r.Registration.Participant.Email = "ana-at-example.org"
		},
			"registration.participant.email"},
		{"missing email", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.Participant.Email = "" },
			"registration.participant.email"},
		{"missing given_name", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.Participant.GivenName = "" },
			"registration.participant.given_name"},
		{"missing family_name", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.Participant.FamilyName = "" },
			"registration.participant.family_name"},
		{"missing participant", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.Participant = nil },
			"registration.participant"},
		{"missing registration", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration = nil },
			"registration"},
		{"unknown country XX", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.Participant.CountryCode = "XX" },
			"registration.participant.country_code"},
		{"lower-case country", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.Participant.CountryCode = "mx" },
			"registration.participant.country_code"},
		{"missing country", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.Participant.CountryCode = "" },
			"registration.participant.country_code"},
		{"category unspecified", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.Category = noCategory },
			"registration.category"},
		{"category undefined", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.Category = 99 },
			"registration.category"},
		{"member country delegate from a non-member country", "events/open", func(r *registrationsv1.CreateRegistrationRequest) {
			r.Registration.Participant.CountryCode = "FR"
		}, "registration.participant.country_code"},
		{"bad preferred_language", "events/open", func(r *registrationsv1.CreateRegistrationRequest) {
			r.Registration.Participant.PreferredLanguage = "Spanish"
		}, "registration.participant.preferred_language"},
		{"request_id not a UUID", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.RequestId = "retry-1" },
			"request_id"},
		{"bad parent", "events/Open_Event", func(*registrationsv1.CreateRegistrationRequest) {}, "parent"},
		{"hybrid attendance for a hybrid event", "events/hybrid", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.AttendanceMode = hybrid },
			"registration.attendance_mode"},
		{"virtual attendance for an in-person event", "events/open", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.AttendanceMode = virtual },
			"registration.attendance_mode"},
		{"in-person attendance for a virtual event", "events/virtual", func(r *registrationsv1.CreateRegistrationRequest) { r.Registration.AttendanceMode = inPerson },
			"registration.attendance_mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := &registrationsv1.CreateRegistrationRequest{Parent: tc.parent, Registration: participant("ana@example.org")}
			tc.edit(req)
			_, err := e.client.CreateRegistration(ctx, req)
			assertInvalid(t, err, tc.field)
			if n := e.stored(t, tc.parent); n != 0 {
				t.Errorf("%d registrations written, want 0", n)
			}
			// The address was not taken by the failed call.
			if tc.field != "parent" {
				e.create(t, tc.parent, participant("ana@example.org"))
			}
		})
	}
}

func TestCreateEventPreconditions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		parent   string
		category eventsv1.ParticipantCategory
		code     codes.Code
		reason   string
	}{
		{"unknown event", "events/nope", delegate, codes.NotFound, "EVENT_NOT_FOUND"},
		{"draft event", "events/draft", delegate, codes.FailedPrecondition, "EVENT_NOT_PUBLISHED"},
		{"cancelled event", "events/cancelled", delegate, codes.FailedPrecondition, "EVENT_CANCELLED"},
		{"window closed", "events/closed", delegate, codes.FailedPrecondition, "REGISTRATION_CLOSED"},
		{"event started (window closes at the start)", "events/started", delegate, codes.FailedPrecondition, "REGISTRATION_CLOSED"},
		{"window not open yet", "events/not-open", delegate, codes.FailedPrecondition, "REGISTRATION_NOT_OPEN"},
		{"category not allowed", "events/delegates-only", observer, codes.FailedPrecondition, "CATEGORY_NOT_ALLOWED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			reg := participant("ana@example.org")
			reg.Category = tc.category
			_, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{Parent: tc.parent, Registration: reg})
			assertStatus(t, err, tc.code, tc.reason)
			if n := e.stored(t, tc.parent); n != 0 {
				t.Errorf("%d registrations written, want 0", n)
			}
		})
	}

	t.Run("window opens", func(t *testing.T) {
		e := newEnv(t)
		e.clock.Add(time.Hour)
		if got := e.create(t, "events/not-open", participant("ana@example.org")); got.GetState() != confirmed {
			t.Errorf("state = %v, want %v once the window is open", got.GetState(), confirmed)
		}
	})
	t.Run("allowed category", func(t *testing.T) {
		e := newEnv(t)
		e.create(t, "events/delegates-only", participant("ana@example.org"))
	})
}

func TestCreateCapacity(t *testing.T) {
	t.Run("full without waitlist", func(t *testing.T) {
		e := newEnv(t)
		first := e.create(t, "events/small", participant("p1@example.org"))
		e.create(t, "events/small", participant("p2@example.org"))
		_, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
			Parent: "events/small", Registration: participant("p3@example.org")})
		assertStatus(t, err, codes.FailedPrecondition, "EVENT_FULL")
		if n := e.stored(t, "events/small"); n != 2 {
			t.Errorf("%d registrations stored, want 2", n)
		}
		// A cancellation frees a seat.
		if _, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: first.GetName()}); err != nil {
			t.Fatal(err)
		}
		if got := e.create(t, "events/small", participant("p3@example.org")); got.GetState() != confirmed {
			t.Errorf("state after a cancellation = %v, want %v", got.GetState(), confirmed)
		}
	})

	t.Run("full with waitlist", func(t *testing.T) {
		e := newEnv(t)
		if got := e.create(t, "events/small-waitlist", participant("p1@example.org")); got.GetState() != confirmed {
			t.Errorf("first: state = %v, want %v", got.GetState(), confirmed)
		}
		got := e.create(t, "events/small-waitlist", participant("p2@example.org"))
		if got.GetState() != waitlisted || got.GetStateReason() != "EVENT_FULL" {
			t.Errorf("second: state = %v (%q), want %v (EVENT_FULL)", got.GetState(), got.GetStateReason(), waitlisted)
		}
	})

	t.Run("quota per country", func(t *testing.T) {
		e := newEnv(t)
		e.create(t, "events/quota", participant("mx1@example.org"))
		_, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
			Parent: "events/quota", Registration: participant("mx2@example.org")})
		assertStatus(t, err, codes.FailedPrecondition, "COUNTRY_QUOTA_REACHED")
		// Another country's delegate, and a Mexican who is not a delegate, still fit.
		e.create(t, "events/quota", as(participant("gt1@example.org"), "GT", delegate, 0))
		e.create(t, "events/quota", as(participant("mx3@example.org"), "MX", expert, 0))
		if n := e.stored(t, "events/quota"); n != 3 {
			t.Errorf("%d registrations stored, want 3", n)
		}
	})

	t.Run("in-person seats of a hybrid event", func(t *testing.T) {
		e := newEnv(t)
		e.create(t, "events/hybrid-room", participant("p1@example.org"))
		_, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
			Parent: "events/hybrid-room", Registration: participant("p2@example.org")})
		assertStatus(t, err, codes.FailedPrecondition, "IN_PERSON_FULL")
		if got := e.create(t, "events/hybrid-room", as(participant("p2@example.org"), "MX", delegate, virtual)); got.GetState() != confirmed {
			t.Errorf("virtual attendee: state = %v, want %v", got.GetState(), confirmed)
		}
	})

	t.Run("approval", func(t *testing.T) {
		e := newEnv(t)
		for i := range 3 { // capacity 1: pending registrations take no seat yet
			got := e.create(t, "events/approval", participant(fmt.Sprintf("p%d@example.org", i)))
			if got.GetState() != pending {
				t.Errorf("state = %v, want %v", got.GetState(), pending)
			}
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		e := newEnv(t)
		const callers = 30
		var wg sync.WaitGroup
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() {
				_, errs[i] = e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
					Parent: "events/small", Registration: participant(fmt.Sprintf("p%d@example.org", i))})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				assertStatus(t, err, codes.FailedPrecondition, "EVENT_FULL")
			}
		}
		if ok != 2 || e.stored(t, "events/small") != 2 {
			t.Errorf("%d created, %d stored; want 2 (the capacity)", ok, e.stored(t, "events/small"))
		}
	})
}

func TestCreateAttendanceMode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		parent string
		asked  eventsv1.AttendanceMode
		want   eventsv1.AttendanceMode
	}{
		{"hybrid, unspecified means in person", "events/hybrid", 0, inPerson},
		{"hybrid, in person", "events/hybrid", inPerson, inPerson},
		{"hybrid, virtual", "events/hybrid", virtual, virtual},
		{"virtual event, unspecified", "events/virtual", 0, virtual},
		{"virtual event, virtual", "events/virtual", virtual, virtual},
		{"in-person event, in person", "events/open", inPerson, inPerson},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			reg := participant("ana@example.org")
			reg.AttendanceMode = tc.asked
			if got := e.create(t, tc.parent, reg); got.GetAttendanceMode() != tc.want {
				t.Errorf("attendance_mode = %v, want %v", got.GetAttendanceMode(), tc.want)
			}
		})
	}
	// The rejected choices are in TestCreateInvalidArgument.
}

func TestCreateSameEmailTwice(t *testing.T) {
	e := newEnv(t)
	first := e.create(t, "events/open", participant("ana@example.org"))
	for _, email := range []string{"ana@example.org", "ANA@Example.org"} {
		_, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{Parent: "events/open", Registration: participant(email)})
		assertStatus(t, err, codes.AlreadyExists, "EMAIL_ALREADY_REGISTERED")
	}
	if n := e.stored(t, "events/open"); n != 1 {
		t.Errorf("%d registrations stored, want 1", n)
	}
	// Another event is another registration.
	e.create(t, "events/other", participant("ana@example.org"))
	// Once cancelled, the address may register again.
	if _, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: first.GetName()}); err != nil {
		t.Fatal(err)
	}
	again := e.create(t, "events/open", participant("ana@example.org"))
	if again.GetName() == first.GetName() || again.GetState() != confirmed {
		t.Errorf("registration after cancelling = %s %v, want a new CONFIRMED one", again.GetName(), again.GetState())
	}
}

func TestCreateRequestIDRetry(t *testing.T) {
	e := newEnv(t)
	const rid = "0b6e2f8c-2f6a-4d8e-9a51-6f2d8b1c3e47"
	req := &registrationsv1.CreateRegistrationRequest{Parent: "events/small", Registration: participant("p1@example.org"), RequestId: rid}
	first, err := e.client.CreateRegistration(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.create(t, "events/small", participant("p2@example.org")) // now full
	e.clock.Add(time.Minute)

	again, err := e.client.CreateRegistration(ctx, req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if !proto.Equal(again, first) {
		t.Errorf("retry returned %v, want the first registration %v", again, first)
	}
	if n := e.stored(t, "events/small"); n != 2 {
		t.Errorf("%d registrations stored, want 2", n)
	}
	// Another request id is another request.
	_, err = e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
		Parent: "events/open", Registration: participant("p1@example.org"), RequestId: "0b6e2f8c-2f6a-4d8e-9a51-6f2d8b1c3e48"})
	if err != nil {
		t.Errorf("another request id for another event: %v", err)
	}
}

func TestCreateEventsUnavailable(t *testing.T) {
	e := newEnv(t)
	e.eventsSrv.Stop()
	_, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{Parent: "events/open", Registration: participant("ana@example.org")})
	assertStatus(t, err, codes.Unavailable, "UNAVAILABLE")
	if n := e.stored(t, "events/open"); n != 0 {
		t.Errorf("%d registrations written, want 0", n)
	}
}

func TestGet(t *testing.T) {
	e := newEnv(t)
	reg := e.create(t, "events/open", participant("ana@example.org"))
	for _, tc := range []struct {
		name   string
		reg    string
		code   codes.Code
		reason string
	}{
		{"unknown id", "events/open/registrations/2222222222222222", codes.NotFound, "REGISTRATION_NOT_FOUND"},
		{"unknown event", "events/nope/" + strings.SplitN(reg.GetName(), "/", 3)[2], codes.NotFound, "REGISTRATION_NOT_FOUND"},
		{"another event's id", "events/other/" + strings.SplitN(reg.GetName(), "/", 3)[2], codes.NotFound, "REGISTRATION_NOT_FOUND"},
		{"malformed name", "registrations/x", codes.InvalidArgument, "INVALID_ARGUMENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: tc.reg})
			assertStatus(t, err, tc.code, tc.reason)
			if tc.code == codes.InvalidArgument {
				assertInvalid(t, err, "name")
			}
		})
	}
}

// listEnv makes seven registrations for events/list (hybrid, 4 seats, with a
// waiting list) and cancels the sixth, a waiting one (so that no seat is
// freed and nobody moves up); it returns their names in order.
//
//	0 MX delegate   IN_PERSON CONFIRMED
//	1 GT delegate   VIRTUAL   CONFIRMED
//	2 ES observer   IN_PERSON CONFIRMED
//	3 MX expert     VIRTUAL   CONFIRMED
//	4 CA delegate   IN_PERSON WAITLISTED
//	5 MX civil soc. VIRTUAL   CANCELLED
//	6 HN delegate   IN_PERSON WAITLISTED
func listEnv(t *testing.T) (*env, []string) {
	e := newEnv(t)
	specs := []struct {
		country  string
		category eventsv1.ParticipantCategory
		mode     eventsv1.AttendanceMode
	}{
		{"MX", delegate, inPerson}, {"GT", delegate, virtual}, {"ES", observer, inPerson}, {"MX", expert, virtual},
		{"CA", delegate, inPerson}, {"MX", civilSociety, virtual}, {"HN", delegate, inPerson},
	}
	var names []string
	for i, s := range specs {
		e.clock.Add(time.Minute)
		r := e.create(t, "events/list", as(participant(fmt.Sprintf("p%d@example.org", i)), s.country, s.category, s.mode))
		names = append(names, r.GetName())
	}
	if _, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: names[5]}); err != nil {
		t.Fatal(err)
	}
	e.create(t, "events/open", participant("elsewhere@example.org"))
	return e, names
}

func pick(names []string, idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, names[i])
	}
	return out
}

// listAll follows the pages of a list and returns the names in order.
func listAll(t *testing.T, e *env, filter string, pageSize int32) (names []string, pages int) {
	t.Helper()
	token := ""
	want := int32(-1)
	for {
		resp, err := e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{
			Parent: "events/list", Filter: filter, PageSize: pageSize, PageToken: token})
		if err != nil {
			t.Fatalf("ListRegistrations(%q, page %d): %v", filter, pages+1, err)
		}
		pages++
		if pageSize > 0 && len(resp.GetRegistrations()) > int(pageSize) {
			t.Errorf("page %d has %d registrations, more than page_size %d", pages, len(resp.GetRegistrations()), pageSize)
		}
		if want >= 0 && resp.GetTotalSize() != want {
			t.Errorf("page %d: total_size = %d, was %d", pages, resp.GetTotalSize(), want)
		}
		want = resp.GetTotalSize()
		for _, r := range resp.GetRegistrations() {
			names = append(names, r.GetName())
		}
		token = resp.GetNextPageToken()
		if token == "" {
			break
		}
		if pages > 20 {
			t.Fatal("more than 20 pages")
		}
	}
	if int(want) != len(names) {
		t.Errorf("total_size = %d, but %d registrations listed", want, len(names))
	}
	return names, pages
}

func TestListPaging(t *testing.T) {
	e, names := listEnv(t)
	for _, tc := range []struct {
		pageSize  int32
		wantPages int
	}{
		{0, 1}, {1, 7}, {3, 3}, {6, 2}, {7, 1}, {100, 1}, {1000, 1},
	} {
		t.Run(fmt.Sprintf("page_size %d", tc.pageSize), func(t *testing.T) {
			got, pages := listAll(t, e, "", tc.pageSize)
			if !slices.Equal(got, names) {
				t.Errorf("listed %v, want every registration once, oldest first: %v", got, names)
			}
			if pages != tc.wantPages {
				t.Errorf("%d pages, want %d", pages, tc.wantPages)
			}
		})
	}

	t.Run("token of another filter", func(t *testing.T) {
		resp, err := e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/list", PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{
			Parent: "events/list", PageSize: 2, PageToken: resp.GetNextPageToken(), Filter: "state = CONFIRMED"})
		assertInvalid(t, err, "page_token")
	})
	t.Run("token of another event", func(t *testing.T) {
		resp, err := e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/list", PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{
			Parent: "events/open", PageSize: 2, PageToken: resp.GetNextPageToken()})
		assertInvalid(t, err, "page_token")
	})
	t.Run("malformed token", func(t *testing.T) {
		_, err := e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/list", PageToken: "!!!"})
		assertInvalid(t, err, "page_token")
	})
	t.Run("negative page_size", func(t *testing.T) {
		_, err := e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/list", PageSize: -1})
		assertInvalid(t, err, "page_size")
	})
	t.Run("event without registrations", func(t *testing.T) {
		resp, err := e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/small"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetRegistrations()) != 0 || resp.GetTotalSize() != 0 || resp.GetNextPageToken() != "" {
			t.Errorf("ListRegistrations = %v, want nothing", resp)
		}
	})
}

func TestListFilter(t *testing.T) {
	e, names := listEnv(t)
	for _, tc := range []struct {
		filter string
		want   []int
	}{
		{"", []int{0, 1, 2, 3, 4, 5, 6}},
		{"state = CONFIRMED", []int{0, 1, 2, 3}},
		{"state = confirmed", []int{0, 1, 2, 3}},
		{"state = REGISTRATION_STATE_WAITLISTED", []int{4, 6}},
		{"state = CANCELLED", []int{5}},
		{"state != CANCELLED", []int{0, 1, 2, 3, 4, 6}},
		{"state = PENDING_APPROVAL", nil},
		{"category = MEMBER_COUNTRY_DELEGATE", []int{0, 1, 4, 6}},
		{"category != MEMBER_COUNTRY_DELEGATE", []int{2, 3, 5}},
		{"category = PARTICIPANT_CATEGORY_CIVIL_SOCIETY", []int{5}},
		{"participant.country_code = MX", []int{0, 3, 5}},
		{"participant.country_code = mx", []int{0, 3, 5}},
		{`participant.country_code = "GT"`, []int{1}},
		{"participant.country_code != MX", []int{1, 2, 4, 6}},
		{"attendance_mode = VIRTUAL", []int{1, 3, 5}},
		{"attendance_mode != VIRTUAL", []int{0, 2, 4, 6}},
		{"attendance_mode = IN_PERSON", []int{0, 2, 4, 6}},
		{"state = CONFIRMED AND participant.country_code = MX", []int{0, 3}},
		{"category = MEMBER_COUNTRY_DELEGATE AND state != CANCELLED AND attendance_mode = IN_PERSON", []int{0, 4, 6}},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			want := pick(names, tc.want...)
			for _, size := range []int32{0, 2} {
				got, _ := listAll(t, e, tc.filter, size)
				if !slices.Equal(got, want) {
					t.Errorf("page_size %d: listed %v, want %v", size, got, want)
				}
			}
		})
	}
}

func TestListBadFilter(t *testing.T) {
	e, _ := listEnv(t)
	for _, filter := range []string{
		"state = NOPE",
		"state = UNSPECIFIED",
		"state > CONFIRMED",
		"category = SPEAKER",
		"attendance_mode = HYBRIDISH",
		"colour = red",
		"participant.email = ana@example.org",
		"participant.country_code < MX",
		"state =",
		"state = CONFIRMED OR state = WAITLISTED",
		"state = CONFIRMED AND",
		`participant.country_code = "MX`,
		"Pérez",        // free text
		"migración mx", // free text
	} {
		t.Run(filter, func(t *testing.T) {
			_, err := e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/list", Filter: filter})
			assertInvalid(t, err, "filter")
		})
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t)
	reg := e.create(t, "events/open", participant("ana@example.org"))
	e.clock.Add(time.Hour)

	t.Run("stale etag", func(t *testing.T) {
		_, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: reg.GetName(), Etag: "0123456789abcdef"})
		assertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		got, err := e.client.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: reg.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, reg) {
			t.Errorf("after a refused cancel, the registration is %v, want %v", got, reg)
		}
	})

	var done *registrationsv1.Registration
	t.Run("cancel", func(t *testing.T) {
		var err error
		done, err = e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{
			Name: reg.GetName(), Etag: reg.GetEtag(), Reason: "cannot travel"})
		if err != nil {
			t.Fatal(err)
		}
		if done.GetState() != cancelled || done.GetStateReason() != "cannot travel" {
			t.Errorf("state = %v (%q), want %v (cannot travel)", done.GetState(), done.GetStateReason(), cancelled)
		}
		if want := t0.Add(time.Hour); !done.GetUpdateTime().AsTime().Equal(want) {
			t.Errorf("update_time = %v, want %v", done.GetUpdateTime().AsTime(), want)
		}
		if !done.GetCreateTime().AsTime().Equal(t0) {
			t.Errorf("create_time = %v, want %v unchanged", done.GetCreateTime().AsTime(), t0)
		}
		if done.GetEtag() == "" || done.GetEtag() == reg.GetEtag() {
			t.Errorf("etag = %q, want a new one (was %q)", done.GetEtag(), reg.GetEtag())
		}
		got, err := e.client.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: reg.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, done) {
			t.Errorf("GetRegistration = %v, want %v", got, done)
		}
	})

	t.Run("twice", func(t *testing.T) {
		_, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: reg.GetName()})
		assertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: reg.GetName(), Etag: done.GetEtag()})
		assertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
	})

	t.Run("unknown", func(t *testing.T) {
		_, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: "events/open/registrations/2222222222222222"})
		assertStatus(t, err, codes.NotFound, "REGISTRATION_NOT_FOUND")
	})

	t.Run("malformed name", func(t *testing.T) {
		_, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: "events/open"})
		assertInvalid(t, err, "name")
	})

	t.Run("waitlisted and pending", func(t *testing.T) {
		e.create(t, "events/small-waitlist", participant("p1@example.org"))
		for _, r := range []*registrationsv1.Registration{
			e.create(t, "events/small-waitlist", participant("p2@example.org")),
			e.create(t, "events/approval", participant("p3@example.org")),
		} {
			got, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: r.GetName()})
			if err != nil {
				t.Fatalf("cancel %v registration: %v", r.GetState(), err)
			}
			if got.GetState() != cancelled {
				t.Errorf("state = %v, want %v", got.GetState(), cancelled)
			}
		}
	})

	counts, err := e.store.Counts(ctx, "open")
	if err != nil {
		t.Fatal(err)
	}
	if c, x := counts.State(confirmed).Total, counts.State(cancelled).Total; c != 0 || x != 1 {
		t.Errorf("counts: %d confirmed, %d cancelled; want 0 and 1", c, x)
	}
}
