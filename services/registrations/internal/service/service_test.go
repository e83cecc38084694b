package service_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"reflect"
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
	"convene.dev/platform/auth"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/grpcserver"
	"convene.dev/platform/validate"
	"convene.dev/services/registrations/internal/eventsclient"
	"convene.dev/services/registrations/internal/service"
	"convene.dev/services/registrations/internal/store"
	"convene.dev/services/registrations/internal/store/boltstore"
)

const (
	confirmed  = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	waitlisted = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED
	pending    = registrationsv1.RegistrationState_REGISTRATION_STATE_PENDING_APPROVAL
	rejected   = registrationsv1.RegistrationState_REGISTRATION_STATE_REJECTED
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
		ev("approval-waitlist", inPerson, &eventsv1.RegistrationPolicy{RequiresApproval: true, Capacity: 1, WaitlistEnabled: true}),
		ev("approval-quota", inPerson, &eventsv1.RegistrationPolicy{RequiresApproval: true, Capacity: 10, DelegatesPerCountry: 1}),
		ev("promote", inPerson, &eventsv1.RegistrationPolicy{Capacity: 3, DelegatesPerCountry: 1, WaitlistEnabled: true}),
		ev("stats", hybrid, &eventsv1.RegistrationPolicy{Capacity: 6, InPersonCapacity: 3, DelegatesPerCountry: 2, WaitlistEnabled: true}),
		ev("export", hybrid, nil),
	}
}

// fakeEvents is a minimal EventService: a map of events, and GetEvent as the
// real service answers it (NOT_FOUND with reason EVENT_NOT_FOUND for an
// unknown name). The end-to-end suite runs against the real one.
type fakeEvents struct {
	eventsv1.UnimplementedEventServiceServer
	mu     sync.Mutex
	events map[string]*eventsv1.Event
	down   bool // answer UNAVAILABLE, as a client does when the service is unreachable
}

func (f *fakeEvents) GetEvent(_ context.Context, req *eventsv1.GetEventRequest) (*eventsv1.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "events service is down")
	}
	ev, ok := f.events[req.GetName()]
	if !ok {
		return nil, errdefs.ToGRPC(errdefs.WithReason(
			fmt.Errorf("event %q: %w", req.GetName(), errdefs.ErrNotFound), "EVENT_NOT_FOUND", "name", req.GetName()))
	}
	return proto.CloneOf(ev), nil
}

// put adds or replaces an event.
func (f *fakeEvents) put(ev *eventsv1.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events[ev.GetName()] = proto.CloneOf(ev)
}

// setPolicy changes an event's registration policy, as an organiser's
// UpdateEvent would.
func (f *fakeEvents) setPolicy(name string, change func(p *eventsv1.RegistrationPolicy)) {
	f.change(name, func(ev *eventsv1.Event) {
		if ev.RegistrationPolicy == nil {
			ev.RegistrationPolicy = &eventsv1.RegistrationPolicy{}
		}
		change(ev.RegistrationPolicy)
	})
}

// change changes an event, as an organiser's UpdateEvent would.
func (f *fakeEvents) change(name string, change func(ev *eventsv1.Event)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := f.events[name]
	change(ev)
	// As the events service does on every change (the registrations
	// service tells its saved copy is current by these).
	ev.Revision++
	ev.Etag = fmt.Sprintf("W/\"fake-%d\"", ev.Revision)
}

func (f *fakeEvents) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
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
	events    *fakeEvents
	eventsSrv *grpc.Server
}

var newValidator = sync.OnceValues(validate.New)

// tb is what the helpers need of a test; *testing.T and rapid's *rapid.T
// both have it.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Fatal(args ...any)
}

// newEnv starts a fake events service with testEvents and the
// RegistrationService on a fresh database, both over bufconn; the
// registrations service runs in grpcserver's real interceptor chain, as in
// production (without an auth Guard: every call is served as the
// organiser's).
func newEnv(t testing.TB) *env {
	t.Helper()
	fe := &fakeEvents{events: map[string]*eventsv1.Event{}}
	for _, ev := range testEvents() {
		fe.put(ev)
	}
	eventsLis := bufconn.Listen(1 << 20)
	eventsSrv := grpc.NewServer()
	eventsv1.RegisterEventServiceServer(eventsSrv, fe)
	go eventsSrv.Serve(eventsLis)
	t.Cleanup(eventsSrv.Stop)
	eventsConn := dial(t, eventsLis)

	db, err := boltdb.Open(filepath.Join(t.TempDir(), "registrations.db"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.New(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the server has stopped: cleanups run last-in first-out

	v, err := newValidator()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0}
	lis := bufconn.Listen(1 << 20)
	cfg := grpcserver.DefaultConfig("bufnet")
	cfg.Guard = auth.NewGuard(auth.Insecure(), service.AccessTable()) // callers are organizers; access_test.go checks the roles
	cfg.ShutdownTimeout = time.Second
	srv := grpcserver.NewOnListener(lis, cfg, slog.New(slog.DiscardHandler), v)
	registrationsv1.RegisterRegistrationServiceServer(srv.GRPC(), service.New(st, eventsclient.New(eventsConn), clk.Now).GRPC())
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("registrations server: %v", err)
		}
	})
	return &env{
		client:    registrationsv1.NewRegistrationServiceClient(dial(t, lis)),
		store:     st,
		clock:     clk,
		events:    fe,
		eventsSrv: eventsSrv,
	}
}

