package service_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/etag"
)

var namePattern = regexp.MustCompile(`^events/[a-z0-9][a-z0-9-]{0,62}$`)

func TestCreateEvent(t *testing.T) {
	ctx := context.Background()

	t.Run("server-owned fields are ignored", func(t *testing.T) {
		e := newEnv(t)
		in := fullEvent()
		in.Name = "events/hijack"
		in.State = eventsv1.EventState_EVENT_STATE_CANCELLED
		in.CancelReason = "made up"
		in.CreateTime = ts("2000-01-01T00:00:00Z")
		in.UpdateTime = ts("2000-01-02T00:00:00Z")
		in.PublishTime = ts("2000-01-03T00:00:00Z")
		in.Etag = "not-an-etag"
		got := e.create(t, "labour-workshop", in)

		if got, want := got.GetName(), "events/labour-workshop"; got != want {
			t.Errorf("name = %q, want %q", got, want)
		}
		if got, want := got.GetState(), eventsv1.EventState_EVENT_STATE_DRAFT; got != want {
			t.Errorf("state = %v, want %v", got, want)
		}
		if got.GetCancelReason() != "" {
			t.Errorf("cancel_reason = %q, want empty", got.GetCancelReason())
		}
		if got, want := got.GetCreateTime().AsTime(), t0; !got.Equal(want) {
			t.Errorf("create_time = %v, want %v", got, want)
		}
		if got, want := got.GetUpdateTime().AsTime(), t0; !got.Equal(want) {
			t.Errorf("update_time = %v, want %v", got, want)
		}
		if got.GetPublishTime() != nil {
			t.Errorf("publish_time = %v, want unset", got.GetPublishTime())
		}
		if got.GetEtag() == "" || got.GetEtag() == in.GetEtag() || got.GetEtag() != etag.Of(got) {
			t.Errorf("etag = %q, want the event's own etag %q", got.GetEtag(), etag.Of(got))
		}
		if got, want := withoutServerFields(got), withoutServerFields(in); !proto.Equal(got, want) {
			t.Errorf("content = %v, want %v", got, want)
		}
		if stored := e.get(t, "events/labour-workshop"); !proto.Equal(stored, got) {
			t.Errorf("GetEvent = %v, want %v", stored, got)
		}
		_, err := e.client.GetEvent(ctx, &eventsv1.GetEventRequest{Name: "events/hijack"})
		wantCode(t, err, codes.NotFound, "EVENT_NOT_FOUND")
	})

	t.Run("minimal draft", func(t *testing.T) {
		e := newEnv(t)
		got := e.create(t, "", &eventsv1.Event{Title: "T"})
		if got.GetTitle() != "T" || got.GetState() != eventsv1.EventState_EVENT_STATE_DRAFT {
			t.Errorf("CreateEvent = %v, want a DRAFT titled T", got)
		}
	})

	t.Run("generated id", func(t *testing.T) {
		e := newEnv(t)
		a := e.create(t, "", fullEvent())
		b := e.create(t, "", fullEvent())
		for _, ev := range []*eventsv1.Event{a, b} {
			if !namePattern.MatchString(ev.GetName()) {
				t.Errorf("generated name %q does not match %s", ev.GetName(), namePattern)
			}
			if got := e.get(t, ev.GetName()); !proto.Equal(got, ev) {
				t.Errorf("GetEvent(%s) = %v, want %v", ev.GetName(), got, ev)
			}
		}
		if a.GetName() == b.GetName() {
			t.Errorf("two creates got the same name %q", a.GetName())
		}
	})

	t.Run("request_id retry returns the first event", func(t *testing.T) {
		e := newEnv(t)
		const rid = "5f0c3a9e-2b7d-4e61-9a4f-0d3c8b1e7a25"
		first, err := e.client.CreateEvent(ctx, &eventsv1.CreateEventRequest{Event: fullEvent(), EventId: "first", RequestId: rid})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		other := fullEvent()
		other.Title = "Something else"
		for _, id := range []string{"first", "second", ""} {
			again, err := e.client.CreateEvent(ctx, &eventsv1.CreateEventRequest{Event: other, EventId: id, RequestId: rid})
			if err != nil {
				t.Fatalf("retry with event_id %q: %v", id, err)
			}
			if !proto.Equal(again, first) {
				t.Errorf("retry with event_id %q = %v, want the first event %v", id, again, first)
			}
		}
		if got := e.snapshot(t); len(got) != 1 {
			t.Errorf("%d events stored, want 1", len(got))
		}
		// Another request id is another event.
		if _, err := e.client.CreateEvent(ctx, &eventsv1.CreateEventRequest{Event: other, RequestId: "0b9e6a4c-8f1d-4c2a-b3e5-7d6f9a0c1b2e"}); err != nil {
			t.Fatal(err)
		}
		if got := e.snapshot(t); len(got) != 2 {
			t.Errorf("%d events stored, want 2", len(got))
		}
	})

	t.Run("request_id of a deleted event", func(t *testing.T) {
		e := newEnv(t)
		const rid = "5f0c3a9e-2b7d-4e61-9a4f-0d3c8b1e7a25"
		first, err := e.client.CreateEvent(ctx, &eventsv1.CreateEventRequest{Event: fullEvent(), RequestId: rid})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: first.GetName()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.CreateEvent(ctx, &eventsv1.CreateEventRequest{Event: fullEvent(), RequestId: rid})
		wantCode(t, err, codes.AlreadyExists, "EVENT_ALREADY_EXISTS")
		if got := e.snapshot(t); len(got) != 0 {
			t.Errorf("%d events stored, want 0", len(got))
		}
	})

	t.Run("taken id", func(t *testing.T) {
		e := newEnv(t)
		first := e.create(t, "taken", fullEvent())
		other := fullEvent()
		other.Title = "Intruder"
		_, err := e.client.CreateEvent(ctx, &eventsv1.CreateEventRequest{Event: other, EventId: "taken"})
		st := wantCode(t, err, codes.AlreadyExists, "EVENT_ALREADY_EXISTS")
		if got, want := errorInfo(st).GetMetadata()["name"], "events/taken"; got != want {
			t.Errorf("ErrorInfo metadata name = %q, want %q", got, want)
		}
		if got := e.get(t, "events/taken"); !proto.Equal(got, first) {
			t.Errorf("stored = %v, want the first event %v", got, first)
		}
	})
}

func TestCreateEventInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(*eventsv1.CreateEventRequest)
		field  string
	}{
		{"no event", func(r *eventsv1.CreateEventRequest) { r.Event = nil }, "event"},
		{"missing title", func(r *eventsv1.CreateEventRequest) { r.Event.Title = "" }, "event.title"},
		{"title too long", func(r *eventsv1.CreateEventRequest) { r.Event.Title = strings.Repeat("x", 301) }, "event.title"},
		{"end before start", func(r *eventsv1.CreateEventRequest) { r.Event.EndTime = ts("2025-03-09T00:00:00Z") }, "event.end_time"},
		{"end at start", func(r *eventsv1.CreateEventRequest) { r.Event.EndTime = r.Event.StartTime }, "event.end_time"},
		{"unknown country XX", func(r *eventsv1.CreateEventRequest) { r.Event.Location.CountryCode = "XX" }, "event.location.country_code"},
		{"lower-case country", func(r *eventsv1.CreateEventRequest) { r.Event.Location.CountryCode = "cr" }, "event.location.country_code"},
		{"unknown time zone", func(r *eventsv1.CreateEventRequest) { r.Event.TimeZone = "Mars/Olympus" }, "event.time_zone"},
		{"Local time zone", func(r *eventsv1.CreateEventRequest) { r.Event.TimeZone = "Local" }, "event.time_zone"},
		{"unknown kind", func(r *eventsv1.CreateEventRequest) { r.Event.Kind = 99 }, "event.kind"},
		{"unknown attendance mode", func(r *eventsv1.CreateEventRequest) { r.Event.AttendanceMode = 42 }, "event.attendance_mode"},
		{"bad meeting url", func(r *eventsv1.CreateEventRequest) { r.Event.OnlineMeetingUrl = "not a url" }, "event.online_meeting_url"},
		{"session before the event", func(r *eventsv1.CreateEventRequest) {
			r.Event.Sessions[0].StartTime = ts("2025-03-10T14:00:00Z")
		}, "event.sessions[0].start_time"},
		{"session after the event", func(r *eventsv1.CreateEventRequest) {
			r.Event.Sessions[1].EndTime = ts("2025-03-12T00:00:00Z")
		}, "event.sessions[1].end_time"},
		{"session ends before it starts", func(r *eventsv1.CreateEventRequest) {
			r.Event.Sessions[0].EndTime = ts("2025-03-10T15:00:00Z")
		}, "event.sessions[0].end_time"},
		{"session without title", func(r *eventsv1.CreateEventRequest) { r.Event.Sessions[0].Title = "" }, "event.sessions[0].title"},
		{"empty topic", func(r *eventsv1.CreateEventRequest) { r.Event.Topics = []string{""} }, "event.topics[0]"},
		{"bad language", func(r *eventsv1.CreateEventRequest) { r.Event.Languages = []string{"en", "Spanish"} }, "event.languages[1]"},
		{"negative capacity", func(r *eventsv1.CreateEventRequest) { r.Event.RegistrationPolicy.Capacity = -1 }, "event.registration_policy.capacity"},
		{"room larger than capacity", func(r *eventsv1.CreateEventRequest) {
			r.Event.RegistrationPolicy.InPersonCapacity = 101
		}, "event.registration_policy.in_person_capacity"},
		{"room seats for a virtual event", func(r *eventsv1.CreateEventRequest) {
			r.Event.AttendanceMode = eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL
		}, "event.registration_policy.in_person_capacity"},
		{"registration closes before it opens", func(r *eventsv1.CreateEventRequest) {
			r.Event.RegistrationPolicy.ClosesTime = ts("2025-01-01T00:00:00Z")
		}, "event.registration_policy.closes_time"},
		{"unspecified category", func(r *eventsv1.CreateEventRequest) {
			r.Event.RegistrationPolicy.AllowedCategories = []eventsv1.ParticipantCategory{0}
		}, "event.registration_policy.allowed_categories[0]"},
		// Timestamps that protojson cannot write (years 1 to 9999, nanos 0 to 999999999).
		{"start after year 9999", func(r *eventsv1.CreateEventRequest) {
			r.Event.StartTime = &timestamppb.Timestamp{Seconds: 300_000_000_000}
			r.Event.EndTime = &timestamppb.Timestamp{Seconds: 300_000_000_100}
			r.Event.Sessions = nil
		}, "event.start_time"},
		{"end with nanos out of range", func(r *eventsv1.CreateEventRequest) {
			r.Event.EndTime.Nanos = 1_000_000_000
		}, "event.end_time"},
		{"session with negative nanos", func(r *eventsv1.CreateEventRequest) {
			r.Event.Sessions[0].StartTime.Nanos = -1
		}, "event.sessions[0].start_time"},
		{"registration opens before year 1", func(r *eventsv1.CreateEventRequest) {
			r.Event.RegistrationPolicy.OpensTime = &timestamppb.Timestamp{Seconds: -70_000_000_000}
		}, "event.registration_policy.opens_time"},
		{"bad event_id", func(r *eventsv1.CreateEventRequest) { r.EventId = "Bad_ID" }, "event_id"},
		{"event_id with leading hyphen", func(r *eventsv1.CreateEventRequest) { r.EventId = "-x" }, "event_id"},
		{"event_id too long", func(r *eventsv1.CreateEventRequest) { r.EventId = strings.Repeat("a", 64) }, "event_id"},
		{"bad request_id", func(r *eventsv1.CreateEventRequest) { r.RequestId = "not-a-uuid" }, "request_id"},
	}
	e := newEnv(t)
	e.create(t, "existing", fullEvent())
	before := e.snapshot(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &eventsv1.CreateEventRequest{Event: fullEvent(), EventId: "new-event"}
			tt.change(req)
			_, err := e.client.CreateEvent(context.Background(), req)
			wantInvalid(t, err, tt.field)
			e.checkUnchanged(t, before)
		})
	}
}

