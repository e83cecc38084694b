package service_test

import (
	"context"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/paging"
)

// fuzzCtx bounds one call: a hang is a finding too.
func fuzzCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// FuzzListEventsArgs: whatever the filter, order, page size and token,
// ListEvents answers or refuses with INVALID_ARGUMENT (a panic would be
// INTERNAL from the recovery interceptor), for organizers and the public.
func FuzzListEventsArgs(f *testing.F) {
	e := newEnv(f)
	ctx := context.Background()
	// Some events to filter and page: published, draft, cancelled.
	for i, id := range []string{"fz-a", "fz-b", "fz-c", "fz-d"} {
		ev := fullEvent()
		ev.Title = []string{"Taller regional", "Workshop on labour", "Ñandú forum", "Webinar"}[i]
		if _, err := e.client.CreateEvent(ctx, &eventsv1.CreateEventRequest{EventId: id, Event: ev}); err != nil {
			f.Fatal(err)
		}
		if i > 0 {
			if _, err := e.client.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/" + id}); err != nil {
				f.Fatal(err)
			}
		}
	}
	if _, err := e.client.CancelEvent(ctx, &eventsv1.CancelEventRequest{Name: "events/fz-d"}); err != nil {
		f.Fatal(err)
	}
	page, err := e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: 1, OrderBy: "title"})
	if err != nil {
		f.Fatal(err)
	}

	for _, s := range []struct {
		filter, orderBy string
		size            int32
		token           string
	}{
		{"", "", 0, ""},
		{"", "title", 1, page.GetNextPageToken()},
		{"", "start_time desc", 1, page.GetNextPageToken()}, // a token of another order
		{`kind = WORKSHOP AND start_time >= "2020-01-01T00:00:00Z" AND "labour"`, "start_time", 2, ""},
		{"state != DRAFT AND attendance_mode = HYBRID AND location.country_code = cr", "title desc", 100, ""},
		{`topics = "labor migration"`, "title asc", 101, ""},
		{`end_time < "2025-03-11T23:00:00.5+01:00"`, "", 5, ""},
		{"colour = red", "", 0, ""},
		{"kind = = WORKSHOP", "", 0, ""},
		{`"unterminated`, "", 0, ""},
		{"state = DRAFT OR kind = FORUM", "", 0, ""},
		{"kind = NOPE", "title sideways", -1, "!!!"},
		{"", "start_time desc extra", 0, ""},
		{"", "", 0, paging.Encode("\x00start_time desc", "\x00")},
		{"", "", 0, paging.Encode("\x00start_time desc", "\xff\xfe")},
		{"(((", ")))", 2147483647, "eyJhIjoieCIsInEiOiJ5In0"},
		{"ñandú", "", -2147483648, ""},
	} {
		f.Add(s.filter, s.orderBy, s.size, s.token)
	}

	f.Fuzz(func(t *testing.T, filter, orderBy string, pageSize int32, pageToken string) {
		if !utf8.ValidString(filter) || !utf8.ValidString(orderBy) || !utf8.ValidString(pageToken) {
			t.Skip("a protobuf string is UTF-8: the client cannot send this")
		}
		req := &eventsv1.ListEventsRequest{Filter: filter, OrderBy: orderBy, PageSize: pageSize, PageToken: pageToken}
		for who, client := range map[string]eventsv1.EventServiceClient{"organizer": e.client, "public": e.public} {
			resp, err := client.ListEvents(fuzzCtx(t), req)
			switch status.Code(err) {
			case codes.OK:
				if n := len(resp.GetEvents()); n > paging.Max {
					t.Fatalf("ListEvents(%v) as %s: %d events, more than the maximum page of %d", req, who, n, paging.Max)
				}
				if who == "public" {
					for _, ev := range resp.GetEvents() {
						if ev.GetState() == eventsv1.EventState_EVENT_STATE_DRAFT || ev.GetOnlineMeetingUrl() != "" {
							t.Fatalf("ListEvents(%v) as the public shows %s (%v, link %q)", req, ev.GetName(), ev.GetState(), ev.GetOnlineMeetingUrl())
						}
					}
				}
			case codes.InvalidArgument:
			default:
				t.Fatalf("ListEvents(%v) as %s: %v; want OK or INVALID_ARGUMENT", req, who, err)
			}
		}
	})
}