// setPolicy changes an event's registration policy in the events service
// and in the copy of the event that the registrations service keeps, as the
// events feed would. (The feed is not running here, so nobody is promoted
// yet: that waits for the next change of a registration.)
func (e *env) setPolicy(t tb, name string, change func(p *eventsv1.RegistrationPolicy)) {
	t.Helper()
	e.setEvent(t, name, func(ev *eventsv1.Event) {
		if ev.RegistrationPolicy == nil {
			ev.RegistrationPolicy = &eventsv1.RegistrationPolicy{}
		}
		change(ev.RegistrationPolicy)
	})
}

// setEvent changes an event in the events service and in the copy that
// the registrations service keeps, as the events feed would bring it.
func (e *env) setEvent(t tb, name string, change func(ev *eventsv1.Event)) {
	t.Helper()
	e.events.change(name, change)
	err := e.store.Update(ctx, strings.TrimPrefix(name, "events/"), func(tx store.Tx) error {
		ev := tx.Event()
		if ev == nil {
			return nil // no copy yet: the service asks the events service
		}
		change(ev)
		e.events.mu.Lock()
		ev.Revision, ev.Etag = e.events.events[name].GetRevision(), e.events.events[name].GetEtag()
		e.events.mu.Unlock()
		return tx.SetEvent(ev)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dial returns a client connection to lis, closed when the test ends.
func dial(t testing.TB, lis *bufconn.Listener) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
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
	return withoutSecret(t, got)
}

// withoutSecret checks that a create response carries the registrant's
// secret, and returns it without, as every later read has it.
func withoutSecret(t *testing.T, reg *registrationsv1.Registration) *registrationsv1.Registration {
	t.Helper()
	if len(reg.GetManageSecret()) < 40 {
		t.Errorf("manage_secret = %q, want a long random secret", reg.GetManageSecret())
	}
	reg.ManageSecret = ""
	return reg
}

// stored returns how many registrations the event has in the database.
func (e *env) stored(t *testing.T, parent string) int {
	t.Helper()
	_, total, err := e.store.List(ctx, strings.TrimPrefix(parent, "events/"), "", 0, false, func(*registrationsv1.Registration) bool { return true })
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

// TestCreateRerunInBatch: creates that share a group commit with a failing
// one (the same address twice) run again without it; each answer must be
// the registration as stored — its own name, and the etag of that name —
// however often its function ran.
func TestCreateRerunInBatch(t *testing.T) {
	e := newEnv(t)
	const callers = 40
	var wg sync.WaitGroup
	got := make([]*registrationsv1.Registration, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			got[i], errs[i] = e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
				Parent: "events/open", Registration: participant(fmt.Sprintf("p%d@example.org", i/2))})
		})
	}
	wg.Wait()
	names := map[string]bool{}
	for i, err := range errs {
		if err != nil {
			assertStatus(t, err, codes.AlreadyExists, "EMAIL_ALREADY_REGISTERED")
			continue
		}
		// The answer is the registration as stored, whichever run of the
		// batch stored it (the server sends the record that run encoded).
		stored := e.get(t, got[i].GetName())
		if names[got[i].GetName()] || !proto.Equal(withoutSecret(t, got[i]), stored) {
			t.Errorf("caller %d got %v; stored: %v", i, got[i], stored)
		}
		names[got[i].GetName()] = true
	}
	if len(names) != callers/2 || e.stored(t, "events/open") != callers/2 {
		t.Errorf("%d created, %d stored; want %d (one per address)", len(names), e.stored(t, "events/open"), callers/2)
	}
}

