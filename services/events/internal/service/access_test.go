package service_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventsv1 "convene.dev/gen/convene/events/v1"
)

func TestPublicSeesPublishedEventsOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "draft", fullEvent())
	e.create(t, "live", fullEvent())
	e.publish(t, "events/live")

	if _, err := e.public.GetEvent(ctx, &eventsv1.GetEventRequest{Name: "events/draft"}); status.Code(err) != codes.NotFound {
		t.Errorf("public GetEvent of a draft = %v, want NOT_FOUND", err)
	}
	live, err := e.public.GetEvent(ctx, &eventsv1.GetEventRequest{Name: "events/live"})
	if err != nil {
		t.Fatal(err)
	}
	if live.GetOnlineMeetingUrl() != "" {
		t.Errorf("public GetEvent shows online_meeting_url %q", live.GetOnlineMeetingUrl())
	}
	if org := e.get(t, "events/live"); org.GetOnlineMeetingUrl() == "" {
		t.Error("the organizer does not see online_meeting_url")
	}
	list, err := e.public.ListEvents(ctx, &eventsv1.ListEventsRequest{Filter: "state = DRAFT"})
	if err != nil || len(list.GetEvents()) != 0 || list.GetTotalSize() != 0 {
		t.Errorf("public list of drafts = %v, %v; want none", list, err)
	}
	list, err = e.public.ListEvents(ctx, &eventsv1.ListEventsRequest{})
	if err != nil || len(list.GetEvents()) != 1 || list.GetEvents()[0].GetOnlineMeetingUrl() != "" {
		t.Errorf("public list = %v, %v; want the published event without its link", list, err)
	}
}

func TestWritesNeedAnOrganizer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create(t, "ev", fullEvent())
	_, err := e.public.CreateEvent(ctx, &eventsv1.CreateEventRequest{Event: fullEvent()})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("public CreateEvent = %v, want UNAUTHENTICATED", err)
	}
	if _, err := e.public.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/ev"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("public PublishEvent = %v, want UNAUTHENTICATED", err)
	}
	stream, err := e.public.WatchEventChanges(ctx, &eventsv1.WatchEventChangesRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("public WatchEventChanges = %v, want UNAUTHENTICATED", err)
	}
	if e.get(t, "events/ev").GetState() != eventsv1.EventState_EVENT_STATE_DRAFT {
		t.Error("a refused publish changed the event")
	}
}
