package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// The security tests share one system (starting one costs a second or two
// under -race); each part works on events of its own, and every cell of the
// access matrix that changes state gets objects of its own.

// secBadToken is a well-formed bearer token that is not in the auth file.
const secBadToken = "not-a-token-of-this-system"

// secCaller is one kind of caller. A registrant has no token, only the secret of
// the registration the call is about.
type secCaller struct {
	name       string
	token      string
	registrant bool
}

var secCallers = []secCaller{
	{"public", "", false},
	{"registrant", "", true},
	{"focal point MX", mxToken, false},
	{"focal point GT", gtToken, false},
	{"organizer", organizerToken, false},
	{"service", serviceToken, false},
	{"bad token", secBadToken, false},
}

// secSystem is a running system with a gRPC connection per token and the
// objects the tests read.
type secSystem struct {
	*system
	eventsAs map[string]eventsv1.EventServiceClient // by token ("" = public)
	regsAs   map[string]registrationsv1.RegistrationServiceClient
	org      eventsv1.EventServiceClient
	orgRegs  registrationsv1.RegistrationServiceClient
	seq      atomic.Int64
}

// secEvent is the shared published event: registrations need approval, so
// new ones are PENDING_APPROVAL until decided; it has a meeting link.
const (
	secEvent      = "events/sec-event"
	secMeetingURL = "https://meet.example.org/sec-event-secret-room"
)

func startSecSystem(t *testing.T) *secSystem {
	t.Helper()
	s := &secSystem{
		// The rate limit has a test of its own (TestSecurityRateLimit);
		// here it would only make the public calls depend on timing.
		system:   startSystemWith(t, nil, []string{"-rate-limit", "0"}),
		eventsAs: map[string]eventsv1.EventServiceClient{},
		regsAs:   map[string]registrationsv1.RegistrationServiceClient{},
	}
	for _, c := range secCallers {
		if _, ok := s.eventsAs[c.token]; ok {
			continue
		}
		s.eventsAs[c.token] = eventsv1.NewEventServiceClient(dialGRPC(t, s.eventsAddr, c.token))
		s.regsAs[c.token] = registrationsv1.NewRegistrationServiceClient(dialGRPC(t, s.registrationsAddr, c.token))
	}
	s.org, s.orgRegs = s.eventsAs[organizerToken], s.regsAs[organizerToken]
	s.event(t, "sec-event", true, &eventsv1.RegistrationPolicy{RequiresApproval: true})
	waitEventsReachable(t, s.orgRegs, secEvent)
	return s
}

// waitEventsReachable waits until the registrations service reaches the
// events service. Healthy processes are not enough: when the registrations
// service dialled the events service before it listened, its connection
// sits in gRPC's reconnect backoff (about a second) and every call that
// needs an event fails with UNAVAILABLE meanwhile (see the report of this
// file's author: the events client does not wait for ready).
func waitEventsReachable(t *testing.T, regs registrationsv1.RegistrationServiceClient, event string) {
	t.Helper()
	eventually(t, "the registrations service reaches the events service", func() bool {
		_, err := regs.GetRegistrationStats(secCtx(t), &registrationsv1.GetRegistrationStatsRequest{Name: event + "/registrationStats"})
		return status.Code(err) != codes.Unavailable
	})
}

func (s *secSystem) next() int64 { return s.seq.Add(1) }

func secCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// withSecret returns ctx sending a registrant's secret, when there is one.
func withSecret(ctx context.Context, secret string) context.Context {
	if secret == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "x-registration-secret", secret)
}

// event creates an event as the organizer (published or a draft), three
// days from now, with the meeting link, and returns it.
func (s *secSystem) event(t *testing.T, id string, publish bool, policy *eventsv1.RegistrationPolicy) *eventsv1.Event {
	t.Helper()
	ctx := secCtx(t)
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	ev, err := s.org.CreateEvent(ctx, &eventsv1.CreateEventRequest{EventId: id, Event: &eventsv1.Event{
		Title:              "Security test event " + id,
		Kind:               eventsv1.EventKind_EVENT_KIND_WORKSHOP,
		AttendanceMode:     eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON,
		Summary:            "An event of the security tests.",
		Location:           &eventsv1.Location{City: "Guatemala City", CountryCode: "GT"},
		OnlineMeetingUrl:   secMeetingURL,
		StartTime:          timestamppb.New(start),
		EndTime:            timestamppb.New(start.Add(8 * time.Hour)),
		TimeZone:           "America/Guatemala",
		RegistrationPolicy: policy,
	}})
	if err != nil {
		t.Fatalf("CreateEvent %s: %v", id, err)
	}
	if publish {
		if ev, err = s.org.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: ev.GetName()}); err != nil {
			t.Fatalf("PublishEvent %s: %v", id, err)
		}
	}
	return ev
}

// draft creates a fresh draft event and returns its name.
func (s *secSystem) draft(t *testing.T) string {
	t.Helper()
	return s.event(t, fmt.Sprintf("sec-draft-%d", s.next()), false, nil).GetName()
}

// register creates a registration for a delegate of country as the
// organizer and returns it with its manage secret.
func (s *secSystem) register(t *testing.T, event, country string) *registrationsv1.Registration {
	t.Helper()
	n := s.next()
	reg, err := s.orgRegs.CreateRegistration(secCtx(t), &registrationsv1.CreateRegistrationRequest{
		Parent: event,
		Registration: &registrationsv1.Registration{
			Participant: &registrationsv1.Participant{
				GivenName: fmt.Sprintf("Person%d", n), FamilyName: "Delegate",
				Email: fmt.Sprintf("person%d@example.org", n), CountryCode: country, Phone: "+502 5555 0000",
			},
			Category: eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		},
	})
	if err != nil {
		t.Fatalf("CreateRegistration for %s: %v", event, err)
	}
	if reg.GetManageSecret() == "" {
		t.Fatalf("CreateRegistration returned no manage secret: %v", reg)
	}
	return reg
}

// confirmed creates an MX registration on the shared event and approves it.
func (s *secSystem) confirmed(t *testing.T) *registrationsv1.Registration {
	t.Helper()
	reg := s.register(t, secEvent, "MX")
	got, err := s.orgRegs.ApproveRegistration(secCtx(t), &registrationsv1.ApproveRegistrationRequest{Name: reg.GetName()})
	if err != nil || got.GetState() != registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED {
		t.Fatalf("approve %s: %v, %v", reg.GetName(), got, err)
	}
	got.ManageSecret = reg.GetManageSecret()
	return got
}

// regEtag returns the stored etag of a registration, as the organizer sees it.
func (s *secSystem) regEtag(t *testing.T, name string) string {
	t.Helper()
	reg, err := s.orgRegs.GetRegistration(secCtx(t), &registrationsv1.GetRegistrationRequest{Name: name})
	if err != nil {
		t.Fatalf("GetRegistration %s as organizer: %v", name, err)
	}
	return reg.GetEtag()
}

// eventEtag returns the stored etag of an event, "" when it does not exist.
func (s *secSystem) eventEtag(t *testing.T, name string) string {
	t.Helper()
	ev, err := s.org.GetEvent(secCtx(t), &eventsv1.GetEventRequest{Name: name})
	if status.Code(err) == codes.NotFound {
		return ""
	}
	if err != nil {
		t.Fatalf("GetEvent %s as organizer: %v", name, err)
	}
	return ev.GetEtag()
}

// registrationCount returns how many registrations an event holds.
func (s *secSystem) registrationCount(t *testing.T, event string) int32 {
	t.Helper()
	resp, err := s.orgRegs.ListRegistrations(secCtx(t), &registrationsv1.ListRegistrationsRequest{Parent: event, PageSize: 1})
	if err != nil {
		t.Fatalf("ListRegistrations %s: %v", event, err)
	}
	return resp.GetTotalSize()
}

// secResult is an HTTP answer: the status, the header, and the body up to
// its first newline (all of a unary answer; the first message of a stream).
type secResult struct {
	Code int
	Hdr  http.Header
	Raw  string
}

// rpcCode returns the code of a JSON google.rpc.Status body, also when a
// stream wraps it in {"error": …}.
func (r secResult) rpcCode() (codes.Code, bool) {
	var body map[string]any
	if json.Unmarshal([]byte(r.Raw), &body) != nil {
		return 0, false
	}
	if e, ok := body["error"].(map[string]any); ok {
		body = e
	}
	c, ok := body["code"].(float64)
	return codes.Code(c), ok
}