// TestCreateAnswer: a create's answer is the registration as any later read
// gives it, with the manage secret besides — the meeting URL for a
// confirmed participant, none for a waitlisted one — and a retry with the
// same request id answers the same without the secret.
func TestCreateAnswer(t *testing.T) {
	e := newEnv(t)
	const url = "https://meet.example.org/rcm-virtual"
	e.setEvent(t, "events/virtual", func(ev *eventsv1.Event) {
		ev.OnlineMeetingUrl = url
		ev.RegistrationPolicy = &eventsv1.RegistrationPolicy{Capacity: 1, WaitlistEnabled: true}
	})
	for i, want := range []registrationsv1.RegistrationState{confirmed, waitlisted} {
		req := &registrationsv1.CreateRegistrationRequest{Parent: "events/virtual", Registration: participant(fmt.Sprintf("v%d@example.org", i)),
			RequestId: fmt.Sprintf("0b6e2f8c-2f6a-4d8e-9a51-6f2d8b1c3e6%d", i)}
		got, err := e.client.CreateRegistration(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		got = withoutSecret(t, got)
		if got.GetState() != want || (got.GetOnlineMeetingUrl() == url) != (want == confirmed) {
			t.Errorf("registration %d: %v with meeting URL %q; want %v, with the URL only when confirmed", i, got.GetState(), got.GetOnlineMeetingUrl(), want)
		}
		if stored := e.get(t, got.GetName()); !proto.Equal(got, stored) {
			t.Errorf("registration %d: the create answered %v; a read gives %v", i, got, stored)
		}
		again, err := e.client.CreateRegistration(ctx, req)
		if err != nil || !proto.Equal(again, got) {
			t.Errorf("registration %d, the same request again: %v, %v; want %v", i, again, err, got)
		}
	}
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
	first = withoutSecret(t, first)
	if again.GetManageSecret() != "" {
		t.Error("a retry returned the secret again")
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

// listAll follows the pages of a list of events/list and returns the names
// in order.
func listAll(t *testing.T, e *env, filter string, pageSize int32) (names []string, pages int) {
	t.Helper()
	regs, pages := e.list(t, &registrationsv1.ListRegistrationsRequest{Parent: "events/list", Filter: filter, PageSize: pageSize})
	return namesOf(regs), pages
}

func namesOf(regs []*registrationsv1.Registration) []string {
	var out []string
	for _, r := range regs {
		out = append(out, r.GetName())
	}
	return out
}

// list follows the pages of a list, checking each, and returns the
// registrations in order.
func (e *env) list(t tb, req *registrationsv1.ListRegistrationsRequest) (regs []*registrationsv1.Registration, pages int) {
	t.Helper()
	req = proto.CloneOf(req)
	want := int32(-1)
	for {
		resp, err := e.client.ListRegistrations(ctx, req)
		if err != nil {
			t.Fatalf("ListRegistrations(%v, page %d): %v", req, pages+1, err)
		}
		pages++
		if req.GetPageSize() > 0 && len(resp.GetRegistrations()) > int(req.GetPageSize()) {
			t.Errorf("page %d has %d registrations, more than page_size %d", pages, len(resp.GetRegistrations()), req.GetPageSize())
		}
		if want >= 0 && resp.GetTotalSize() != want {
			t.Errorf("page %d: total_size = %d, was %d", pages, resp.GetTotalSize(), want)
		}
		want = resp.GetTotalSize()
		regs = append(regs, resp.GetRegistrations()...)
		req.PageToken = resp.GetNextPageToken()
		if req.PageToken == "" {
			break
		}
		if pages > 50 {
			t.Fatal("more than 50 pages")
		}
	}
	if int(want) != len(regs) {
		t.Errorf("total_size = %d, but %d registrations listed", want, len(regs))
	}
	return regs, pages
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

func (e *env) get(t *testing.T, name string) *registrationsv1.Registration {
	t.Helper()
	r, err := e.client.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: name})
	if err != nil {
		t.Fatalf("GetRegistration(%s): %v", name, err)
	}
	return r
}

// letters spells states one letter each, so that a whole event reads at a
// glance: P pending, C confirmed, W waitlisted, R rejected, X cancelled.
var letters = map[registrationsv1.RegistrationState]byte{
	pending: 'P', confirmed: 'C', waitlisted: 'W', rejected: 'R', cancelled: 'X',
}

// states returns the states of the registrations, in the order given.
func (e *env) states(t *testing.T, names []string) string {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		b.WriteByte(letters[e.get(t, n).GetState()])
	}
	return b.String()
}

func (e *env) assertStates(t *testing.T, step string, names []string, want string) {
	t.Helper()
	if got := e.states(t, names); got != want {
		t.Errorf("%s: states = %s, want %s (P pending, C confirmed, W waitlisted, R rejected, X cancelled)", step, got, want)
	}
}

func (e *env) cancel(t *testing.T, name string) *registrationsv1.Registration {
	t.Helper()
	r, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: name})
	if err != nil {
		t.Fatalf("CancelRegistration(%s): %v", name, err)
	}
	return r
}

func (e *env) approve(t *testing.T, name string) *registrationsv1.Registration {
	t.Helper()
	r, err := e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: name})
	if err != nil {
		t.Fatalf("ApproveRegistration(%s): %v", name, err)
	}
	return r
}

func (e *env) reject(t *testing.T, name, reason string) *registrationsv1.Registration {
	t.Helper()
	r, err := e.client.RejectRegistration(ctx, &registrationsv1.RejectRegistrationRequest{Name: name, Reason: reason})
	if err != nil {
		t.Fatalf("RejectRegistration(%s): %v", name, err)
	}
	return r
}

// person returns a valid registration.
func person(email, country string, category eventsv1.ParticipantCategory, mode eventsv1.AttendanceMode, gender registrationsv1.Gender) *registrationsv1.Registration {
	r := as(participant(email), country, category, mode)
	r.Participant.Gender = gender
	return r
}

func TestListOrder(t *testing.T) {
	e, names := listEnv(t)
	newestFirst := slices.Clone(names)
	slices.Reverse(newestFirst)
	for _, tc := range []struct {
		orderBy string
		want    []string
	}{
		{"", names},
		{"create_time", names},
		{"create_time asc", names},
		{"create_time desc", newestFirst},
		{"  Create_Time   DESC ", newestFirst},
	} {
		for _, size := range []int32{0, 1, 3} {
			t.Run(fmt.Sprintf("%q page_size %d", tc.orderBy, size), func(t *testing.T) {
				regs, _ := e.list(t, &registrationsv1.ListRegistrationsRequest{Parent: "events/list", OrderBy: tc.orderBy, PageSize: size})
				if got := namesOf(regs); !slices.Equal(got, tc.want) {
					t.Errorf("listed %v, want %v", got, tc.want)
				}
			})
		}
	}
	t.Run("desc with a filter", func(t *testing.T) {
		regs, _ := e.list(t, &registrationsv1.ListRegistrationsRequest{
			Parent: "events/list", OrderBy: "create_time desc", Filter: "state = CONFIRMED", PageSize: 3})
		if got, want := namesOf(regs), pick(names, 3, 2, 1, 0); !slices.Equal(got, want) {
			t.Errorf("listed %v, want %v", got, want)
		}
	})
	t.Run("a token of the other order", func(t *testing.T) {
		resp, err := e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/list", PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{
			Parent: "events/list", PageSize: 2, OrderBy: "create_time desc", PageToken: resp.GetNextPageToken()})
		assertInvalid(t, err, "page_token")
	})
	for _, orderBy := range []string{"name", "update_time desc", "create_time sideways", "create_time desc, name", "desc", "-create_time"} {
		t.Run("bad "+orderBy, func(t *testing.T) {
			_, err := e.client.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/list", OrderBy: orderBy})
			assertInvalid(t, err, "order_by")
		})
	}
}