func TestGetEvent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	created := e.create(t, "here", fullEvent())
	if got := e.get(t, "events/here"); !proto.Equal(got, created) {
		t.Errorf("GetEvent = %v, want %v", got, created)
	}

	_, err := e.client.GetEvent(ctx, &eventsv1.GetEventRequest{Name: "events/nowhere"})
	st := wantCode(t, err, codes.NotFound, "EVENT_NOT_FOUND")
	if got, want := errorInfo(st).GetMetadata()["name"], "events/nowhere"; got != want {
		t.Errorf("ErrorInfo metadata name = %q, want %q", got, want)
	}

	for _, name := range []string{"", "here", "events/", "events/Here", "events/here/registrations/x", "events/-x"} {
		_, err := e.client.GetEvent(ctx, &eventsv1.GetEventRequest{Name: name})
		wantInvalid(t, err, "name")
	}
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func TestUpdateEvent(t *testing.T) {
	ctx := context.Background()
	const name = "events/ev"

	// setup makes an env with one full event, and moves the clock on.
	setup := func(t *testing.T) (*env, *eventsv1.Event) {
		e := newEnv(t)
		ev := e.create(t, "ev", fullEvent())
		e.clock.Advance(time.Hour)
		return e, ev
	}
	// update applies a successful update and checks what every update does:
	// the result is what is stored, with a new update_time and etag.
	update := func(t *testing.T, e *env, before *eventsv1.Event, req *eventsv1.UpdateEventRequest) *eventsv1.Event {
		t.Helper()
		got, err := e.client.UpdateEvent(ctx, req)
		if err != nil {
			t.Fatalf("UpdateEvent: %v", err)
		}
		if stored := e.get(t, name); !proto.Equal(stored, got) {
			t.Errorf("stored = %v, want the returned %v", stored, got)
		}
		if got, want := got.GetUpdateTime().AsTime(), e.clock.Now(); !got.Equal(want) {
			t.Errorf("update_time = %v, want %v", got, want)
		}
		if got, want := got.GetCreateTime().AsTime(), before.GetCreateTime().AsTime(); !got.Equal(want) {
			t.Errorf("create_time = %v, want %v", got, want)
		}
		if got.GetEtag() == before.GetEtag() || got.GetEtag() != etag.Of(got) {
			t.Errorf("etag = %q (before %q), want a new etag %q", got.GetEtag(), before.GetEtag(), etag.Of(got))
		}
		if got.GetName() != name || got.GetState() != before.GetState() {
			t.Errorf("name, state = %q, %v; want %q, %v", got.GetName(), got.GetState(), name, before.GetState())
		}
		return got
	}

	t.Run("mask writes only its fields", func(t *testing.T) {
		e, before := setup(t)
		patch := &eventsv1.Event{
			Name:     name,
			Title:    "New title",
			Summary:  "Not in the mask",
			Location: &eventsv1.Location{City: "Panamá"},
			RegistrationPolicy: &eventsv1.RegistrationPolicy{
				Capacity: 200,
			},
		}
		got := update(t, e, before, &eventsv1.UpdateEventRequest{
			Event:      patch,
			UpdateMask: mask("title", "location.city", "registration_policy.capacity", "methodology"),
		})
		want := withoutServerFields(before)
		want.Title = "New title"
		want.Location.City = "Panamá"
		want.RegistrationPolicy.Capacity = 200
		want.Methodology = "" // in the mask, unset in the patch: cleared
		if got := withoutServerFields(got); !proto.Equal(got, want) {
			t.Errorf("updated = %v, want %v", got, want)
		}
	})

	for _, m := range []*fieldmaskpb.FieldMask{nil, mask("*")} {
		t.Run("mask "+strings.Join(m.GetPaths(), ",")+" replaces every writable field", func(t *testing.T) {
			e, before := setup(t)
			patch := &eventsv1.Event{
				Name:        name,
				Title:       "Only a title",
				Kind:        eventsv1.EventKind_EVENT_KIND_WEBINAR,
				State:       eventsv1.EventState_EVENT_STATE_CANCELLED, // output only: ignored
				CreateTime:  ts("2000-01-01T00:00:00Z"),
				PublishTime: ts("2000-01-01T00:00:00Z"),
			}
			got := update(t, e, before, &eventsv1.UpdateEventRequest{Event: patch, UpdateMask: m})
			want := &eventsv1.Event{Title: "Only a title", Kind: eventsv1.EventKind_EVENT_KIND_WEBINAR}
			if got := withoutServerFields(got); !proto.Equal(got, want) {
				t.Errorf("updated = %v, want %v", got, want)
			}
			if got.GetPublishTime() != nil {
				t.Errorf("publish_time = %v, want unset", got.GetPublishTime())
			}
		})
	}

	t.Run("state and publish_time survive a full replace", func(t *testing.T) {
		e, _ := setup(t)
		published := e.publish(t, name)
		e.clock.Advance(time.Hour)
		patch := fullEvent()
		patch.Name = name
		patch.Title = "Renamed"
		patch.State = eventsv1.EventState_EVENT_STATE_DRAFT
		got := update(t, e, published, &eventsv1.UpdateEventRequest{Event: patch})
		if got.GetState() != eventsv1.EventState_EVENT_STATE_PUBLISHED || !proto.Equal(got.GetPublishTime(), published.GetPublishTime()) {
			t.Errorf("state, publish_time = %v, %v; want PUBLISHED, %v", got.GetState(), got.GetPublishTime(), published.GetPublishTime())
		}
	})

	t.Run("matching etag", func(t *testing.T) {
		e, before := setup(t)
		got := update(t, e, before, &eventsv1.UpdateEventRequest{
			Event:      &eventsv1.Event{Name: name, Title: "Conditional", Etag: before.GetEtag()},
			UpdateMask: mask("title"),
		})
		if got.GetTitle() != "Conditional" {
			t.Errorf("title = %q, want Conditional", got.GetTitle())
		}
	})

	failures := []struct {
		name   string
		patch  func(before *eventsv1.Event) *eventsv1.Event
		mask   *fieldmaskpb.FieldMask
		code   codes.Code
		reason string
		field  string
	}{
		{
			name: "mask names state",
			patch: func(*eventsv1.Event) *eventsv1.Event {
				return &eventsv1.Event{Name: name, State: eventsv1.EventState_EVENT_STATE_PUBLISHED}
			},
			mask: mask("state"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "update_mask",
		},
		{
			name: "mask names create_time",
			patch: func(*eventsv1.Event) *eventsv1.Event {
				return &eventsv1.Event{Name: name, CreateTime: ts("2000-01-01T00:00:00Z")}
			},
			mask: mask("title", "create_time"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "update_mask",
		},
		{
			name:  "mask names create_time.seconds",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name} },
			mask:  mask("create_time.seconds"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "update_mask",
		},
		{
			name:  "mask names publish_time",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name} },
			mask:  mask("publish_time"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "update_mask",
		},
		{
			name:  "mask names name",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name} },
			mask:  mask("name"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "update_mask",
		},
		{
			name:  "unknown path",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name, Title: "x"} },
			mask:  mask("title", "colour"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "update_mask",
		},
		{
			name:  "unknown nested path",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name} },
			mask:  mask("location.planet"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "update_mask",
		},
		{
			name:  "path into a repeated field",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name} },
			mask:  mask("sessions.title"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "update_mask",
		},
		{
			name:  "star with other paths",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name, Title: "x"} },
			mask:  mask("*", "title"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "update_mask",
		},
		{
			name: "stale etag",
			patch: func(*eventsv1.Event) *eventsv1.Event {
				return &eventsv1.Event{Name: name, Title: "x", Etag: "0123456789abcdef"}
			},
			mask: mask("title"), code: codes.Aborted, reason: "ETAG_MISMATCH",
		},
		{
			name: "end before start",
			patch: func(*eventsv1.Event) *eventsv1.Event {
				return &eventsv1.Event{Name: name, EndTime: ts("2025-03-01T00:00:00Z")}
			},
			mask: mask("end_time"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.end_time",
		},
		{
			name: "unknown country",
			patch: func(*eventsv1.Event) *eventsv1.Event {
				return &eventsv1.Event{Name: name, Location: &eventsv1.Location{CountryCode: "XX"}}
			},
			mask: mask("location"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.location.country_code",
		},
		{
			name: "unknown time zone",
			patch: func(*eventsv1.Event) *eventsv1.Event {
				return &eventsv1.Event{Name: name, TimeZone: "Mars/Olympus"}
			},
			mask: mask("time_zone"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.time_zone",
		},
		{
			name:  "title cleared",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name} },
			mask:  mask("title"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.title",
		},
		{
			name:  "full replace without a title",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name, Summary: "s"} },
			code:  codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.title",
		},
		{
			name: "start after year 9999",
			patch: func(*eventsv1.Event) *eventsv1.Event {
				return &eventsv1.Event{
					Name:      name,
					StartTime: &timestamppb.Timestamp{Seconds: 300_000_000_000},
					EndTime:   &timestamppb.Timestamp{Seconds: 300_000_000_100},
				}
			},
			mask: mask("start_time", "end_time", "sessions"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.start_time",
		},
		{
			name:  "unknown kind",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: name, Kind: 99} },
			mask:  mask("kind"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.kind",
		},
		{
			name: "start moved after the first session",
			patch: func(*eventsv1.Event) *eventsv1.Event {
				return &eventsv1.Event{Name: name, StartTime: ts("2025-03-11T00:00:00Z")}
			},
			mask: mask("start_time"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.sessions[0].start_time",
		},
		{
			name: "room seats left on a virtual event",
			patch: func(*eventsv1.Event) *eventsv1.Event {
				return &eventsv1.Event{Name: name, AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL}
			},
			mask: mask("attendance_mode"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.registration_policy.in_person_capacity",
		},
		{
			name:  "no event",
			patch: func(*eventsv1.Event) *eventsv1.Event { return nil },
			code:  codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event",
		},
		{
			name:  "no name",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Title: "x"} },
			mask:  mask("title"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.name",
		},
		{
			name:  "bad name",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: "events/EV", Title: "x"} },
			mask:  mask("title"), code: codes.InvalidArgument, reason: "INVALID_ARGUMENT", field: "event.name",
		},
		{
			name:  "unknown event",
			patch: func(*eventsv1.Event) *eventsv1.Event { return &eventsv1.Event{Name: "events/nope", Title: "x"} },
			mask:  mask("title"), code: codes.NotFound, reason: "EVENT_NOT_FOUND",
		},
	}
	e := newEnv(t)
	before := e.create(t, "ev", fullEvent())
	e.clock.Advance(time.Hour)
	snap := e.snapshot(t)
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.UpdateEvent(ctx, &eventsv1.UpdateEventRequest{Event: tt.patch(before), UpdateMask: tt.mask})
			st := wantCode(t, err, tt.code, tt.reason)
			if tt.field != "" {
				if fields := badRequestFields(st); !slices.ContainsFunc(fields, fieldIs(tt.field)) {
					t.Errorf("BadRequest fields = %q, want %q (%v)", fields, tt.field, st.Message())
				}
			}
			e.checkUnchanged(t, snap)
		})
	}
}

