package service

import (
	"context"

	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/auth"
)

// AccessTable says who may call each method of the EventService. The
// service itself limits what non-organizers see: drafts are not found, and
// online_meeting_url is left out (see redact).
func AccessTable() auth.Table {
	const p = "/convene.events.v1.EventService/"
	anyone := auth.Rule{Roles: []auth.Role{auth.Public}, Own: true}
	organizers := auth.Rule{Roles: []auth.Role{auth.Organizer}}
	return auth.Table{
		p + "GetEvent":          anyone,
		p + "ListEvents":        anyone,
		p + "ExportCalendar":    anyone,
		p + "CreateEvent":       organizers,
		p + "UpdateEvent":       organizers,
		p + "DeleteEvent":       organizers,
		p + "PublishEvent":      organizers,
		p + "CancelEvent":       organizers,
		p + "WatchEventChanges": {Roles: []auth.Role{auth.Organizer, auth.Service}},
		p + "BackupDatabase":    organizers,
	}
}

// seesDrafts reports whether the caller may see events that are not
// published yet: organizers, and the registrations service.
func seesDrafts(ctx context.Context) bool {
	r := auth.FromContext(ctx).Role
	return r == auth.Organizer || r == auth.Service
}

// visible reports whether the caller may see ev at all.
func visible(ctx context.Context, ev *eventsv1.Event) bool {
	return seesDrafts(ctx) || ev.GetState() != eventsv1.EventState_EVENT_STATE_DRAFT
}

// redact returns ev as the caller may see it: the online meeting link only
// for organizers and the registrations service (which gives it to confirmed
// participants). The field is cleared, so it is absent from the JSON.
func redact(ctx context.Context, ev *eventsv1.Event) *eventsv1.Event {
	if seesDrafts(ctx) || ev.GetOnlineMeetingUrl() == "" {
		return ev
	}
	c := proto.CloneOf(ev)
	c.OnlineMeetingUrl = ""
	return c
}