func TestApprove(t *testing.T) {
	t.Run("confirmed, then waitlisted when full", func(t *testing.T) {
		e := newEnv(t) // events/approval-waitlist: 1 seat, a waiting list
		p1 := e.create(t, "events/approval-waitlist", participant("p1@example.org"))
		p2 := e.create(t, "events/approval-waitlist", participant("p2@example.org"))
		e.clock.Add(time.Hour)

		got := e.approve(t, p1.GetName())
		if got.GetState() != confirmed || got.GetStateReason() != "" {
			t.Errorf("first approval: state = %v (%q), want %v", got.GetState(), got.GetStateReason(), confirmed)
		}
		if want := t0.Add(time.Hour); !got.GetUpdateTime().AsTime().Equal(want) {
			t.Errorf("update_time = %v, want %v", got.GetUpdateTime().AsTime(), want)
		}
		if got.GetEtag() == p1.GetEtag() || got.GetEtag() == "" {
			t.Errorf("etag = %q, want a new one (was %q)", got.GetEtag(), p1.GetEtag())
		}
		if read := e.get(t, p1.GetName()); !proto.Equal(read, got) {
			t.Errorf("GetRegistration = %v, want %v", read, got)
		}

		got = e.approve(t, p2.GetName())
		if got.GetState() != waitlisted || got.GetStateReason() != "EVENT_FULL" {
			t.Errorf("second approval: state = %v (%q), want %v (EVENT_FULL)", got.GetState(), got.GetStateReason(), waitlisted)
		}

		for _, name := range []string{p1.GetName(), p2.GetName()} {
			_, err := e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: name})
			assertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		}
		e.cancel(t, p1.GetName()) // p2 moves up
		if got := e.get(t, p2.GetName()); got.GetState() != confirmed || got.GetStateReason() != "PROMOTED_FROM_WAITLIST" {
			t.Errorf("after the cancellation: state = %v (%q), want %v (PROMOTED_FROM_WAITLIST)", got.GetState(), got.GetStateReason(), confirmed)
		}
		_, err := e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: p1.GetName()})
		assertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION") // a cancelled one
	})

	t.Run("full without a waiting list", func(t *testing.T) {
		e := newEnv(t) // events/approval: 1 seat, no waiting list
		p1 := e.create(t, "events/approval", participant("p1@example.org"))
		p2 := e.create(t, "events/approval", participant("p2@example.org"))
		e.approve(t, p1.GetName())
		_, err := e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: p2.GetName()})
		assertStatus(t, err, codes.FailedPrecondition, "EVENT_FULL")
		if got := e.get(t, p2.GetName()); !proto.Equal(got, p2) {
			t.Errorf("after a refused approval: %v, want it unchanged %v", got, p2)
		}
		// Once a seat is free, the approval goes through.
		e.cancel(t, p1.GetName())
		if got := e.approve(t, p2.GetName()); got.GetState() != confirmed {
			t.Errorf("approval after a cancellation: state = %v, want %v", got.GetState(), confirmed)
		}
	})

	t.Run("quota without a waiting list", func(t *testing.T) {
		e := newEnv(t) // events/approval-quota: one delegate per country
		mx1 := e.create(t, "events/approval-quota", participant("mx1@example.org"))
		mx2 := e.create(t, "events/approval-quota", participant("mx2@example.org"))
		gt1 := e.create(t, "events/approval-quota", as(participant("gt1@example.org"), "GT", delegate, 0))
		e.approve(t, mx1.GetName())
		_, err := e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: mx2.GetName()})
		assertStatus(t, err, codes.FailedPrecondition, "COUNTRY_QUOTA_REACHED")
		if got := e.approve(t, gt1.GetName()); got.GetState() != confirmed {
			t.Errorf("GT delegate: state = %v, want %v", got.GetState(), confirmed)
		}
	})

	t.Run("those waiting keep their place", func(t *testing.T) {
		// A seat freed by a raised capacity goes to the one already waiting,
		// not to the one being approved.
		e := newEnv(t)
		names := []string{}
		for i := range 3 {
			names = append(names, e.create(t, "events/approval-waitlist", participant(fmt.Sprintf("p%d@example.org", i))).GetName())
		}
		e.approve(t, names[0])
		e.approve(t, names[1])
		e.assertStates(t, "before", names, "CWP")
		e.setPolicy(t, "events/approval-waitlist", func(p *eventsv1.RegistrationPolicy) { p.Capacity = 2 })
		got := e.approve(t, names[2])
		if got.GetState() != waitlisted {
			t.Errorf("approved one: state = %v, want %v: the seat goes to the one waiting", got.GetState(), waitlisted)
		}
		e.assertStates(t, "after", names, "CCW")
	})

	t.Run("etag and names", func(t *testing.T) {
		e := newEnv(t)
		p := e.create(t, "events/approval", participant("p1@example.org"))
		_, err := e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: p.GetName(), Etag: "0123456789abcdef"})
		assertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		if got := e.get(t, p.GetName()); got.GetState() != pending {
			t.Errorf("after a stale etag: state = %v, want %v", got.GetState(), pending)
		}
		if _, err := e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: p.GetName(), Etag: p.GetEtag()}); err != nil {
			t.Errorf("approval with the current etag: %v", err)
		}
		_, err = e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: "events/approval/registrations/2222222222222222"})
		assertStatus(t, err, codes.NotFound, "REGISTRATION_NOT_FOUND")
		_, err = e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: "events/approval"})
		assertInvalid(t, err, "name")
	})
}

