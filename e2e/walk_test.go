package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

func eventJSON(title string, start time.Time, capacity int) map[string]any {
	return map[string]any{
		"title":              title,
		"kind":               "EVENT_KIND_WORKSHOP",
		"attendanceMode":     "ATTENDANCE_MODE_IN_PERSON",
		"summary":            "A workshop on labor migration and fair recruitment.",
		"location":           map[string]any{"venue": "Hotel Real", "city": "Guatemala City", "countryCode": "GT"},
		"startTime":          start.Format(time.RFC3339),
		"endTime":            start.Add(8 * time.Hour).Format(time.RFC3339),
		"timeZone":           "America/Guatemala",
		"topics":             []string{"labor migration"},
		"registrationPolicy": map[string]any{"capacity": capacity},
	}
}

func registrationJSON(given, email, country string) map[string]any {
	return map[string]any{
		"participant": map[string]any{
			"givenName": given, "familyName": "Delegate", "email": email, "countryCode": country,
			"organization": "Ministry of Labour",
		},
		"category": "PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE",
	}
}

// TestWalkHTTP drives the whole life of an event and a registration through
// the gateway: create → publish → list (filter, two pages) → register → get →
// list registrations → cancel, and bad input that changes nothing.
func TestWalkHTTP(t *testing.T) {
	s := startSystem(t)
	start := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)

	// Create three events; the first twice with one request id.
	reqID := "6f1c1f8e-6c1e-4c55-9d6b-0c8f2a7d9e01"
	first := s.call(t, "POST", "/v1/events?eventId=labor-workshop&requestId="+reqID, eventJSON("Workshop on labor migration", start, 2))
	if first.Code != http.StatusOK {
		t.Fatalf("create: %d %s", first.Code, first.Raw)
	}
	if first.Body["name"] != "events/labor-workshop" || first.Body["state"] != "EVENT_STATE_DRAFT" || first.Body["etag"] == nil {
		t.Fatalf("create returned %s", first.Raw)
	}
	retry := s.call(t, "POST", "/v1/events?eventId=labor-workshop&requestId="+reqID, eventJSON("Workshop on labor migration", start, 2))
	if retry.Code != http.StatusOK || retry.Body["etag"] != first.Body["etag"] || retry.Body["createTime"] != first.Body["createTime"] {
		t.Fatalf("retried create = %d %s, want the first result %s", retry.Code, retry.Raw, first.Raw)
	}
	if dup := s.call(t, "POST", "/v1/events?eventId=labor-workshop", eventJSON("Again", start, 2)); dup.Code != http.StatusConflict {
		t.Errorf("same event id without request id = %d, want 409", dup.Code)
	}
	for i, title := range []string{"Webinar on remittances", "Forum on border management"} {
		r := s.call(t, "POST", fmt.Sprintf("/v1/events?eventId=other-%d", i), eventJSON(title, start.Add(time.Duration(i+1)*time.Hour), 0))
		if r.Code != http.StatusOK {
			t.Fatalf("create %s: %d %s", title, r.Code, r.Raw)
		}
	}

	// A draft takes no registrations.
	if r := s.call(t, "POST", "/v1/events/labor-workshop/registrations", registrationJSON("Ana", "ana@example.org", "MX")); r.Code != http.StatusBadRequest || r.reason() != "EVENT_NOT_PUBLISHED" {
		t.Errorf("register for a draft = %d %s, want 400 EVENT_NOT_PUBLISHED", r.Code, r.Raw)
	}

	for _, name := range []string{"labor-workshop", "other-0", "other-1"} {
		if r := s.call(t, "POST", "/v1/events/"+name+":publish", map[string]any{}); r.Code != http.StatusOK || r.Body["state"] != "EVENT_STATE_PUBLISHED" {
			t.Fatalf("publish %s: %d %s", name, r.Code, r.Raw)
		}
	}

	// List: a filter, then all three across two pages.
	f := url.QueryEscape(`kind = WORKSHOP AND start_time >= "` + start.Add(-time.Hour).Format(time.RFC3339) + `" AND "labor migration"`)
	r := s.call(t, "GET", "/v1/events?filter="+f, nil)
	if r.Code != http.StatusOK || r.Body["totalSize"] != float64(3) {
		t.Fatalf("filtered list: %d %s", r.Code, r.Raw)
	}
	r = s.call(t, "GET", "/v1/events?filter="+url.QueryEscape(`"remittances"`), nil)
	if evs, _ := r.Body["events"].([]any); len(evs) != 1 {
		t.Errorf("free-text list returned %s, want one event", r.Raw)
	}
	var names []string
	token := ""
	for page := 0; ; page++ {
		r := s.call(t, "GET", "/v1/events?pageSize=2&orderBy=start_time&pageToken="+url.QueryEscape(token), nil)
		if r.Code != http.StatusOK {
			t.Fatalf("list page %d: %d %s", page, r.Code, r.Raw)
		}
		evs, _ := r.Body["events"].([]any)
		for _, e := range evs {
			names = append(names, e.(map[string]any)["name"].(string))
		}
		token, _ = r.Body["nextPageToken"].(string)
		if token == "" {
			if page != 1 {
				t.Errorf("listing 3 events by 2 took %d pages, want 2", page+1)
			}
			break
		}
	}
	if want := []string{"events/labor-workshop", "events/other-0", "events/other-1"}; !slices.Equal(names, want) {
		t.Errorf("paged list = %v, want %v", names, want)
	}

	// Register, get, list, cancel.
	reg := s.call(t, "POST", "/v1/events/labor-workshop/registrations?requestId=2b0f7e1a-41f3-4c0e-9a55-1f9d0f3b2c11", registrationJSON("Ana", "ana@example.org", "MX"))
	if reg.Code != http.StatusOK || reg.Body["state"] != "REGISTRATION_STATE_CONFIRMED" {
		t.Fatalf("register: %d %s", reg.Code, reg.Raw)
	}
	regName := reg.Body["name"].(string)
	if got := s.call(t, "GET", "/v1/"+regName, nil); got.Code != http.StatusOK || got.Body["name"] != regName {
		t.Errorf("get registration: %d %s", got.Code, got.Raw)
	}
	if again := s.call(t, "POST", "/v1/events/labor-workshop/registrations?requestId=2b0f7e1a-41f3-4c0e-9a55-1f9d0f3b2c11", registrationJSON("Ana", "ana@example.org", "MX")); again.Body["name"] != regName {
		t.Errorf("retried registration = %s, want %s", again.Raw, regName)
	}
	if dup := s.call(t, "POST", "/v1/events/labor-workshop/registrations", registrationJSON("Ana", "ANA@Example.org", "MX")); dup.Code != http.StatusConflict {
		t.Errorf("same e-mail twice = %d %s, want 409", dup.Code, dup.Raw)
	}
	if r := s.call(t, "POST", "/v1/events/labor-workshop/registrations", registrationJSON("Luis", "luis@example.org", "GT")); r.Body["state"] != "REGISTRATION_STATE_CONFIRMED" {
		t.Fatalf("second registration: %s", r.Raw)
	}
	if full := s.call(t, "POST", "/v1/events/labor-workshop/registrations", registrationJSON("Eva", "eva@example.org", "HN")); full.Code != http.StatusBadRequest || full.reason() != "EVENT_FULL" {
		t.Errorf("third registration for capacity 2 = %d %s, want 400 EVENT_FULL", full.Code, full.Raw)
	}
	list := s.call(t, "GET", "/v1/events/labor-workshop/registrations?filter="+url.QueryEscape("participant.country_code = MX"), nil)
	if regs, _ := list.Body["registrations"].([]any); list.Code != http.StatusOK || len(regs) != 1 {
		t.Errorf("list registrations of MX: %d %s", list.Code, list.Raw)
	}
	cancel := s.call(t, "POST", "/v1/"+regName+":cancel", map[string]any{"reason": "travel not approved"})
	if cancel.Code != http.StatusOK || cancel.Body["state"] != "REGISTRATION_STATE_CANCELLED" {
		t.Fatalf("cancel: %d %s", cancel.Code, cancel.Raw)
	}
	if again := s.call(t, "POST", "/v1/"+regName+":cancel", map[string]any{}); again.Code != http.StatusBadRequest || again.reason() != "INVALID_STATE_TRANSITION" {
		t.Errorf("cancel twice = %d %s", again.Code, again.Raw)
	}

	// Bad input: the right code, and nothing written.
	before := s.call(t, "GET", "/v1/events/labor-workshop/registrations", nil).Raw
	bad := []struct {
		name, method, path string
		body               any
		code               int
		field              string
	}{
		{"malformed filter", "GET", "/v1/events?filter=" + url.QueryEscape("kind = = WORKSHOP"), nil, 400, "filter"},
		{"unknown filter field", "GET", "/v1/events?filter=" + url.QueryEscape("colour = red"), nil, 400, "filter"},
		{"negative page size", "GET", "/v1/events?pageSize=-1", nil, 400, "page_size"},
		{"invalid email", "POST", "/v1/events/labor-workshop/registrations", registrationJSON("Bad", "not-an-email", "MX"), 400, "registration.participant.email"},
		{"unknown country", "POST", "/v1/events/labor-workshop/registrations", registrationJSON("Bad", "bad@example.org", "XX"), 400, "registration.participant.country_code"},
		{"unknown event", "POST", "/v1/events/no-such-event/registrations", registrationJSON("Bad", "bad@example.org", "MX"), 404, ""},
		{"end before start", "POST", "/v1/events", map[string]any{"title": "x", "startTime": "2030-01-02T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}, 400, "event.end_time"},
		{"unknown JSON field", "POST", "/v1/events", `{"title": "x", "colour": "red"}`, 400, ""},
		{"not JSON", "POST", "/v1/events", `{"title": `, 400, ""},
		{"unknown path", "GET", "/v2/nothing", nil, 404, ""},
		{"wrong method", "PUT", "/v1/events", nil, 405, ""},
		{"get unknown event", "GET", "/v1/events/nope", nil, 404, ""},
	}
	for _, tt := range bad {
		r := s.call(t, tt.method, tt.path, tt.body)
		if r.Code != tt.code {
			t.Errorf("%s: HTTP %d %s, want %d", tt.name, r.Code, r.Raw, tt.code)
			continue
		}
		if _, ok := r.Body["code"]; !ok {
			t.Errorf("%s: body %q is not a JSON google.rpc.Status", tt.name, r.Raw)
		}
		if tt.field != "" && !slices.Contains(r.fieldViolations(), tt.field) {
			t.Errorf("%s: field violations %v, want %s", tt.name, r.fieldViolations(), tt.field)
		}
	}
	if after := s.call(t, "GET", "/v1/events/labor-workshop/registrations", nil).Raw; after != before {
		t.Errorf("bad input changed the registrations:\nbefore %s\nafter  %s", before, after)
	}
	if r := s.call(t, "GET", "/v1/events", nil); r.Body["totalSize"] != float64(3) {
		t.Errorf("bad input changed the events: %s", r.Raw)
	}
}

// TestWalkGRPC drives the same life cycle over gRPC, as internal systems do.
func TestWalkGRPC(t *testing.T) {
	s := startSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := eventsv1.NewEventServiceClient(s.eventsConn)
	regs := registrationsv1.NewRegistrationServiceClient(s.registrationsConn)
	start := time.Now().Add(10 * 24 * time.Hour).UTC()

	for i := range 3 {
		_, err := events.CreateEvent(ctx, &eventsv1.CreateEventRequest{
			EventId: fmt.Sprintf("meeting-%d", i),
			Event: &eventsv1.Event{
				Title:              fmt.Sprintf("Working Group meeting %d", i),
				Kind:               eventsv1.EventKind_EVENT_KIND_MEETING,
				AttendanceMode:     eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID,
				StartTime:          timestamppb.New(start.Add(time.Duration(i) * time.Hour)),
				EndTime:            timestamppb.New(start.Add(time.Duration(i+2) * time.Hour)),
				Location:           &eventsv1.Location{City: "Tegucigalpa", CountryCode: "HN"},
				RegistrationPolicy: &eventsv1.RegistrationPolicy{Capacity: 10, WaitlistEnabled: true},
			},
		})
		if err != nil {
			t.Fatalf("CreateEvent %d: %v", i, err)
		}
		if _, err := events.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: fmt.Sprintf("events/meeting-%d", i)}); err != nil {
			t.Fatalf("PublishEvent %d: %v", i, err)
		}
	}
	page1, err := events.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: 2, Filter: "kind = MEETING AND location.country_code = HN"})
	if err != nil || len(page1.GetEvents()) != 2 || page1.GetNextPageToken() == "" || page1.GetTotalSize() != 3 {
		t.Fatalf("ListEvents page 1 = %v, %v", page1, err)
	}
	page2, err := events.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: 2, Filter: "kind = MEETING AND location.country_code = HN", PageToken: page1.GetNextPageToken()})
	if err != nil || len(page2.GetEvents()) != 1 || page2.GetNextPageToken() != "" {
		t.Fatalf("ListEvents page 2 = %v, %v", page2, err)
	}
	// Newest first by default.
	if got := page1.GetEvents()[0].GetName(); got != "events/meeting-2" {
		t.Errorf("first event = %s, want events/meeting-2", got)
	}

	reg, err := regs.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
		Parent: "events/meeting-0",
		Registration: &registrationsv1.Registration{
			Participant:    &registrationsv1.Participant{GivenName: "Rosa", FamilyName: "Díaz", Email: "rosa@example.org", CountryCode: "CR"},
			Category:       eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
			AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL,
		},
	})
	if err != nil || reg.GetState() != registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED {
		t.Fatalf("CreateRegistration = %v, %v", reg, err)
	}
	got, err := regs.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: reg.GetName()})
	if err != nil || got.GetParticipant().GetEmail() != "rosa@example.org" || got.GetAttendanceMode() != eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL {
		t.Fatalf("GetRegistration = %v, %v", got, err)
	}
	list, err := regs.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/meeting-0", Filter: "state = CONFIRMED"})
	if err != nil || len(list.GetRegistrations()) != 1 {
		t.Fatalf("ListRegistrations = %v, %v", list, err)
	}
	cancelled, err := regs.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: reg.GetName(), Etag: reg.GetEtag()})
	if err != nil || cancelled.GetState() != registrationsv1.RegistrationState_REGISTRATION_STATE_CANCELLED {
		t.Fatalf("CancelRegistration = %v, %v", cancelled, err)
	}

	// Bad input over gRPC: codes, reasons and field violations.
	_, err = events.ListEvents(ctx, &eventsv1.ListEventsRequest{Filter: `start_time >= "yesterday"`})
	wantViolation(t, "bad time in filter", err, codes.InvalidArgument, "filter")
	_, err = events.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: -5})
	wantViolation(t, "negative page size", err, codes.InvalidArgument, "page_size")
	_, err = regs.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
		Parent: "events/meeting-0",
		Registration: &registrationsv1.Registration{
			Participant: &registrationsv1.Participant{GivenName: "X", FamilyName: "Y", Email: "x@", CountryCode: "CR"},
			Category:    eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		},
	})
	wantViolation(t, "invalid email", err, codes.InvalidArgument, "registration.participant.email")
	_, err = regs.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
		Parent: "events/unknown",
		Registration: &registrationsv1.Registration{
			Participant: &registrationsv1.Participant{GivenName: "X", FamilyName: "Y", Email: "x@example.org", CountryCode: "CR"},
			Category:    eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		},
	})
	if status.Code(err) != codes.NotFound || errorReason(err) != "EVENT_NOT_FOUND" {
		t.Errorf("unknown event: %v, want NOT_FOUND EVENT_NOT_FOUND", err)
	}
	list, err = regs.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/meeting-0"})
	if err != nil || len(list.GetRegistrations()) != 1 {
		t.Errorf("after bad input: %d registrations, %v; want 1", len(list.GetRegistrations()), err)
	}
}

func errorReason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

func wantViolation(t *testing.T, what string, err error, code codes.Code, field string) {
	t.Helper()
	if status.Code(err) != code {
		t.Errorf("%s: %v, want %s", what, err, code)
		return
	}
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Errorf("%s: %v has no field violation on %s", what, err, field)
}