// FuzzCreateEventJSON: a CreateEventRequest decoded from any JSON is
// created, refused as invalid, or refused as existing — nothing else — and a
// refused one writes nothing. What is created can be written back as JSON
// (one event that cannot would break every JSON list it is in).
func FuzzCreateEventJSON(f *testing.F) {
	e := newEnv(f)
	good, err := protojson.Marshal(&eventsv1.CreateEventRequest{EventId: "fz-full", Event: fullEvent()})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(good),
		`{}`,
		`{"event": {}}`,
		`{"event": {"title": "Minimal"}}`,
		`{"eventId": "fz-min", "requestId": "6f1c1f8e-6c1e-4c55-9d6b-0c8f2a7d9e01", "event": {"title": "With ids"}}`,
		`{"eventId": "fz-min", "event": {"title": "Again"}}`,
		`{"eventId": "Bad Id", "event": {"title": "x"}}`,
		`{"requestId": "not-a-uuid", "event": {"title": "x"}}`,
		`{"event": {"title": "   "}}`,
		`{"event": {"title": "x", "startTime": "2030-01-02T00:00:00Z", "endTime": "2030-01-01T00:00:00Z"}}`,
		`{"event": {"title": "x", "startTime": "0001-01-01T00:00:00Z", "endTime": "9999-12-31T23:59:59.999999999Z"}}`,
		`{"event": {"title": "x", "timeZone": "Local"}}`,
		`{"event": {"title": "x", "timeZone": "Mars/Olympus"}}`,
		`{"event": {"title": "x", "location": {"countryCode": "XX"}}}`,
		`{"event": {"title": "x", "onlineMeetingUrl": "javascript:alert(1)"}}`,
		`{"event": {"title": "x", "registrationPolicy": {"capacity": -1}}}`,
		`{"event": {"title": "x", "registrationPolicy": {"capacity": 5, "inPersonCapacity": 6}}}`,
		`{"event": {"title": "x", "registrationPolicy": {"opensTime": "2030-01-02T00:00:00Z", "closesTime": "2030-01-01T00:00:00Z"}}}`,
		`{"event": {"title": "x", "startTime": "2030-01-01T00:00:00Z", "sessions": [{"title": "early", "startTime": "2029-01-01T00:00:00Z"}]}}`,
		`{"event": {"title": "x", "translations": {"": {"title": "empty key"}}}}`,
		`{"event": {"title": "x", "state": "EVENT_STATE_PUBLISHED", "revision": "7", "name": "events/forged", "etag": "x"}}`,
		`{"event": {"title": "x", "kind": 999, "attendanceMode": -1}}`,
		`{"event": {"title": "x", "topics": ["", "a"], "languages": ["EN"]}}`,
		`[1, 2]`,
		`{"event": {"title": "\u0000"}}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		req := &eventsv1.CreateEventRequest{}
		if err := protojson.Unmarshal(body, req); err != nil {
			t.Skip("not a CreateEventRequest")
		}
		ctx := fuzzCtx(t)
		idx, err := e.store.Index(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.client.CreateEvent(ctx, req)
		idx2, lerr := e.store.Index(ctx)
		if lerr != nil {
			t.Fatal(lerr)
		}
		before, after := idx.Sequence, idx2.Sequence
		switch status.Code(err) {
		case codes.OK:
			// Nothing in this service publishes, so a new event and a
			// replayed request alike are drafts.
			if got.GetState() != eventsv1.EventState_EVENT_STATE_DRAFT {
				t.Fatalf("CreateEvent(%s) returned a %v event", body, got.GetState())
			}
			if id := req.GetEventId(); after != before && id != "" && got.GetName() != "events/"+id {
				t.Fatalf("CreateEvent(%s) created %s, want events/%s", body, got.GetName(), id)
			}
			stored, err := e.client.GetEvent(ctx, &eventsv1.GetEventRequest{Name: got.GetName()})
			if err != nil || !proto.Equal(stored, got) {
				t.Fatalf("CreateEvent(%s) returned %v, but GetEvent = %v, %v", body, got, stored, err)
			}
			if _, err := protojson.Marshal(stored); err != nil {
				t.Fatalf("CreateEvent(%s) stored an event that cannot be written as JSON: %v", body, err)
			}
		case codes.InvalidArgument:
			if after != before {
				t.Fatalf("CreateEvent(%s) was refused as invalid (%v) but wrote changes %d..%d", body, err, before+1, after)
			}
		case codes.AlreadyExists:
			if after != before {
				t.Fatalf("CreateEvent(%s) was refused as existing (%v) but wrote changes %d..%d", body, err, before+1, after)
			}
		default:
			t.Fatalf("CreateEvent(%s): %v; want OK, INVALID_ARGUMENT or ALREADY_EXISTS", body, err)
		}
	})
}