func TestReject(t *testing.T) {
	e := newEnv(t) // events/approval-waitlist: 1 seat, a waiting list
	var names []string
	for i := range 5 {
		names = append(names, e.create(t, "events/approval-waitlist", participant(fmt.Sprintf("p%d@example.org", i))).GetName())
	}
	e.approve(t, names[0])
	e.approve(t, names[1])
	e.approve(t, names[2])
	e.assertStates(t, "start", names, "CWWPP")
	e.clock.Add(time.Hour)

	got := e.reject(t, names[3], "not a delegate of the country")
	if got.GetState() != rejected || got.GetStateReason() != "not a delegate of the country" {
		t.Errorf("rejected pending: state = %v (%q), want %v with the reason", got.GetState(), got.GetStateReason(), rejected)
	}
	if want := t0.Add(time.Hour); !got.GetUpdateTime().AsTime().Equal(want) {
		t.Errorf("update_time = %v, want %v", got.GetUpdateTime().AsTime(), want)
	}
	e.assertStates(t, "pending rejected", names, "CWWRP")

	e.reject(t, names[2], "") // a waiting one: frees no seat
	e.assertStates(t, "waitlisted rejected", names, "CWRRP")

	e.reject(t, names[0], "duplicate") // a confirmed one: the oldest waiting moves up
	e.assertStates(t, "confirmed rejected", names, "RCRRP")
	if got := e.get(t, names[1]); got.GetStateReason() != "PROMOTED_FROM_WAITLIST" || !got.GetUpdateTime().AsTime().Equal(t0.Add(time.Hour)) {
		t.Errorf("promoted: state_reason %q, update_time %v; want PROMOTED_FROM_WAITLIST at %v", got.GetStateReason(), got.GetUpdateTime().AsTime(), t0.Add(time.Hour))
	}

	for _, name := range []string{names[0], names[3]} {
		_, err := e.client.RejectRegistration(ctx, &registrationsv1.RejectRegistrationRequest{Name: name})
		assertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
	}
	e.cancel(t, names[4])
	_, err := e.client.RejectRegistration(ctx, &registrationsv1.RejectRegistrationRequest{Name: names[4]})
	assertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
	_, err = e.client.RejectRegistration(ctx, &registrationsv1.RejectRegistrationRequest{Name: names[1], Etag: "0123456789abcdef"})
	assertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
	_, err = e.client.RejectRegistration(ctx, &registrationsv1.RejectRegistrationRequest{Name: "events/approval-waitlist/registrations/2222222222222222"})
	assertStatus(t, err, codes.NotFound, "REGISTRATION_NOT_FOUND")
	e.assertStates(t, "end", names, "RCRRX")
}

// TestCancelPromotesOldestThatFits walks events/promote (3 seats, one
// delegate per Member Country, a waiting list) through cancellations and a
// rejection, each of which frees a seat for the oldest waiting one that fits.
func TestCancelPromotesOldestThatFits(t *testing.T) {
	e := newEnv(t)
	specs := []struct {
		country  string
		category eventsv1.ParticipantCategory
	}{
		{"MX", delegate}, {"GT", delegate}, {"HN", delegate}, // 0-2: the seats
		{"MX", delegate}, {"GT", delegate}, {"SV", delegate}, {"MX", observer}, {"CR", delegate}, // 3-7: waiting
	}
	var names []string
	for i, s := range specs {
		e.clock.Add(time.Minute)
		r := e.create(t, "events/promote", as(participant(fmt.Sprintf("p%d@example.org", i)), s.country, s.category, 0))
		names = append(names, r.GetName())
	}
	e.assertStates(t, "start", names, "CCCWWWWW")

	// GT's delegate cancels: the older MX delegate still finds MX's quota
	// taken, so the GT delegate behind it moves up.
	e.clock.Add(time.Hour)
	e.cancel(t, names[1])
	e.assertStates(t, "GT cancels", names, "CXCWCWWW")
	if got := e.get(t, names[4]); got.GetStateReason() != "PROMOTED_FROM_WAITLIST" || !got.GetUpdateTime().AsTime().Equal(e.clock.Now()) {
		t.Errorf("promoted GT delegate: state_reason %q, update_time %v; want PROMOTED_FROM_WAITLIST at %v",
			got.GetStateReason(), got.GetUpdateTime().AsTime(), e.clock.Now())
	}
	// MX's first delegate is rejected: now MX's second fits.
	e.reject(t, names[0], "credentials")
	e.assertStates(t, "MX rejected", names, "RXCCCWWW")
	// A waiting one cancels: no seat is freed, nobody moves.
	e.cancel(t, names[6])
	e.assertStates(t, "waiting one cancels", names, "RXCCCWXW")
	// HN cancels: SV, the oldest still waiting, moves up.
	e.cancel(t, names[2])
	e.assertStates(t, "HN cancels", names, "RXXCCCXW")
	// MX cancels: CR moves up.
	e.cancel(t, names[3])
	e.assertStates(t, "MX cancels", names, "RXXXCCXC")

	// The cancellation that promoted returns the cancelled registration.
	got, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: names[4], Reason: "sick"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetName() != names[4] || got.GetState() != cancelled || got.GetStateReason() != "sick" {
		t.Errorf("CancelRegistration = %s %v (%q), want %s CANCELLED (sick)", got.GetName(), got.GetState(), got.GetStateReason(), names[4])
	}
	assertCountsMatch(t, e, "promote")
}