// reason returns the ErrorInfo reason of a JSON google.rpc.Status body.
func (r secResult) reason() string {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Details []struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
		} `json:"details"`
	}
	if json.Unmarshal([]byte(r.Raw), &body) != nil {
		return ""
	}
	if len(body.Error) > 0 {
		return secResult{Raw: string(body.Error)}.reason()
	}
	for _, d := range body.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
			return d.Reason
		}
	}
	return ""
}

// send makes one HTTP request through the gateway. body is nil, a string
// (sent as is), an io.Reader (sent chunked: no Content-Length) or a value
// marshalled to JSON. hdr adds headers.
func (s *secSystem) send(t *testing.T, token, secret, method, path string, body any, hdr map[string]string) secResult {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.httpURL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, chunked := body.(io.Reader); chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if secret != "" {
		req.Header.Set("X-Registration-Secret", secret)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(io.LimitReader(resp.Body, 1<<20)).ReadString('\n')
	return secResult{Code: resp.StatusCode, Hdr: resp.Header, Raw: line}
}

// secHTTPStatus is the HTTP status grpc-gateway gives a gRPC code.
func secHTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	}
	return -1
}

// secTarget is what one cell of the access matrix acts on.
type secTarget struct {
	name   string // the event or registration (or the event to create)
	secret string // the registrant's secret: of this registration, or of the shared one
}

// secAccessCase is one RPC: how to call it over gRPC and over HTTP, and what
// each caller gets.
type secAccessCase struct {
	method string
	// target returns the object of one cell: a fresh one for the methods
	// that change state, so that no cell disturbs the next.
	target func(t *testing.T) secTarget
	grpc   func(ctx context.Context, c secClients, tg secTarget) error
	http   func(tg secTarget) (method, path string, body any)
	// fingerprint, for the methods that write, tells whether a call
	// changed the target: it differs after an allowed call and stays the
	// same after a refused one.
	fingerprint func(t *testing.T, tg secTarget) string
	want        map[string]codes.Code // by caller name
}

// secClients are the gRPC clients of one caller.
type secClients struct {
	events eventsv1.EventServiceClient
	regs   registrationsv1.RegistrationServiceClient
}

const (
	secOK     = codes.OK
	secUnauth = codes.Unauthenticated
	secDenied = codes.PermissionDenied
)

// secWant builds a want map in the order of secCallers: public, registrant,
// focal point MX, focal point GT, organizer, service, bad token.
func secWant(cs ...codes.Code) map[string]codes.Code {
	if len(cs) != len(secCallers) {
		panic("secWant needs one code per caller")
	}
	m := map[string]codes.Code{}
	for i, c := range cs {
		m[secCallers[i].name] = c
	}
	return m
}

// secFirst opens a server stream and reads its first message: the error of
// a refused call arrives there.
func secFirst[T any](stream interface{ Recv() (T, error) }, err error) error {
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

// secAccessCases is the access matrix. The expectations come from the two
// AccessTables and from authorize in the registrations service:
//   - an unknown token is UNAUTHENTICATED everywhere, public methods too;
//   - a method closed to the public is UNAUTHENTICATED without a token
//     (a registrant's secret is not a token), PERMISSION_DENIED for a token
//     of the wrong role;
//   - the registrations service's own token (service) may watch and read
//     events, and has only the public's rights on registrations;
//   - a focal point of MX reads, approves, rejects and checks in MX
//     registrations, not GT's, and cancels none;
//   - the registrant reads and cancels their own registration only.
func (s *secSystem) secAccessCases(t *testing.T, shared *registrationsv1.Registration) []secAccessCase {
	sharedEvent := func(*testing.T) secTarget { return secTarget{secEvent, shared.GetManageSecret()} }
	sharedReg := func(*testing.T) secTarget { return secTarget{shared.GetName(), shared.GetManageSecret()} }
	freshDraft := func(t *testing.T) secTarget { return secTarget{s.draft(t), shared.GetManageSecret()} }
	freshPending := func(t *testing.T) secTarget {
		r := s.register(t, secEvent, "MX")
		return secTarget{r.GetName(), r.GetManageSecret()}
	}
	freshConfirmed := func(t *testing.T) secTarget {
		r := s.confirmed(t)
		return secTarget{r.GetName(), r.GetManageSecret()}
	}
	eventPrint := func(t *testing.T, tg secTarget) string { return s.eventEtag(t, tg.name) }
	regPrint := func(t *testing.T, tg secTarget) string { return s.regEtag(t, tg.name) }
	countPrint := func(t *testing.T, tg secTarget) string { return fmt.Sprint(s.registrationCount(t, secEvent)) }
	body := func() map[string]any { return map[string]any{} }
	newEvent := func(id string) *eventsv1.Event {
		start := time.Now().Add(96 * time.Hour).UTC().Truncate(time.Second)
		return &eventsv1.Event{Title: "Created by a cell", StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(time.Hour))}
	}
	newRegistration := func() *registrationsv1.Registration {
		n := s.next()
		return &registrationsv1.Registration{
			Participant: &registrationsv1.Participant{GivenName: "Cell", FamilyName: "Creator", Email: fmt.Sprintf("cell%d@example.org", n), CountryCode: "MX"},
			Category:    eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		}
	}
	regJSON := func() map[string]any {
		n := s.next()
		return registrationJSON("Cell", fmt.Sprintf("cell%d@example.org", n), "MX")
	}

	return []secAccessCase{
		// EventService.
		{
			method: "GetEvent", target: sharedEvent,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.events.GetEvent(ctx, &eventsv1.GetEventRequest{Name: tg.name})
				return err
			},
			http: func(tg secTarget) (string, string, any) { return "GET", "/v1/" + tg.name, nil },
			want: secWant(secOK, secOK, secOK, secOK, secOK, secOK, secUnauth),
		},
		{
			method: "ListEvents", target: sharedEvent,
			grpc: func(ctx context.Context, c secClients, _ secTarget) error {
				_, err := c.events.ListEvents(ctx, &eventsv1.ListEventsRequest{})
				return err
			},
			http: func(secTarget) (string, string, any) { return "GET", "/v1/events", nil },
			want: secWant(secOK, secOK, secOK, secOK, secOK, secOK, secUnauth),
		},
		{
			method: "CreateEvent",
			target: func(*testing.T) secTarget {
				return secTarget{fmt.Sprintf("events/sec-new-%d", s.next()), shared.GetManageSecret()}
			},
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				id := strings.TrimPrefix(tg.name, "events/")
				_, err := c.events.CreateEvent(ctx, &eventsv1.CreateEventRequest{EventId: id, Event: newEvent(id)})
				return err
			},
			http: func(tg secTarget) (string, string, any) {
				return "POST", "/v1/events?eventId=" + strings.TrimPrefix(tg.name, "events/"), eventJSON("Created by a cell", time.Now().Add(96*time.Hour), 0)
			},
			fingerprint: eventPrint,
			want:        secWant(secUnauth, secUnauth, secDenied, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "UpdateEvent", target: freshDraft,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.events.UpdateEvent(ctx, &eventsv1.UpdateEventRequest{
					Event:      &eventsv1.Event{Name: tg.name, Summary: "Changed by a cell."},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}},
				})
				return err
			},
			http: func(tg secTarget) (string, string, any) {
				return "PATCH", "/v1/" + tg.name, map[string]any{"summary": "Changed by a cell."}
			},
			fingerprint: eventPrint,
			want:        secWant(secUnauth, secUnauth, secDenied, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "DeleteEvent", target: freshDraft,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.events.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: tg.name})
				return err
			},
			http:        func(tg secTarget) (string, string, any) { return "DELETE", "/v1/" + tg.name, nil },
			fingerprint: eventPrint,
			want:        secWant(secUnauth, secUnauth, secDenied, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "PublishEvent", target: freshDraft,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.events.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: tg.name})
				return err
			},
			http:        func(tg secTarget) (string, string, any) { return "POST", "/v1/" + tg.name + ":publish", body() },
			fingerprint: eventPrint,
			want:        secWant(secUnauth, secUnauth, secDenied, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "CancelEvent", target: freshDraft,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.events.CancelEvent(ctx, &eventsv1.CancelEventRequest{Name: tg.name, Reason: "a cell"})
				return err
			},
			http:        func(tg secTarget) (string, string, any) { return "POST", "/v1/" + tg.name + ":cancel", body() },
			fingerprint: eventPrint,
			want:        secWant(secUnauth, secUnauth, secDenied, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "WatchEventChanges", target: sharedEvent,
			grpc: func(ctx context.Context, c secClients, _ secTarget) error {
				ctx, cancel := context.WithCancel(ctx)
				defer cancel() // ends the stream after its first change
				return secFirst(c.events.WatchEventChanges(ctx, &eventsv1.WatchEventChangesRequest{}))
			},
			http: func(secTarget) (string, string, any) { return "GET", "/v1/events:watchChanges?afterSequence=0", nil },
			want: secWant(secUnauth, secUnauth, secDenied, secDenied, secOK, secOK, secUnauth),
		},

		// RegistrationService.
		{
			method: "CreateRegistration", target: sharedEvent,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.regs.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{Parent: tg.name, Registration: newRegistration()})
				return err
			},
			http: func(tg secTarget) (string, string, any) {
				return "POST", "/v1/" + tg.name + "/registrations", regJSON()
			},
			fingerprint: countPrint,
			want:        secWant(secOK, secOK, secOK, secOK, secOK, secOK, secUnauth),
		},
		{
			method: "GetRegistration", target: sharedReg,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.regs.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: tg.name})
				return err
			},
			http: func(tg secTarget) (string, string, any) { return "GET", "/v1/" + tg.name, nil },
			want: secWant(secUnauth, secOK, secOK, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "ListRegistrations", target: sharedEvent,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.regs.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: tg.name})
				return err
			},
			http: func(tg secTarget) (string, string, any) { return "GET", "/v1/" + tg.name + "/registrations", nil },
			want: secWant(secUnauth, secUnauth, secOK, secOK, secOK, secDenied, secUnauth),
		},
		{
			method: "CancelRegistration", target: freshPending,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.regs.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: tg.name})
				return err
			},
			http:        func(tg secTarget) (string, string, any) { return "POST", "/v1/" + tg.name + ":cancel", body() },
			fingerprint: regPrint,
			want:        secWant(secUnauth, secOK, secDenied, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "ApproveRegistration", target: freshPending,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.regs.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: tg.name})
				return err
			},
			http:        func(tg secTarget) (string, string, any) { return "POST", "/v1/" + tg.name + ":approve", body() },
			fingerprint: regPrint,
			want:        secWant(secUnauth, secUnauth, secOK, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "RejectRegistration", target: freshPending,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.regs.RejectRegistration(ctx, &registrationsv1.RejectRegistrationRequest{Name: tg.name, Reason: "a cell"})
				return err
			},
			http:        func(tg secTarget) (string, string, any) { return "POST", "/v1/" + tg.name + ":reject", body() },
			fingerprint: regPrint,
			want:        secWant(secUnauth, secUnauth, secOK, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "CheckInRegistration", target: freshConfirmed,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.regs.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: tg.name})
				return err
			},
			http:        func(tg secTarget) (string, string, any) { return "POST", "/v1/" + tg.name + ":checkIn", body() },
			fingerprint: regPrint,
			want:        secWant(secUnauth, secUnauth, secOK, secDenied, secOK, secDenied, secUnauth),
		},
		{
			method: "GetRegistrationStats", target: sharedEvent,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				_, err := c.regs.GetRegistrationStats(ctx, &registrationsv1.GetRegistrationStatsRequest{Name: tg.name + "/registrationStats"})
				return err
			},
			http: func(tg secTarget) (string, string, any) { return "GET", "/v1/" + tg.name + "/registrationStats", nil },
			want: secWant(secOK, secOK, secOK, secOK, secOK, secOK, secUnauth),
		},
		{
			method: "ExportRegistrations", target: sharedEvent,
			grpc: func(ctx context.Context, c secClients, tg secTarget) error {
				return secFirst(c.regs.ExportRegistrations(ctx, &registrationsv1.ExportRegistrationsRequest{Parent: tg.name}))
			},
			http: func(tg secTarget) (string, string, any) {
				return "GET", "/v1/" + tg.name + "/registrations:export", nil
			},
			want: secWant(secUnauth, secUnauth, secOK, secOK, secOK, secDenied, secUnauth),
		},
	}
}