// Conditional writes racing on one etag: exactly one wins.
func TestUpdateEventConcurrentEtag(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	ev := e.create(t, "ev", fullEvent())
	const n = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, aborted := 0, 0
	for i := range n {
		wg.Go(func() {
			_, err := e.client.UpdateEvent(ctx, &eventsv1.UpdateEventRequest{
				Event:      &eventsv1.Event{Name: ev.GetName(), Title: strings.Repeat("t", i+1), Etag: ev.GetEtag()},
				UpdateMask: mask("title"),
			})
			mu.Lock()
			defer mu.Unlock()
			switch status.Code(err) {
			case codes.OK:
				won++
			case codes.Aborted:
				aborted++
			default:
				t.Errorf("UpdateEvent: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || aborted != n-1 {
		t.Errorf("%d updates won and %d aborted; want 1 and %d", won, aborted, n-1)
	}
}

// Concurrent retries of one CreateEvent make one event.
func TestCreateEventConcurrentRequestID(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const n = 10
	var wg sync.WaitGroup
	names := make([]string, n)
	for i := range n {
		wg.Go(func() {
			got, err := e.client.CreateEvent(ctx, &eventsv1.CreateEventRequest{
				Event: fullEvent(), RequestId: "9d2f6c1a-3b4e-4f5a-8c7d-1e2f3a4b5c6d",
			})
			if err != nil {
				t.Errorf("CreateEvent: %v", err)
				return
			}
			names[i] = got.GetName()
		})
	}
	wg.Wait()
	for _, n := range names {
		if n != names[0] {
			t.Errorf("retries got names %q, want one name", names)
			break
		}
	}
	if got := e.snapshot(t); len(got) != 1 {
		t.Errorf("%d events stored, want 1", len(got))
	}
}

func TestPublishEvent(t *testing.T) {
	ctx := context.Background()

	t.Run("draft to published", func(t *testing.T) {
		e := newEnv(t)
		created := e.create(t, "ev", fullEvent())
		now := e.clock.Advance(time.Hour)
		got, err := e.client.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/ev", Etag: created.GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetState() != eventsv1.EventState_EVENT_STATE_PUBLISHED {
			t.Errorf("state = %v, want PUBLISHED", got.GetState())
		}
		if !got.GetPublishTime().AsTime().Equal(now) || !got.GetUpdateTime().AsTime().Equal(now) {
			t.Errorf("publish_time, update_time = %v, %v; want %v", got.GetPublishTime().AsTime(), got.GetUpdateTime().AsTime(), now)
		}
		if got.GetEtag() == created.GetEtag() || got.GetEtag() != etag.Of(got) {
			t.Errorf("etag = %q, want a new etag %q", got.GetEtag(), etag.Of(got))
		}
		if !proto.Equal(withoutServerFields(got), withoutServerFields(created)) {
			t.Errorf("publishing changed the content: %v", got)
		}
		if stored := e.get(t, "events/ev"); !proto.Equal(stored, got) {
			t.Errorf("stored = %v, want %v", stored, got)
		}

		e.clock.Advance(time.Hour)
		_, err = e.client.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/ev"})
		wantCode(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		if stored := e.get(t, "events/ev"); !proto.Equal(stored, got) {
			t.Errorf("a failed publish changed the event: %v", stored)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		e := newEnv(t)
		e.create(t, "ev", fullEvent())
		e.cancel(t, "events/ev", "")
		_, err := e.client.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/ev"})
		wantCode(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
	})

	for _, tt := range []struct {
		name       string
		start, end *timestamppb.Timestamp
	}{
		{"no dates", nil, nil},
		{"no end", ts("2025-03-10T15:00:00Z"), nil},
		{"no start", nil, ts("2025-03-10T15:00:00Z")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ev := fullEvent()
			ev.StartTime, ev.EndTime, ev.Sessions = tt.start, tt.end, nil
			created := e.create(t, "ev", ev)
			_, err := e.client.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/ev"})
			wantCode(t, err, codes.FailedPrecondition, "EVENT_INCOMPLETE")
			if stored := e.get(t, "events/ev"); !proto.Equal(stored, created) {
				t.Errorf("a failed publish changed the event: %v", stored)
			}
		})
	}

	t.Run("stale etag", func(t *testing.T) {
		e := newEnv(t)
		created := e.create(t, "ev", fullEvent())
		_, err := e.client.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/ev", Etag: "0123456789abcdef"})
		wantCode(t, err, codes.Aborted, "ETAG_MISMATCH")
		if stored := e.get(t, "events/ev"); !proto.Equal(stored, created) {
			t.Errorf("a failed publish changed the event: %v", stored)
		}
	})

	t.Run("unknown and bad names", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.client.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/nope"})
		wantCode(t, err, codes.NotFound, "EVENT_NOT_FOUND")
		_, err = e.client.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "nope"})
		wantInvalid(t, err, "name")
	})
}

func TestCancelEvent(t *testing.T) {
	ctx := context.Background()

	t.Run("published", func(t *testing.T) {
		e := newEnv(t)
		e.create(t, "ev", fullEvent())
		published := e.publish(t, "events/ev")
		now := e.clock.Advance(time.Hour)
		got, err := e.client.CancelEvent(ctx, &eventsv1.CancelEventRequest{Name: "events/ev", Etag: published.GetEtag(), Reason: "Hurricane warning"})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetState() != eventsv1.EventState_EVENT_STATE_CANCELLED || got.GetCancelReason() != "Hurricane warning" {
			t.Errorf("state, reason = %v, %q; want CANCELLED, %q", got.GetState(), got.GetCancelReason(), "Hurricane warning")
		}
		if !got.GetUpdateTime().AsTime().Equal(now) {
			t.Errorf("update_time = %v, want %v", got.GetUpdateTime().AsTime(), now)
		}
		if !proto.Equal(got.GetPublishTime(), published.GetPublishTime()) {
			t.Errorf("publish_time = %v, want %v", got.GetPublishTime(), published.GetPublishTime())
		}
		if got.GetEtag() == published.GetEtag() || got.GetEtag() != etag.Of(got) {
			t.Errorf("etag = %q, want a new etag %q", got.GetEtag(), etag.Of(got))
		}
		if stored := e.get(t, "events/ev"); !proto.Equal(stored, got) {
			t.Errorf("stored = %v, want %v", stored, got)
		}

		_, err = e.client.CancelEvent(ctx, &eventsv1.CancelEventRequest{Name: "events/ev", Reason: "again"})
		wantCode(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		if stored := e.get(t, "events/ev"); !proto.Equal(stored, got) {
			t.Errorf("a second cancel changed the event: %v", stored)
		}
	})

	t.Run("draft", func(t *testing.T) {
		e := newEnv(t)
		e.create(t, "ev", &eventsv1.Event{Title: "No dates yet"})
		got := e.cancel(t, "events/ev", "")
		if got.GetState() != eventsv1.EventState_EVENT_STATE_CANCELLED || got.GetPublishTime() != nil {
			t.Errorf("cancelled draft = %v", got)
		}
	})

	t.Run("stale etag", func(t *testing.T) {
		e := newEnv(t)
		created := e.create(t, "ev", fullEvent())
		_, err := e.client.CancelEvent(ctx, &eventsv1.CancelEventRequest{Name: "events/ev", Etag: "0123456789abcdef"})
		wantCode(t, err, codes.Aborted, "ETAG_MISMATCH")
		if stored := e.get(t, "events/ev"); !proto.Equal(stored, created) {
			t.Errorf("a failed cancel changed the event: %v", stored)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		e := newEnv(t)
		created := e.create(t, "ev", fullEvent())
		_, err := e.client.CancelEvent(ctx, &eventsv1.CancelEventRequest{Name: "events/ev", Reason: strings.Repeat("x", 1001)})
		wantInvalid(t, err, "reason")
		_, err = e.client.CancelEvent(ctx, &eventsv1.CancelEventRequest{Name: "events/nope"})
		wantCode(t, err, codes.NotFound, "EVENT_NOT_FOUND")
		_, err = e.client.CancelEvent(ctx, &eventsv1.CancelEventRequest{Name: "events/"})
		wantInvalid(t, err, "name")
		if stored := e.get(t, "events/ev"); !proto.Equal(stored, created) {
			t.Errorf("a failed cancel changed the event: %v", stored)
		}
	})
}

func TestDeleteEvent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a := e.create(t, "a", fullEvent())
	b := e.create(t, "b", fullEvent())

	_, err := e.client.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: "events/a", Etag: "0123456789abcdef"})
	wantCode(t, err, codes.Aborted, "ETAG_MISMATCH")
	if stored := e.get(t, "events/a"); !proto.Equal(stored, a) {
		t.Errorf("a refused delete changed the event: %v", stored)
	}

	if _, err := e.client.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: "events/a", Etag: a.GetEtag()}); err != nil {
		t.Fatalf("DeleteEvent with the etag: %v", err)
	}
	_, err = e.client.GetEvent(ctx, &eventsv1.GetEventRequest{Name: "events/a"})
	wantCode(t, err, codes.NotFound, "EVENT_NOT_FOUND")
	_, err = e.client.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: "events/a"})
	wantCode(t, err, codes.NotFound, "EVENT_NOT_FOUND")
	if got := e.snapshot(t); len(got) != 1 || !proto.Equal(got["events/b"], b) {
		t.Errorf("after delete: %v, want only events/b", got)
	}

	if _, err := e.client.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: "events/b"}); err != nil {
		t.Fatalf("DeleteEvent without etag: %v", err)
	}
	_, err = e.client.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: "b"})
	wantInvalid(t, err, "name")

	// The id can be used again.
	e.create(t, "a", fullEvent())
}