func TestCheckIn(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, "events/small-waitlist", participant("p1@example.org"))
	w := e.create(t, "events/small-waitlist", participant("p2@example.org"))
	p := e.create(t, "events/approval", participant("p3@example.org"))
	o := e.create(t, "events/open", participant("p4@example.org"))
	e.clock.Add(30 * day)

	_, err := e.client.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: c.GetName(), Etag: "0123456789abcdef"})
	assertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")

	got, err := e.client.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: c.GetName(), Etag: c.GetEtag()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetState() != confirmed {
		t.Errorf("state = %v, want %v unchanged", got.GetState(), confirmed)
	}
	if want := t0.Add(30 * day); !got.GetCheckInTime().AsTime().Equal(want) || !got.GetUpdateTime().AsTime().Equal(want) {
		t.Errorf("check_in_time, update_time = %v, %v; want %v", got.GetCheckInTime(), got.GetUpdateTime(), want)
	}
	if got.GetEtag() == c.GetEtag() {
		t.Error("etag unchanged")
	}
	if read := e.get(t, c.GetName()); !proto.Equal(read, got) {
		t.Errorf("GetRegistration = %v, want %v", read, got)
	}

	e.clock.Add(time.Hour)
	_, err = e.client.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: c.GetName()})
	assertStatus(t, err, codes.FailedPrecondition, "ALREADY_CHECKED_IN")
	if read := e.get(t, c.GetName()); !proto.Equal(read, got) {
		t.Errorf("after a second check-in: %v, want %v unchanged", read, got)
	}

	for _, r := range []*registrationsv1.Registration{w, p} {
		_, err := e.client.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: r.GetName()})
		assertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
	}
	e.cancel(t, p.GetName())
	_, err = e.client.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: p.GetName()})
	assertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
	_, err = e.client.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: "events/open/registrations/2222222222222222"})
	assertStatus(t, err, codes.NotFound, "REGISTRATION_NOT_FOUND")

	// Checking in needs nothing of the events service.
	e.eventsSrv.Stop()
	if _, err := e.client.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: o.GetName()}); err != nil {
		t.Errorf("check-in while the events service is down: %v", err)
	}
}

func TestPolicyChangePromotesAtNextChange(t *testing.T) {
	e := newEnv(t) // events/small-waitlist: 1 seat, a waiting list
	const ev = "events/small-waitlist"
	var names []string
	add := func(email string) *registrationsv1.Registration {
		t.Helper()
		r := e.create(t, ev, participant(email))
		names = append(names, r.GetName())
		return r
	}
	add("a@example.org")
	add("b@example.org")
	add("c@example.org")
	e.assertStates(t, "start", names, "CWW")

	// A raised capacity moves nobody by itself…
	e.setPolicy(t, ev, func(p *eventsv1.RegistrationPolicy) { p.Capacity = 2 })
	e.assertStates(t, "capacity 2", names, "CWW")
	// …the next change gives the seat to the oldest waiting, before the newcomer.
	e.clock.Add(time.Hour)
	d := add("d@example.org")
	if d.GetState() != waitlisted || d.GetStateReason() != "EVENT_FULL" {
		t.Errorf("newcomer: state = %v (%q), want %v (EVENT_FULL)", d.GetState(), d.GetStateReason(), waitlisted)
	}
	e.assertStates(t, "after a create", names, "CCWW")
	if got := e.get(t, names[1]); got.GetStateReason() != "PROMOTED_FROM_WAITLIST" || !got.GetUpdateTime().AsTime().Equal(t0.Add(time.Hour)) {
		t.Errorf("promoted: %q at %v, want PROMOTED_FROM_WAITLIST at %v", got.GetStateReason(), got.GetUpdateTime().AsTime(), t0.Add(time.Hour))
	}

	// Two more seats; a waiting one cancels, and that change promotes the rest.
	e.setPolicy(t, ev, func(p *eventsv1.RegistrationPolicy) { p.Capacity = 4 })
	e.cancel(t, names[2])
	e.assertStates(t, "capacity 4, a waiting one cancels", names, "CCXC")
	if got := add("e@example.org"); got.GetState() != confirmed {
		t.Errorf("newcomer with a seat free: state = %v, want %v", got.GetState(), confirmed)
	}
	e.assertStates(t, "capacity 4", names, "CCXCC")

	// A lowered capacity un-confirms nobody, and confirms nobody new until
	// the confirmed are fewer than it.
	e.setPolicy(t, ev, func(p *eventsv1.RegistrationPolicy) { p.Capacity = 2 })
	add("f@example.org")
	e.assertStates(t, "capacity 2", names, "CCXCCW")
	e.cancel(t, names[0])
	e.assertStates(t, "3 confirmed of 2", names, "XCXCCW")
	e.cancel(t, names[1])
	e.assertStates(t, "2 confirmed of 2", names, "XXXCCW")
	e.cancel(t, names[3])
	e.assertStates(t, "1 confirmed of 2", names, "XXXXCC")

	// Turning the waiting list off keeps those on it, and they still move up.
	add("g@example.org")
	e.setPolicy(t, ev, func(p *eventsv1.RegistrationPolicy) { p.WaitlistEnabled = false })
	_, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{Parent: ev, Registration: participant("h@example.org")})
	assertStatus(t, err, codes.FailedPrecondition, "EVENT_FULL")
	e.assertStates(t, "waiting list off", names, "XXXXCCW")
	e.cancel(t, names[4])
	e.assertStates(t, "waiting list off, a seat freed", names, "XXXXXCC")
	assertCountsMatch(t, e, "small-waitlist")
}