// TestSecurity runs the security checks on one system.
func TestSecurity(t *testing.T) {
	s := startSecSystem(t)
	t.Run("AccessMatrix", s.testAccessMatrix)
	t.Run("ObjectLevel", s.testObjectLevel)
	t.Run("PersonalData", s.testPersonalData)
	t.Run("MassAssignment", s.testMassAssignment)
	t.Run("Drafts", s.testDrafts)
	t.Run("BodyLimit", s.testBodyLimit)
	t.Run("MethodOverride", s.testMethodOverride)
}

// testAccessMatrix: every RPC of both services × every caller, over gRPC
// and through the gateway.
func (s *secSystem) testAccessMatrix(t *testing.T) {
	shared := s.register(t, secEvent, "MX")
	s.register(t, secEvent, "GT")
	cases := s.secAccessCases(t, shared)
	if len(cases) != 17 {
		t.Fatalf("%d methods in the matrix, want all 17", len(cases))
	}
	for _, transport := range []string{"gRPC", "HTTP"} {
		for _, tc := range cases {
			for _, c := range secCallers {
				want, okWant := tc.want[c.name]
				if !okWant {
					t.Fatalf("%s: no expectation for %s", tc.method, c.name)
				}
				t.Run(transport+"/"+tc.method+"/"+c.name, func(t *testing.T) {
					tg := tc.target(t)
					secret := ""
					if c.registrant {
						secret = tg.secret
					}
					var before string
					if tc.fingerprint != nil {
						before = tc.fingerprint(t, tg)
					}
					// The reason of a refusal: a token that is not known, no
					// token where one is needed, or the wrong role or object.
					reason := map[codes.Code]string{codes.Unauthenticated: "AUTHENTICATION_REQUIRED", codes.PermissionDenied: "PERMISSION_DENIED"}[want]
					if c.token == secBadToken {
						reason = "BAD_CREDENTIALS"
					}
					if transport == "gRPC" {
						cl := secClients{s.eventsAs[c.token], s.regsAs[c.token]}
						err := tc.grpc(withSecret(secCtx(t), secret), cl, tg)
						secWantCode(t, tc.method+" as "+c.name+" over gRPC", err, want, reason)
					} else {
						method, path, body := tc.http(tg)
						r := s.send(t, c.token, secret, method, path, body, nil)
						if r.Code != secHTTPStatus(want) {
							t.Errorf("%s %s as %s: HTTP %d %s, want %d (%v)", method, path, c.name, r.Code, r.Raw, secHTTPStatus(want), want)
						} else if want != codes.OK {
							if code, isStatus := r.rpcCode(); !isStatus || code != want || r.reason() != reason {
								t.Errorf("%s %s as %s: body %s, want a JSON google.rpc.Status with code %d and reason %s", method, path, c.name, r.Raw, want, reason)
							}
						}
					}
					if tc.fingerprint != nil {
						after := tc.fingerprint(t, tg)
						if changed := after != before; changed != (want == codes.OK) {
							t.Errorf("%s as %s (%s): changed = %v, want %v", tc.method, c.name, transport, changed, want == codes.OK)
						}
					}
				})
			}
		}
	}
}

// secWantCode checks a gRPC error's code and, when reason is not empty, its
// ErrorInfo reason.
func secWantCode(t *testing.T, what string, err error, code codes.Code, reason string) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Errorf("%s: %v (%v), want %v", what, got, err, code)
		return
	}
	if reason != "" && errorReason(err) != reason {
		t.Errorf("%s: reason %q (%v), want %q", what, errorReason(err), err, reason)
	}
}

