package demo_test

import (
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the IANA zones, as the events binary has them

	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/validate"
	"convene.dev/services/events/demo"
	"convene.dev/services/events/internal/service"
	"convene.dev/services/events/internal/store/boltstore"
)

const xxv = "events/xxv-regional-conference-on-migration"

var namePattern = regexp.MustCompile(`^events/[a-z0-9][a-z0-9-]{0,62}$`)

func TestEvents(t *testing.T) {
	events, err := demo.Events()
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if got, want := len(events), 40; got != want {
		t.Fatalf("Events returned %d events, want %d", got, want)
	}
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range events {
		name := ev.GetName()
		if !namePattern.MatchString(name) {
			t.Errorf("name %q does not match %s", name, namePattern)
		}
		if seen[name] {
			t.Errorf("name %q appears twice", name)
		}
		seen[name] = true
		if ev.GetState() != eventsv1.EventState_EVENT_STATE_UNSPECIFIED || ev.GetEtag() != "" || ev.GetCreateTime() != nil {
			t.Errorf("%s sets server-owned fields", name)
		}
		if ev.GetTranslations()["es"].GetTitle() == "" {
			t.Errorf("%s has no Spanish title", name)
		}
		if ev.GetStartTime() == nil || ev.GetEndTime() == nil {
			t.Errorf("%s has no start or end time, so it cannot be published", name)
		}
		req := &eventsv1.CreateEventRequest{Event: ev, EventId: name[len("events/"):]}
		if err := v.Validate(req, ""); err != nil {
			t.Errorf("%s does not validate: %v", name, err)
		}
	}

	// Each call returns new events.
	events[0].Title = "changed"
	again, err := demo.Events()
	if err != nil {
		t.Fatal(err)
	}
	if again[0].GetTitle() == "changed" {
		t.Error("Events returned an event shared with an earlier call")
	}
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	db, err := boltdb.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.New(db, time.Now)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)
	svc := service.New(st, v, func() time.Time { return now }, nil)

	n, err := demo.Load(ctx, svc, v)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if n != 40 {
		t.Errorf("Load added %d events, want 40", n)
	}

	events, err := demo.Events()
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]*eventsv1.Event{}
	for _, want := range events {
		got, err := svc.GetEvent(ctx, &eventsv1.GetEventRequest{Name: want.GetName()})
		if err != nil {
			t.Errorf("GetEvent(%s): %v", want.GetName(), err)
			continue
		}
		stored[got.GetName()] = got
		if got.GetState() != eventsv1.EventState_EVENT_STATE_PUBLISHED {
			t.Errorf("%s state = %v, want PUBLISHED", got.GetName(), got.GetState())
		}
		if !got.GetPublishTime().AsTime().Equal(now) {
			t.Errorf("%s publish_time = %v, want %v", got.GetName(), got.GetPublishTime().AsTime(), now)
		}
		if err := v.Validate(got, ""); err != nil {
			t.Errorf("stored %s does not validate: %v", got.GetName(), err)
		}
		content := proto.CloneOf(got)
		content.State, content.Etag, content.CreateTime, content.UpdateTime, content.PublishTime = 0, "", nil, nil, nil
		content.Revision = 0
		content.Language = ""
		if !proto.Equal(content, want) {
			t.Errorf("stored %s = %v, want the demo data %v", got.GetName(), content, want)
		}
	}

	resp, err := svc.ListEvents(ctx, &eventsv1.ListEventsRequest{Filter: "state = PUBLISHED", PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetTotalSize(); got != 40 {
		t.Errorf("ListEvents(state = PUBLISHED) total_size = %d, want 40", got)
	}

	xxvEvent := stored[xxv]
	if got := len(xxvEvent.GetSessions()); got != 3 {
		t.Errorf("%s has %d sessions, want 3", xxv, got)
	}
	if got, want := xxvEvent.GetTranslations()["es"].GetTitle(), "XXV Conferencia Regional sobre Migración"; got != want {
		t.Errorf("%s Spanish title = %q, want %q", xxv, got, want)
	}
	resp, err = svc.ListEvents(ctx, &eventsv1.ListEventsRequest{Filter: `"conferencia regional" AND start_time >= "2020-01-01T00:00:00Z"`})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(resp.GetEvents(), func(ev *eventsv1.Event) bool { return ev.GetName() == xxv }) {
		t.Errorf("searching the Spanish title from 2020 on found %d events, not %s", len(resp.GetEvents()), xxv)
	}

	// A second load adds and changes nothing.
	n, err = demo.Load(ctx, svc, v)
	if err != nil || n != 0 {
		t.Errorf("second Load = %d, %v; want 0, nil", n, err)
	}
	for name, before := range stored {
		after, err := svc.GetEvent(ctx, &eventsv1.GetEventRequest{Name: name})
		if err != nil || !proto.Equal(after, before) {
			t.Errorf("second Load changed %s: %v, %v", name, after, err)
		}
	}

	// A load after one event was deleted adds that one back.
	if _, err := svc.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: xxv}); err != nil {
		t.Fatal(err)
	}
	n, err = demo.Load(ctx, svc, v)
	if err != nil || n != 1 {
		t.Errorf("Load after a delete = %d, %v; want 1, nil", n, err)
	}
	if _, err := svc.GetEvent(ctx, &eventsv1.GetEventRequest{Name: xxv}); err != nil {
		t.Errorf("GetEvent(%s) after reload: %v", xxv, err)
	}
}