// TestCreateRetryKeepsTheModeAsked: a retry is compared with what it asks,
// not with what the service made of it. One that leaves the attendance
// mode to the event gets the first registration even after the event went
// from hybrid to virtual; one that asks for another mode than the first got
// is REQUEST_ID_REUSED.
func TestCreateRetryKeepsTheModeAsked(t *testing.T) {
	e := newEnv(t)
	req := &registrationsv1.CreateRegistrationRequest{Parent: "events/hybrid", Registration: participant("ana@example.org"),
		RequestId: "0b6e2f8c-2f6a-4d8e-9a51-6f2d8b1c3e51"}
	first, err := e.client.CreateRegistration(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.GetAttendanceMode() != inPerson {
		t.Fatalf("attendance mode %v, want %v", first.GetAttendanceMode(), inPerson)
	}
	e.setEvent(t, "events/hybrid", func(ev *eventsv1.Event) { ev.AttendanceMode = virtual })
	again, err := e.client.CreateRegistration(ctx, req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if first = withoutSecret(t, first); !proto.Equal(again, first) {
		t.Errorf("retry returned %v, want %v", again, first)
	}
	other := proto.CloneOf(req)
	other.Registration.AttendanceMode = virtual
	_, err = e.client.CreateRegistration(ctx, other)
	assertStatus(t, err, codes.AlreadyExists, "REQUEST_ID_REUSED")
	if n := e.stored(t, "events/hybrid"); n != 1 {
		t.Errorf("%d registrations stored, want 1", n)
	}
}

func TestCreateRequestIDRetryWithoutEvent(t *testing.T) {
	const rid = "0b6e2f8c-2f6a-4d8e-9a51-6f2d8b1c3e49"
	req := &registrationsv1.CreateRegistrationRequest{Parent: "events/open", Registration: participant("ana@example.org"), RequestId: rid}

	t.Run("after the window closed", func(t *testing.T) {
		e := newEnv(t)
		first, err := e.client.CreateRegistration(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(31 * day) // events/open has started: registration is closed
		again, err := e.client.CreateRegistration(ctx, req)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		first = withoutSecret(t, first)
		if !proto.Equal(again, first) {
			t.Errorf("retry returned %v, want %v", again, first)
		}
		_, err = e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
			Parent: "events/open", Registration: participant("bob@example.org"), RequestId: "0b6e2f8c-2f6a-4d8e-9a51-6f2d8b1c3e50"})
		assertStatus(t, err, codes.FailedPrecondition, "REGISTRATION_CLOSED")
	})

	t.Run("while the events service is down", func(t *testing.T) {
		e := newEnv(t)
		first, err := e.client.CreateRegistration(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		e.eventsSrv.Stop()
		again, err := e.client.CreateRegistration(ctx, req)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		first = withoutSecret(t, first)
		if !proto.Equal(again, first) {
			t.Errorf("retry returned %v, want %v", again, first)
		}
		// A new request for an event the service knows nothing of needs the
		// events service.
		_, err = e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
			Parent: "events/other", Registration: participant("bob@example.org"), RequestId: "0b6e2f8c-2f6a-4d8e-9a51-6f2d8b1c3e50"})
		assertStatus(t, err, codes.Unavailable, "UNAVAILABLE")
		if n := e.stored(t, "events/open"); n != 1 {
			t.Errorf("%d registrations stored, want 1", n)
		}
	})

	t.Run("reused for another event", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.client.CreateRegistration(ctx, req); err != nil {
			t.Fatal(err)
		}
		other := proto.CloneOf(req)
		other.Parent = "events/other"
		_, err := e.client.CreateRegistration(ctx, other)
		assertStatus(t, err, codes.AlreadyExists, "REQUEST_ID_REUSED")
		if n := e.stored(t, "events/other"); n != 0 {
			t.Errorf("%d registrations stored for events/other, want 0", n)
		}
	})
}