// Lists and gets running alongside updates, creates and deletes see whole
// events and never fail (run with -race).
func TestConcurrentReadersAndWriters(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for i := range 5 {
		e.create(t, fmt.Sprintf("ev-%d", i), fullEvent())
	}
	var wg sync.WaitGroup
	for i := range 5 {
		name := fmt.Sprintf("events/ev-%d", i)
		wg.Go(func() { // writer
			for j := range 10 {
				_, err := e.client.UpdateEvent(ctx, &eventsv1.UpdateEventRequest{
					Event:      &eventsv1.Event{Name: name, Title: fmt.Sprintf("Title %d", j)},
					UpdateMask: mask("title"),
				})
				if err != nil {
					t.Errorf("UpdateEvent(%s): %v", name, err)
				}
			}
			extra := fmt.Sprintf("extra-%d", i)
			if _, err := e.client.CreateEvent(ctx, &eventsv1.CreateEventRequest{Event: fullEvent(), EventId: extra}); err != nil {
				t.Errorf("CreateEvent: %v", err)
			}
			if _, err := e.client.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: "events/" + extra}); err != nil {
				t.Errorf("DeleteEvent: %v", err)
			}
		})
		wg.Go(func() { // reader
			for range 10 {
				resp, err := e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{OrderBy: "title", Filter: "migration"})
				if err != nil {
					t.Errorf("ListEvents: %v", err)
					continue
				}
				for _, ev := range resp.GetEvents() {
					if ev.GetEtag() != etag.Of(ev) {
						t.Errorf("listed %s with etag %q, want %q", ev.GetName(), ev.GetEtag(), etag.Of(ev))
					}
				}
				if _, err := e.client.GetEvent(ctx, &eventsv1.GetEventRequest{Name: name}); err != nil {
					t.Errorf("GetEvent(%s): %v", name, err)
				}
			}
		})
	}
	wg.Wait()
	for i := range 5 {
		if got, want := e.get(t, fmt.Sprintf("events/ev-%d", i)).GetTitle(), "Title 9"; got != want {
			t.Errorf("ev-%d title = %q, want %q", i, got, want)
		}
	}
	if got := e.snapshot(t); len(got) != 5 {
		t.Errorf("%d events stored, want 5", len(got))
	}
}