// testObjectLevel: broken object-level authorisation. A focal point acts on
// their own delegation only, whether the registration exists or not; lists
// and exports of a focal point hold their delegation only, whatever the
// filter; a secret opens its own registration only, and decides nothing.
func (s *secSystem) testObjectLevel(t *testing.T) {
	ctx := secCtx(t)
	s.event(t, "sec-bola", true, &eventsv1.RegistrationPolicy{RequiresApproval: true})
	const other = "events/sec-bola"
	pending := s.register(t, secEvent, "MX")
	confirmed := s.confirmed(t)
	inOther := s.register(t, other, "MX")
	for _, cc := range []string{"MX", "GT", "GT", "GT", "HN"} {
		s.register(t, other, cc)
	}

	gt, mx, public := s.regsAs[gtToken], s.regsAs[mxToken], s.regsAs[""]
	id := pending.GetName()[strings.LastIndexByte(pending.GetName(), '/')+1:]
	missing := []string{
		secEvent + "/registrations/doesnotexist0",
		"events/no-such-event/registrations/doesnotexist0",
		other + "/registrations/" + id, // an existing id under another event
	}

	t.Run("focal point of another country", func(t *testing.T) {
		before := map[string]string{pending.GetName(): s.regEtag(t, pending.GetName()), confirmed.GetName(): s.regEtag(t, confirmed.GetName())}
		type op struct {
			name string
			call func(name string) error
		}
		ops := []op{
			{"get", func(n string) error {
				_, err := gt.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: n})
				return err
			}},
			{"approve", func(n string) error {
				_, err := gt.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: n})
				return err
			}},
			{"reject", func(n string) error {
				_, err := gt.RejectRegistration(ctx, &registrationsv1.RejectRegistrationRequest{Name: n})
				return err
			}},
			{"checkIn", func(n string) error {
				_, err := gt.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: n})
				return err
			}},
			{"cancel", func(n string) error {
				_, err := gt.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: n})
				return err
			}},
		}
		for _, o := range ops {
			target := pending.GetName()
			if o.name == "checkIn" {
				target = confirmed.GetName()
			}
			first := o.call(target)
			secWantCode(t, "GT "+o.name+" of an MX registration", first, codes.PermissionDenied, "PERMISSION_DENIED")
			for _, n := range missing {
				err := o.call(n)
				secWantCode(t, "GT "+o.name+" of "+n, err, codes.PermissionDenied, "PERMISSION_DENIED")
				if status.Convert(err).Message() != status.Convert(first).Message() {
					t.Errorf("GT %s: the answer tells an existing registration (%v) from a missing one (%v)", o.name, first, err)
				}
			}
			// Through the gateway too.
			method, path, body := "POST", "/v1/"+target+":"+o.name, any(map[string]any{})
			if o.name == "get" {
				method, path, body = "GET", "/v1/"+target, nil
			}
			if r := s.send(t, gtToken, "", method, path, body, nil); r.Code != http.StatusForbidden {
				t.Errorf("%s %s as GT: HTTP %d %s, want 403", method, path, r.Code, r.Raw)
			}
		}
		for name, etag := range before {
			if got := s.regEtag(t, name); got != etag {
				t.Errorf("%s changed by calls that were refused", name)
			}
		}
		// The MX focal point, the public with a secret, and the public
		// without: for a missing registration the same answer as for an
		// existing one they may not touch.
		for _, n := range missing {
			_, err := mx.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: n})
			secWantCode(t, "MX approve of "+n, err, codes.PermissionDenied, "PERMISSION_DENIED")
			_, err = mx.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: n})
			secWantCode(t, "MX get of "+n, err, codes.PermissionDenied, "PERMISSION_DENIED")
			_, err = public.GetRegistration(withSecret(ctx, pending.GetManageSecret()), &registrationsv1.GetRegistrationRequest{Name: n})
			secWantCode(t, "get of "+n+" with another registration's secret", err, codes.PermissionDenied, "PERMISSION_DENIED")
			_, err = public.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: n})
			secWantCode(t, "public get of "+n, err, codes.Unauthenticated, "")
		}
		// The organizer may know that it does not exist.
		_, err := s.orgRegs.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: missing[0]})
		secWantCode(t, "organizer get of a missing registration", err, codes.NotFound, "REGISTRATION_NOT_FOUND")
	})

	t.Run("lists and exports hold the delegation only", func(t *testing.T) {
		filters := []string{
			"",
			"participant.country_code = GT",
			"participant.country_code = gt",
			"participant.country_code != MX",
			"participant.country_code != GT",
			"participant.country_code = GT AND participant.country_code = MX",
			"state = PENDING_APPROVAL",
		}
		for _, fp := range []struct {
			token, country string
			total          int
		}{{mxToken, "MX", 2}, {gtToken, "GT", 3}} {
			client := s.regsAs[fp.token]
			for _, f := range filters {
				var names []string
				req := &registrationsv1.ListRegistrationsRequest{Parent: other, Filter: f, PageSize: 1}
				for page := 0; page < 10; page++ {
					resp, err := client.ListRegistrations(ctx, req)
					if err != nil {
						t.Fatalf("list as %s with %q: %v", fp.country, f, err)
					}
					for _, r := range resp.GetRegistrations() {
						names = append(names, r.GetName())
						if cc := r.GetParticipant().GetCountryCode(); cc != fp.country {
							t.Errorf("list as focal point %s with %q returned %s of %s", fp.country, f, r.GetName(), cc)
						}
					}
					if resp.GetTotalSize() > int32(fp.total) {
						t.Errorf("list as focal point %s with %q: totalSize %d counts other delegations (%d of %s)", fp.country, f, resp.GetTotalSize(), fp.total, fp.country)
					}
					if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
						break
					}
				}
				if f == "" && len(names) != fp.total {
					t.Errorf("list as focal point %s: %d registrations, want their %d", fp.country, len(names), fp.total)
				}

				rows := s.exportRows(t, client, other, f)
				for _, row := range rows[1:] {
					if cc := row["country_code"]; cc != fp.country {
						t.Errorf("export as focal point %s with %q has a row of %s: %v", fp.country, f, cc, row)
					}
				}
				if f == "" && len(rows)-1 != fp.total {
					t.Errorf("export as focal point %s: %d rows, want %d", fp.country, len(rows)-1, fp.total)
				}
				// And through the gateway.
				q := "?filter=" + url.QueryEscape(f)
				r := s.send(t, fp.token, "", "GET", "/v1/"+other+"/registrations"+q, nil, nil)
				var body struct {
					Registrations []struct {
						Participant struct{ CountryCode string }
					}
				}
				if err := json.Unmarshal([]byte(r.Raw), &body); r.Code != http.StatusOK || err != nil {
					t.Fatalf("GET registrations as %s with %q: %d %s", fp.country, f, r.Code, r.Raw)
				}
				for _, reg := range body.Registrations {
					if reg.Participant.CountryCode != fp.country {
						t.Errorf("GET registrations as focal point %s with %q: a registration of %s", fp.country, f, reg.Participant.CountryCode)
					}
				}
				csvBody := s.sendAll(t, fp.token, "GET", "/v1/"+other+"/registrations:export"+q)
				for _, row := range secCSV(t, csvBody)[1:] {
					if cc := row["country_code"]; cc != fp.country {
						t.Errorf("CSV export through the gateway as focal point %s with %q has a row of %s: %v", fp.country, f, cc, row)
					}
				}
			}
		}
	})

	t.Run("a secret opens its own registration only", func(t *testing.T) {
		sameEvent := s.register(t, secEvent, "GT")
		for _, target := range []*registrationsv1.Registration{sameEvent, inOther} {
			etag := s.regEtag(t, target.GetName())
			sctx := withSecret(ctx, pending.GetManageSecret())
			_, err := public.GetRegistration(sctx, &registrationsv1.GetRegistrationRequest{Name: target.GetName()})
			secWantCode(t, "get "+target.GetName()+" with another registration's secret", err, codes.PermissionDenied, "PERMISSION_DENIED")
			_, err = public.CancelRegistration(sctx, &registrationsv1.CancelRegistrationRequest{Name: target.GetName()})
			secWantCode(t, "cancel "+target.GetName()+" with another registration's secret", err, codes.PermissionDenied, "PERMISSION_DENIED")
			if r := s.send(t, "", pending.GetManageSecret(), "GET", "/v1/"+target.GetName(), nil, nil); r.Code != http.StatusForbidden {
				t.Errorf("GET %s with another registration's secret: HTTP %d %s, want 403", target.GetName(), r.Code, r.Raw)
			}
			if r := s.send(t, "", pending.GetManageSecret(), "POST", "/v1/"+target.GetName()+":cancel", map[string]any{}, nil); r.Code != http.StatusForbidden {
				t.Errorf("cancel %s with another registration's secret: HTTP %d %s, want 403", target.GetName(), r.Code, r.Raw)
			}
			if s.regEtag(t, target.GetName()) != etag {
				t.Errorf("%s changed by another registration's secret", target.GetName())
			}
		}
		// Its own: yes.
		if _, err := public.GetRegistration(withSecret(ctx, pending.GetManageSecret()), &registrationsv1.GetRegistrationRequest{Name: pending.GetName()}); err != nil {
			t.Errorf("get own registration with its secret: %v", err)
		}
		// The secret is not a bearer token.
		if r := s.send(t, pending.GetManageSecret(), "", "GET", "/v1/"+pending.GetName(), nil, nil); r.Code != http.StatusUnauthorized {
			t.Errorf("the secret as a bearer token: HTTP %d %s, want 401", r.Code, r.Raw)
		}
	})

	t.Run("a request id is not a key to someone else's registration", func(t *testing.T) {
		// The request id travels in the URL's query string, so proxies and
		// access logs see it: replaying it with another participant must
		// not hand out the first participant's personal data.
		const requestID = "0b6f9a52-3c1d-4c8e-9f1a-7d2e5b8c4a10"
		first, err := s.orgRegs.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
			Parent: secEvent, RequestId: requestID,
			Registration: &registrationsv1.Registration{
				Participant: &registrationsv1.Participant{GivenName: "Replayed", FamilyName: "Person", Email: "replayed@example.org", CountryCode: "MX", Phone: "+52 55 5555 0101"},
				Category:    eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := s.send(t, "", "", "POST", "/v1/"+secEvent+"/registrations?requestId="+requestID, registrationJSON("Eve", "eve@example.org", "GT"), nil)
		if strings.Contains(r.Raw, first.GetParticipant().GetEmail()) || strings.Contains(r.Raw, first.GetParticipant().GetPhone()) {
			t.Errorf("a public create replaying another person's request id with another participant got their registration: HTTP %d %s", r.Code, r.Raw)
		}
		if reg, _ := gt.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{Parent: secEvent, RequestId: requestID, Registration: &registrationsv1.Registration{
			Participant: &registrationsv1.Participant{GivenName: "Gus", FamilyName: "GT", Email: "gus@example.org", CountryCode: "GT"},
			Category:    eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		}}); reg.GetParticipant().GetEmail() == first.GetParticipant().GetEmail() {
			t.Errorf("the GT focal point replaying a request id got an MX registration: %v", reg)
		}
	})

	t.Run("a registrant decides nothing about their own registration", func(t *testing.T) {
		own := s.register(t, secEvent, "MX")
		sctx := withSecret(ctx, own.GetManageSecret())
		etag := s.regEtag(t, own.GetName())
		_, err := public.ApproveRegistration(sctx, &registrationsv1.ApproveRegistrationRequest{Name: own.GetName()})
		secWantCode(t, "approve own registration with its secret", err, codes.Unauthenticated, "")
		_, err = public.RejectRegistration(sctx, &registrationsv1.RejectRegistrationRequest{Name: own.GetName()})
		secWantCode(t, "reject own registration with its secret", err, codes.Unauthenticated, "")
		for _, verb := range []string{"approve", "reject", "checkIn"} {
			if r := s.send(t, "", own.GetManageSecret(), "POST", "/v1/"+own.GetName()+":"+verb, map[string]any{}, nil); r.Code != http.StatusUnauthorized {
				t.Errorf("%s own registration with its secret: HTTP %d %s, want 401", verb, r.Code, r.Raw)
			}
		}
		// Nor does the secret lift a focal point of another country.
		_, err = gt.ApproveRegistration(sctx, &registrationsv1.ApproveRegistrationRequest{Name: own.GetName()})
		secWantCode(t, "GT approving with the registrant's secret", err, codes.PermissionDenied, "PERMISSION_DENIED")
		if s.regEtag(t, own.GetName()) != etag {
			t.Errorf("%s changed by its registrant's decisions", own.GetName())
		}
	})
}