// TestEventsServiceDown: cancel, approve, reject and stats work from the
// copy of the event saved with its registrations.
func TestEventsServiceDown(t *testing.T) {
	e := newEnv(t)
	a := e.create(t, "events/small-waitlist", participant("a@example.org"))
	b := e.create(t, "events/small-waitlist", participant("b@example.org"))
	p1 := e.create(t, "events/approval-waitlist", participant("p1@example.org"))
	p2 := e.create(t, "events/approval-waitlist", participant("p2@example.org"))
	e.eventsSrv.Stop() // for real: the client's calls fail

	got := e.cancel(t, a.GetName())
	if got.GetState() != cancelled {
		t.Errorf("cancelled: state = %v, want %v", got.GetState(), cancelled)
	}
	if got := e.get(t, b.GetName()); got.GetState() != confirmed || got.GetStateReason() != "PROMOTED_FROM_WAITLIST" {
		t.Errorf("waiting one: state = %v (%q), want %v (PROMOTED_FROM_WAITLIST), by the saved policy", got.GetState(), got.GetStateReason(), confirmed)
	}
	if got := e.approve(t, p1.GetName()); got.GetState() != confirmed {
		t.Errorf("approved: state = %v, want %v", got.GetState(), confirmed)
	}
	if got := e.approve(t, p2.GetName()); got.GetState() != waitlisted {
		t.Errorf("approved when full: state = %v, want %v (saved capacity 1)", got.GetState(), waitlisted)
	}
	if got := e.reject(t, p1.GetName(), "no"); got.GetState() != rejected {
		t.Errorf("rejected: state = %v, want %v", got.GetState(), rejected)
	}
	if got := e.get(t, p2.GetName()); got.GetState() != confirmed {
		t.Errorf("after the rejection: state = %v, want %v", got.GetState(), confirmed)
	}
	stats, err := e.client.GetRegistrationStats(ctx, &registrationsv1.GetRegistrationStatsRequest{Name: "events/small-waitlist/registrationStats"})
	if err != nil {
		t.Fatalf("GetRegistrationStats: %v", err)
	}
	if stats.SeatsLeft == nil || stats.GetSeatsLeft() != 0 {
		t.Errorf("seats_left = %v, want 0 from the saved capacity", stats.SeatsLeft)
	}

	_, err = e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{Parent: "events/other", Registration: participant("c@example.org")})
	assertStatus(t, err, codes.Unavailable, "UNAVAILABLE") // no copy of events/other

	// A registration whose event was never saved (written before the copy
	// existed) cannot be decided without the events service.
	var old *registrationsv1.Registration
	err = e.store.Update(ctx, "open", func(tx store.Tx) error {
		name, err := tx.NewName()
		if err != nil {
			return err
		}
		old = participant("old@example.org")
		old.Name, old.State = name, confirmed
		_, err = tx.Insert(old, "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: old.GetName()})
	assertStatus(t, err, codes.Unavailable, "UNAVAILABLE")
	if got := e.get(t, old.GetName()); got.GetState() != confirmed {
		t.Errorf("after a failed cancel: state = %v, want %v", got.GetState(), confirmed)
	}
	_, err = e.client.GetRegistrationStats(ctx, &registrationsv1.GetRegistrationStatsRequest{Name: "events/open/registrationStats"})
	assertStatus(t, err, codes.Unavailable, "UNAVAILABLE")
}

func TestSavedEventFollowsChanges(t *testing.T) {
	// Every cancel, approval or rejection reads the event from the events
	// service and saves it, so the fallback works with the latest policy,
	// not the one of the first registration.
	e := newEnv(t)
	const ev = "events/small-waitlist"
	var names []string
	for _, email := range []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org"} {
		names = append(names, e.create(t, ev, participant(email)).GetName())
	}
	e.events.setPolicy(ev, func(p *eventsv1.RegistrationPolicy) { p.Capacity = 2 }) // the events service only
	e.cancel(t, names[3])
	e.assertStates(t, "capacity 2, a waiting one cancels", names, "CCWX")
	if saved, err := e.store.Event(ctx, "small-waitlist"); err != nil || saved.GetRegistrationPolicy().GetCapacity() != 2 {
		t.Errorf("saved event = %v, %v; want capacity 2", saved, err)
	}

	e.events.setDown(true)
	e.cancel(t, names[0]) // by the saved capacity 2, c moves up
	e.assertStates(t, "cancel while down", names, "XCCX")
}

// assertCountsMatch checks the store's counters of the event against a
// count of its registrations as ListRegistrations returns them.
func assertCountsMatch(t tb, e *env, eventID string) {
	t.Helper()
	regs, _ := e.list(t, &registrationsv1.ListRegistrationsRequest{Parent: "events/" + eventID, PageSize: 100})
	assertCountsOf(t, e, eventID, regs)
}

// assertCountsOf checks the store's counters of the event against a count
// of regs, all of its registrations.
func assertCountsOf(t tb, e *env, eventID string, regs []*registrationsv1.Registration) {
	t.Helper()
	want := &store.Counts{}
	for _, r := range regs {
		want.Add(r, +1)
	}
	got, err := e.store.Counts(ctx, eventID)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := normalCounts(got), normalCounts(want); !reflect.DeepEqual(g, w) {
		t.Errorf("store counters %v, want a recount %v", g, w)
	}
}

// normalCounts drops empty tallies and maps, which mean the same as none.
func normalCounts(c *store.Counts) map[string]store.Tally {
	out := map[string]store.Tally{}
	for st, t := range c.ByState {
		if t == nil || t.Total == 0 {
			continue
		}
		n := store.Tally{Total: t.Total}
		for _, m := range []struct {
			dst *map[string]int32
			src map[string]int32
		}{{&n.ByCountry, t.ByCountry}, {&n.Delegates, t.Delegates}, {&n.ByCategory, t.ByCategory}, {&n.ByMode, t.ByMode}, {&n.ByGender, t.ByGender}} {
			if len(m.src) > 0 {
				*m.dst = maps.Clone(m.src)
			}
		}
		out[st] = n
	}
	return out
}