// exportRows runs ExportRegistrations over gRPC and returns the CSV rows
// as maps from the header's columns (row 0 is the header itself).
func (s *secSystem) exportRows(t *testing.T, client registrationsv1.RegistrationServiceClient, parent, filter string) []map[string]string {
	t.Helper()
	stream, err := client.ExportRegistrations(secCtx(t), &registrationsv1.ExportRegistrationsRequest{Parent: parent, Filter: filter})
	if err != nil {
		t.Fatalf("export %s: %v", parent, err)
	}
	var buf bytes.Buffer
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("export %s with %q: %v", parent, filter, err)
		}
		buf.Write(chunk.GetData())
	}
	return secCSV(t, buf.String())
}

// secCSV parses a CSV export into maps from the header's columns (row 0 is
// the header itself).
func secCSV(t *testing.T, text string) []map[string]string {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(records) == 0 {
		t.Fatalf("export: not CSV with a header (%v): %q", err, text)
	}
	var rows []map[string]string
	for _, rec := range records {
		row := map[string]string{}
		for i, col := range records[0] {
			if i < len(rec) {
				row[col] = rec[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// sendAll is a GET through the gateway that reads the whole body.
func (s *secSystem) sendAll(t *testing.T, token, method, path string) string {
	t.Helper()
	req, err := http.NewRequest(method, s.httpURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d %s", method, path, resp.StatusCode, b)
	}
	return string(b)
}

// secPersonalKeys are JSON keys that must never be in a public answer.
var secPersonalKeys = []string{"participant", "email", "givenName", "familyName", "phone", "onlineMeetingUrl"}

// secLeaks returns what of a JSON document a non-organizer must not see: the
// personal keys, and any key whose value is "" (a hidden field must be
// absent, not empty).
func secLeaks(raw string, extra ...string) []string {
	var doc any
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	forbidden := append(append([]string{}, secPersonalKeys...), extra...)
	var out []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := path + "." + k
				for _, f := range forbidden {
					if k == f {
						out = append(out, p)
					}
				}
				if x == "" {
					out = append(out, p+` = ""`)
				}
				walk(p, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	walk("", doc)
	return out
}

// testPersonalData: nothing personal, and no meeting link, in what the
// public (or a focal point, or a registrant) reads of events and stats; the
// meeting link only for a confirmed registrant's own registration.
func (s *secSystem) testPersonalData(t *testing.T) {
	s.event(t, "sec-small", true, &eventsv1.RegistrationPolicy{Capacity: 1, WaitlistEnabled: true, DelegatesPerCountry: 2})
	cancelled := s.event(t, "sec-cancelled", true, nil)
	if _, err := s.org.CancelEvent(secCtx(t), &eventsv1.CancelEventRequest{Name: cancelled.GetName(), Reason: "storm"}); err != nil {
		t.Fatal(err)
	}
	s.draft(t)
	someone := s.register(t, secEvent, "MX")
	s.register(t, secEvent, "GT")

	// A confirmed and a waitlisted registrant, registering themselves.
	first := s.send(t, "", "", "POST", "/v1/events/sec-small/registrations", registrationJSON("First", "first@example.org", "MX"), nil)
	second := s.send(t, "", "", "POST", "/v1/events/sec-small/registrations", registrationJSON("Second", "second@example.org", "MX"), nil)
	var firstReg, secondReg map[string]any
	json.Unmarshal([]byte(first.Raw), &firstReg)
	json.Unmarshal([]byte(second.Raw), &secondReg)
	if firstReg["state"] != "REGISTRATION_STATE_CONFIRMED" || secondReg["state"] != "REGISTRATION_STATE_WAITLISTED" {
		t.Fatalf("registrations for one seat: %s / %s", first.Raw, second.Raw)
	}

	readers := []struct {
		name, token, secret string
	}{
		{"public", "", ""},
		{"registrant", "", someone.GetManageSecret()},
		{"focal point MX", mxToken, ""},
		{"focal point GT", gtToken, ""},
	}
	for _, rd := range readers {
		var names []string
		token := ""
		for page := 0; page < 20; page++ {
			r := s.send(t, rd.token, rd.secret, "GET", "/v1/events?pageSize=2&pageToken="+url.QueryEscape(token), nil, nil)
			if r.Code != http.StatusOK {
				t.Fatalf("list events as %s: %d %s", rd.name, r.Code, r.Raw)
			}
			if l := secLeaks(r.Raw); len(l) > 0 {
				t.Errorf("list events as %s shows %v", rd.name, l)
			}
			var body struct {
				Events []struct {
					Name string `json:"name"`
				} `json:"events"`
				NextPageToken string `json:"nextPageToken"`
			}
			json.Unmarshal([]byte(r.Raw), &body)
			for _, e := range body.Events {
				names = append(names, e.Name)
			}
			if token = body.NextPageToken; token == "" {
				break
			}
		}
		if len(names) < 3 {
			t.Fatalf("list events as %s: %v, want the published and cancelled ones", rd.name, names)
		}
		for _, name := range names {
			r := s.send(t, rd.token, rd.secret, "GET", "/v1/"+name, nil, nil)
			if r.Code != http.StatusOK {
				t.Errorf("GET %s as %s: %d %s", name, rd.name, r.Code, r.Raw)
			}
			if l := secLeaks(r.Raw); len(l) > 0 {
				t.Errorf("GET %s as %s shows %v", name, rd.name, l)
			}
			r = s.send(t, rd.token, rd.secret, "GET", "/v1/"+name+"/registrationStats", nil, nil)
			if r.Code != http.StatusOK {
				t.Errorf("GET %s stats as %s: %d %s", name, rd.name, r.Code, r.Raw)
			}
			if l := secLeaks(r.Raw, "states"); len(l) > 0 {
				t.Errorf("GET %s stats as %s shows %v: %s", name, rd.name, l, r.Raw)
			}
		}
		// Over gRPC the same.
		ev, err := s.eventsAs[rd.token].GetEvent(withSecret(secCtx(t), rd.secret), &eventsv1.GetEventRequest{Name: secEvent})
		if err != nil || ev.GetOnlineMeetingUrl() != "" {
			t.Errorf("GetEvent over gRPC as %s: meeting link %q, %v", rd.name, ev.GetOnlineMeetingUrl(), err)
		}
		st, err := s.regsAs[rd.token].GetRegistrationStats(withSecret(secCtx(t), rd.secret), &registrationsv1.GetRegistrationStatsRequest{Name: secEvent + "/registrationStats"})
		if err != nil || len(st.GetStates()) != 0 {
			t.Errorf("stats over gRPC as %s: %v, %v; want no per-state counts", rd.name, st, err)
		}
	}
	// The organizer does see the breakdowns and the link: the checks above
	// look at something that is there.
	if st, err := s.orgRegs.GetRegistrationStats(secCtx(t), &registrationsv1.GetRegistrationStatsRequest{Name: secEvent + "/registrationStats"}); err != nil || len(st.GetStates()) == 0 {
		t.Errorf("stats as organizer: %v, %v; want per-state counts", st, err)
	}
	if r := s.send(t, organizerToken, "", "GET", "/v1/"+secEvent, nil, nil); !strings.Contains(r.Raw, secMeetingURL) {
		t.Errorf("GET %s as organizer: %s, want the meeting link", secEvent, r.Raw)
	}

	// The meeting link: for the confirmed registrant, not the waitlisted one.
	get := func(reg map[string]any, token string) map[string]any {
		t.Helper()
		secret, _ := reg["manageSecret"].(string)
		if token != "" {
			secret = ""
		}
		r := s.send(t, token, secret, "GET", "/v1/"+reg["name"].(string), nil, nil)
		var out map[string]any
		if err := json.Unmarshal([]byte(r.Raw), &out); r.Code != http.StatusOK || err != nil {
			t.Fatalf("GET %s: %d %s", reg["name"], r.Code, r.Raw)
		}
		return out
	}
	if got := get(firstReg, ""); got["onlineMeetingUrl"] != secMeetingURL {
		t.Errorf("confirmed registrant reading their registration: onlineMeetingUrl = %v, want %s", got["onlineMeetingUrl"], secMeetingURL)
	}
	if got := get(secondReg, ""); got["onlineMeetingUrl"] != nil {
		t.Errorf("waitlisted registrant reading their registration: onlineMeetingUrl = %v, want none", got["onlineMeetingUrl"])
	}
	if _, has := secondReg["onlineMeetingUrl"]; has {
		t.Errorf("waitlisted registration's create answer has the meeting link: %s", second.Raw)
	}
	if got := get(firstReg, mxToken); got["onlineMeetingUrl"] != nil {
		t.Errorf("focal point reading a confirmed registration: onlineMeetingUrl = %v, want none (organizers and the participant only)", got["onlineMeetingUrl"])
	}
	for _, key := range []string{"manageSecret"} {
		if got := get(firstReg, ""); got[key] != nil {
			t.Errorf("reading a registration returns %s = %v; it is returned once, at creation", key, got[key])
		}
	}
}

// secJSON decodes an HTTP answer's body.
func secJSON(t *testing.T, what string, r secResult, code int) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(r.Raw), &out); r.Code != code || err != nil {
		t.Fatalf("%s: HTTP %d %s, want %d with a JSON body", what, r.Code, r.Raw, code)
	}
	return out
}

// testMassAssignment: the fields only the server sets cannot be set by a
// client, through the gateway or over gRPC.
func (s *secSystem) testMassAssignment(t *testing.T) {
	const forged = "2001-01-01T00:00:00Z"
	serverOwned := map[string]any{
		"state": "EVENT_STATE_PUBLISHED", "createTime": forged, "updateTime": forged, "publishTime": forged,
		"etag": "forged-etag", "revision": "99", "cancelReason": "forged",
	}

	t.Run("CreateEvent", func(t *testing.T) {
		for _, path := range []string{"/v1/events?eventId=sec-mass", "/v1/events"} {
			body := eventJSON("Mass assignment", time.Now().Add(96*time.Hour).UTC().Truncate(time.Second), 0)
			body["onlineMeetingUrl"] = secMeetingURL
			for k, v := range serverOwned {
				body[k] = v
			}
			body["name"] = "events/sec-hijacked"
			r := s.send(t, organizerToken, "", "POST", path, body, nil)
			if r.Code == http.StatusBadRequest {
				continue // refusing the request is as good as ignoring the fields
			}
			created := secJSON(t, "create an event with server-owned fields", r, http.StatusOK)
			name, _ := created["name"].(string)
			if name == "events/sec-hijacked" || (strings.Contains(path, "eventId") && name != "events/sec-mass") {
				t.Errorf("POST %s: created %s; the name comes from eventId or the server", path, name)
			}
			got := secJSON(t, "read back", s.send(t, organizerToken, "", "GET", "/v1/"+name, nil, nil), http.StatusOK)
			for _, ans := range []map[string]any{created, got} {
				if ans["state"] != "EVENT_STATE_DRAFT" || ans["revision"] != "1" || ans["etag"] == "forged-etag" ||
					ans["createTime"] == forged || ans["updateTime"] == forged || ans["publishTime"] != nil || ans["cancelReason"] != nil {
					t.Errorf("POST %s stored server-owned fields: %v", path, ans)
				}
			}
		}
		if r := s.send(t, organizerToken, "", "GET", "/v1/events/sec-hijacked", nil, nil); r.Code != http.StatusNotFound {
			t.Errorf("an event named in the body was created: %d %s", r.Code, r.Raw)
		}
	})

	t.Run("UpdateEvent", func(t *testing.T) {
		name := s.draft(t)
		before := s.eventEtag(t, name)
		// The gateway turns the body's fields into the update mask: a
		// server-owned field in the body is a mask naming it.
		for k, v := range serverOwned {
			if k == "etag" {
				continue // etag makes the update conditional (see README)
			}
			r := s.send(t, organizerToken, "", "PATCH", "/v1/"+name, map[string]any{"summary": "x", k: v}, nil)
			if r.Code != http.StatusBadRequest {
				t.Errorf("PATCH with %s: HTTP %d %s, want 400", k, r.Code, r.Raw)
			}
		}
		for _, mask := range []string{"state", "create_time", "revision", "name", "publish_time", "cancel_reason", "update_time", "state,summary"} {
			r := s.send(t, organizerToken, "", "PATCH", "/v1/"+name+"?updateMask="+mask, map[string]any{"state": "EVENT_STATE_PUBLISHED", "summary": "x"}, nil)
			if r.Code != http.StatusBadRequest {
				t.Errorf("PATCH with updateMask=%s: HTTP %d %s, want 400", mask, r.Code, r.Raw)
			}
		}
		_, err := s.org.UpdateEvent(secCtx(t), &eventsv1.UpdateEventRequest{
			Event:      &eventsv1.Event{Name: name, State: eventsv1.EventState_EVENT_STATE_PUBLISHED},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}},
		})
		secWantCode(t, "UpdateEvent with update_mask state", err, codes.InvalidArgument, "")
		if s.eventEtag(t, name) != before {
			t.Errorf("refused updates changed %s", name)
		}

		// Without a mask (or with "*"), only the writable fields are written.
		old, _ := s.org.GetEvent(secCtx(t), &eventsv1.GetEventRequest{Name: name})
		for _, mask := range [][]string{nil, {"*"}} {
			req := &eventsv1.UpdateEventRequest{Event: &eventsv1.Event{
				Name: name, Title: old.GetTitle(), StartTime: old.GetStartTime(), EndTime: old.GetEndTime(), Summary: "Updated.",
				State: eventsv1.EventState_EVENT_STATE_PUBLISHED, CreateTime: timestamppb.New(time.Unix(0, 0)),
				UpdateTime: timestamppb.New(time.Unix(0, 0)), PublishTime: timestamppb.New(time.Unix(0, 0)),
				CancelReason: "forged", Revision: 99,
			}}
			if mask != nil {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: mask}
			}
			got, err := s.org.UpdateEvent(secCtx(t), req)
			if err != nil {
				t.Fatalf("UpdateEvent with mask %v: %v", mask, err)
			}
			stored, _ := s.org.GetEvent(secCtx(t), &eventsv1.GetEventRequest{Name: name})
			for _, ev := range []*eventsv1.Event{got, stored} {
				if ev.GetState() != eventsv1.EventState_EVENT_STATE_DRAFT || ev.GetRevision() > old.GetRevision()+2 ||
					!ev.GetCreateTime().AsTime().Equal(old.GetCreateTime().AsTime()) || ev.GetPublishTime() != nil ||
					ev.GetCancelReason() != "" || ev.GetUpdateTime().AsTime().Before(old.GetUpdateTime().AsTime()) {
					t.Errorf("UpdateEvent with mask %v stored server-owned fields: %v", mask, ev)
				}
			}
		}
	})

	t.Run("CreateRegistration", func(t *testing.T) {
		body := registrationJSON("Mass", "mass@example.org", "MX")
		fake := secEvent + "/registrations/forged0"
		for k, v := range map[string]any{
			"name": fake, "state": "REGISTRATION_STATE_CONFIRMED", "stateReason": "forged",
			"checkInTime": forged, "createTime": forged, "updateTime": forged, "etag": "forged-etag",
			"manageSecret": "forged-secret", "onlineMeetingUrl": "https://phish.example.net/login",
		} {
			body[k] = v
		}
		r := s.send(t, "", "", "POST", "/v1/"+secEvent+"/registrations", body, nil)
		if r.Code == http.StatusBadRequest {
			return // refusing is as good as ignoring
		}
		created := secJSON(t, "register with server-owned fields", r, http.StatusOK)
		name, _ := created["name"].(string)
		if name == fake || created["state"] != "REGISTRATION_STATE_PENDING_APPROVAL" || created["manageSecret"] == "forged-secret" {
			t.Fatalf("the create answer took server-owned fields: %s", r.Raw)
		}
		check := func(who string, got map[string]any) {
			t.Helper()
			for k, bad := range map[string]any{
				"state": "REGISTRATION_STATE_CONFIRMED", "createTime": forged, "updateTime": forged, "etag": "forged-etag",
			} {
				if got[k] == bad {
					t.Errorf("as %s, the stored registration has the client's %s = %v", who, k, bad)
				}
			}
			// A new pending registration has none of these; a client's
			// onlineMeetingUrl shown to an organizer or focal point would be
			// a phishing link the service seems to vouch for.
			for _, k := range []string{"stateReason", "checkInTime", "manageSecret", "onlineMeetingUrl"} {
				if v, has := got[k]; has {
					t.Errorf("as %s, the stored registration has the client's %s = %v", who, k, v)
				}
			}
		}
		check("organizer", secJSON(t, "read back", s.send(t, organizerToken, "", "GET", "/v1/"+name, nil, nil), http.StatusOK))
		check("focal point MX", secJSON(t, "read back", s.send(t, mxToken, "", "GET", "/v1/"+name, nil, nil), http.StatusOK))
		check("registrant", secJSON(t, "read back", s.send(t, "", created["manageSecret"].(string), "GET", "/v1/"+name, nil, nil), http.StatusOK))
		if r := s.send(t, "", "", "GET", "/v1/"+fake, nil, nil); r.Code == http.StatusOK {
			t.Errorf("a registration named by the client exists: %s", r.Raw)
		}
		if r := s.send(t, "", "forged-secret", "GET", "/v1/"+name, nil, nil); r.Code != http.StatusForbidden {
			t.Errorf("the client's own manageSecret opens the registration: HTTP %d %s", r.Code, r.Raw)
		}
	})
}

// testDrafts: a draft does not exist for anyone but organizers (and the
// registrations service): not to get, not in lists, not through its stats.
func (s *secSystem) testDrafts(t *testing.T) {
	ev := s.event(t, "sec-secret-draft", false, &eventsv1.RegistrationPolicy{Capacity: 40, DelegatesPerCountry: 3})
	name := ev.GetName()
	filters := []string{"", "state = DRAFT", `"sec-secret-draft"`, "state != PUBLISHED"}
	for _, c := range secCallers {
		if c.token == organizerToken || c.token == serviceToken || c.token == secBadToken {
			continue
		}
		secret := ""
		if c.registrant {
			secret = s.register(t, secEvent, "MX").GetManageSecret()
		}
		if r := s.send(t, c.token, secret, "GET", "/v1/"+name, nil, nil); r.Code != http.StatusNotFound {
			t.Errorf("GET draft as %s: HTTP %d %s, want 404", c.name, r.Code, r.Raw)
		}
		_, err := s.eventsAs[c.token].GetEvent(withSecret(secCtx(t), secret), &eventsv1.GetEventRequest{Name: name})
		secWantCode(t, "GetEvent of a draft as "+c.name, err, codes.NotFound, "EVENT_NOT_FOUND")
		for _, f := range filters {
			req := &eventsv1.ListEventsRequest{Filter: f, PageSize: 100}
			for page := 0; page < 20; page++ {
				resp, err := s.eventsAs[c.token].ListEvents(withSecret(secCtx(t), secret), req)
				if err != nil {
					t.Fatalf("ListEvents %q as %s: %v", f, c.name, err)
				}
				for _, e := range resp.GetEvents() {
					if e.GetState() == eventsv1.EventState_EVENT_STATE_DRAFT || e.GetName() == name {
						t.Errorf("ListEvents %q as %s shows the draft %s", f, c.name, e.GetName())
					}
				}
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					break
				}
			}
			r := s.send(t, c.token, secret, "GET", "/v1/events?pageSize=100&filter="+url.QueryEscape(f), nil, nil)
			if r.Code != http.StatusOK || strings.Contains(r.Raw, name) || strings.Contains(r.Raw, "EVENT_STATE_DRAFT") {
				t.Errorf("GET /v1/events?filter=%s as %s: HTTP %d, shows the draft: %s", f, c.name, r.Code, r.Raw)
			}
		}
		// Registering for it must not tell a draft from an event that does
		// not exist.
		r := s.send(t, c.token, secret, "POST", "/v1/"+name+"/registrations", registrationJSON("Draft", fmt.Sprintf("draft%d@example.org", s.next()), "MX"), nil)
		missing := s.send(t, c.token, secret, "POST", "/v1/events/sec-no-such-event/registrations", registrationJSON("Draft", fmt.Sprintf("draft%d@example.org", s.next()), "MX"), nil)
		if r.Code != missing.Code {
			t.Errorf("registering for a draft as %s: HTTP %d %s; for an event that does not exist: HTTP %d; the difference tells that the draft exists", c.name, r.Code, r.Raw, missing.Code)
		}
		// The draft's stats would tell that it exists, and its capacity.
		if r := s.send(t, c.token, secret, "GET", "/v1/"+name+"/registrationStats", nil, nil); r.Code != http.StatusNotFound {
			t.Errorf("GET the stats of a draft as %s: HTTP %d %s, want 404 as for the draft itself", c.name, r.Code, r.Raw)
		}
	}
	// The organizer sees it.
	if r := s.send(t, organizerToken, "", "GET", "/v1/"+name, nil, nil); r.Code != http.StatusOK {
		t.Errorf("GET draft as organizer: HTTP %d %s", r.Code, r.Raw)
	}
}

// testBodyLimit: a body over the gateway's 1 MiB is refused before it
// reaches a service, with or without a Content-Length.
func (s *secSystem) testBodyLimit(t *testing.T) {
	big := strings.Repeat("a", 1<<20+1)
	eventsBefore := s.send(t, organizerToken, "", "GET", "/v1/events?pageSize=1&filter="+url.QueryEscape("state = DRAFT"), nil, nil).Raw
	regsBefore := s.registrationCount(t, secEvent)

	// With a Content-Length.
	ev := eventJSON("Too big", time.Now().Add(96*time.Hour), 0)
	ev["summary"] = big
	r := s.send(t, organizerToken, "", "POST", "/v1/events?eventId=sec-too-big", ev, nil)
	if code, isStatus := r.rpcCode(); r.Code != http.StatusRequestEntityTooLarge || !isStatus || code == codes.OK {
		t.Errorf("POST an event of over 1 MiB: HTTP %d %.300s, want 413 with a JSON google.rpc.Status", r.Code, r.Raw)
	}
	reg := registrationJSON("Big", "big@example.org", "MX")
	reg["accessibilityNeeds"] = big
	r = s.send(t, "", "", "POST", "/v1/"+secEvent+"/registrations", reg, nil)
	if code, isStatus := r.rpcCode(); r.Code != http.StatusRequestEntityTooLarge || !isStatus || code == codes.OK {
		t.Errorf("POST a registration of over 1 MiB: HTTP %d %.300s, want 413 with a JSON google.rpc.Status", r.Code, r.Raw)
	}

	// Chunked: the gateway learns the size only while reading.
	chunked := io.MultiReader(strings.NewReader(`{"title": "Too big", "summary": "`), strings.NewReader(big+big), strings.NewReader(`"}`))
	r = s.send(t, organizerToken, "", "POST", "/v1/events?eventId=sec-too-big-chunked", chunked, nil)
	if code, isStatus := r.rpcCode(); (r.Code != http.StatusRequestEntityTooLarge && r.Code != http.StatusBadRequest) || !isStatus || code == codes.OK {
		t.Errorf("POST a chunked event of over 1 MiB: HTTP %d %.300s, want 413 or 400 with a JSON google.rpc.Status", r.Code, r.Raw)
	}
	chunked = io.MultiReader(strings.NewReader(`{"participant": {"givenName": "Big", "familyName": "Body", "email": "bigchunk@example.org", "countryCode": "MX"}, "category": "PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE", "accessibilityNeeds": "`), strings.NewReader(big+big), strings.NewReader(`"}`))
	r = s.send(t, "", "", "POST", "/v1/"+secEvent+"/registrations", chunked, nil)
	if code, isStatus := r.rpcCode(); (r.Code != http.StatusRequestEntityTooLarge && r.Code != http.StatusBadRequest) || !isStatus || code == codes.OK {
		t.Errorf("POST a chunked registration of over 1 MiB: HTTP %d %.300s, want 413 or 400 with a JSON google.rpc.Status", r.Code, r.Raw)
	}

	for _, id := range []string{"sec-too-big", "sec-too-big-chunked"} {
		if s.eventEtag(t, "events/"+id) != "" {
			t.Errorf("events/%s was created from a body over the limit", id)
		}
	}
	if after := s.send(t, organizerToken, "", "GET", "/v1/events?pageSize=1&filter="+url.QueryEscape("state = DRAFT"), nil, nil).Raw; after != eventsBefore {
		t.Errorf("bodies over the limit changed the events:\nbefore %s\nafter  %s", eventsBefore, after)
	}
	if after := s.registrationCount(t, secEvent); after != regsBefore {
		t.Errorf("bodies over the limit wrote registrations: %d, want %d", after, regsBefore)
	}
}

// testMethodOverride: no header turns a request into another method.
func (s *secSystem) testMethodOverride(t *testing.T) {
	name := s.draft(t)
	etag := s.eventEtag(t, name)
	for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
		r := s.send(t, organizerToken, "", "GET", "/v1/"+name, nil, map[string]string{h: "DELETE"})
		if r.Code != http.StatusOK {
			t.Errorf("GET %s with %s: DELETE: HTTP %d %s, want the GET's 200", name, h, r.Code, r.Raw)
		}
		s.send(t, organizerToken, "", "POST", "/v1/"+name, map[string]any{}, map[string]string{h: "DELETE"})
		s.send(t, organizerToken, "", "POST", "/v1/"+name, map[string]any{"summary": "overridden"}, map[string]string{h: "PATCH"})
		if got := s.eventEtag(t, name); got != etag {
			t.Fatalf("%s changed the event (etag %q, was %q)", h, got, etag)
		}
	}
}

// TestSecurityRateLimit: public registrations (no Authorization header)
// are limited per client address; registrations with a token are not.
func TestSecurityRateLimit(t *testing.T) {
	sys := startSystemWith(t, nil, []string{"-rate-limit", "1", "-rate-burst", "3"})
	s := &secSystem{system: sys}
	sys.publishedEvent(t, "sec-rate", map[string]any{})
	waitEventsReachable(t, registrationsv1.NewRegistrationServiceClient(sys.registrationsConn), "events/sec-rate")
	const path = "/v1/events/sec-rate/registrations"

	start := time.Now()
	var created, limited int
	for i := range 8 {
		r := s.send(t, "", "", "POST", path, registrationJSON("Rate", fmt.Sprintf("rate%d@example.org", i), "MX"), nil)
		switch r.Code {
		case http.StatusOK:
			created++
		case http.StatusTooManyRequests:
			limited++
			if code, isStatus := r.rpcCode(); !isStatus || code != codes.ResourceExhausted {
				t.Errorf("429 body %s, want a JSON google.rpc.Status with code 8 (RESOURCE_EXHAUSTED)", r.Raw)
			}
		default:
			t.Errorf("public registration %d: HTTP %d %s", i, r.Code, r.Raw)
		}
	}
	// The burst, and at most one more per second that passed.
	if most := 3 + int(time.Since(start).Seconds()) + 1; limited == 0 || created > most {
		t.Errorf("8 quick public registrations: %d created, %d refused with 429; want at most %d created", created, limited, most)
	}
	// Another address in X-Forwarded-For is not another client.
	r := s.send(t, "", "", "POST", path, registrationJSON("Rate", "forwarded@example.org", "MX"), map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"})
	if r.Code == http.StatusOK {
		created++
		t.Logf("a registration with X-Forwarded-For went through (HTTP 200): the bucket may have refilled")
	}
	// A made-up token skips the limiter but gets nowhere.
	if r := s.send(t, secBadToken, "", "POST", path, registrationJSON("Rate", "badtoken@example.org", "MX"), nil); r.Code != http.StatusUnauthorized {
		t.Errorf("registration with an unknown token: HTTP %d %s, want 401", r.Code, r.Raw)
	}
	// The organizer is not limited.
	for i := range 8 {
		r := s.send(t, organizerToken, "", "POST", path, registrationJSON("Org", fmt.Sprintf("org%d@example.org", i), "MX"), nil)
		if r.Code != http.StatusOK {
			t.Errorf("organizer registration %d: HTTP %d %s, want 200", i, r.Code, r.Raw)
		}
		created++
	}
	// Refused requests wrote nothing.
	list := s.send(t, organizerToken, "", "GET", path+"?pageSize=1", nil, nil)
	var body struct {
		TotalSize int `json:"totalSize"`
	}
	if err := json.Unmarshal([]byte(list.Raw), &body); err != nil || body.TotalSize != created {
		t.Errorf("%d registrations stored, want the %d answered 200 (%s)", body.TotalSize, created, list.Raw)
	}
}
