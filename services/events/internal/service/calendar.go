package service

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
)

// SetPublicURL sets the address of the web page that the calendar links
// events to (the gateway's, e.g. https://events.example.org).
func (s *Service) SetPublicURL(u string) { s.publicURL = strings.TrimSuffix(u, "/") }

// ExportCalendar implements EventServiceServer: RFC 5545 iCalendar of the
// published (and cancelled) events matching the filter, or of one event.
func (s *Service) ExportCalendar(ctx context.Context, req *eventsv1.ExportCalendarRequest) (*httpbody.HttpBody, error) {
	var events []*eventsv1.Event
	if req.GetName() != "" {
		ev, err := s.store.Get(ctx, parseName(req.GetName()))
		if err == nil && ev.GetState() == eventsv1.EventState_EVENT_STATE_DRAFT {
			err = fmt.Errorf("event %q: %w", req.GetName(), errdefs.ErrNotFound) // a draft is in no calendar
		}
		if err != nil {
			return nil, eventErr(err, req.GetName())
		}
		events = append(events, ev)
	} else {
		match, err := compileFilter(req.GetFilter())
		if err != nil {
			return nil, err
		}
		idx, err := s.store.Index(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range idx.ByStart {
			if e.Event.GetState() != eventsv1.EventState_EVENT_STATE_DRAFT && match(e) {
				events = append(events, proto.CloneOf(e.Event))
			}
		}
	}
	wanted := acceptedLanguages(ctx, req.GetLanguage())
	var b calendar
	b.line("BEGIN:VCALENDAR")
	b.line("VERSION:2.0")
	b.line("PRODID:-//Convene//RCM events//EN")
	b.line("CALSCALE:GREGORIAN")
	b.line("METHOD:PUBLISH")
	b.prop("X-WR-CALNAME", "Regional Conference on Migration")
	for _, ev := range events { // by start time
		localize(ev, wanted)
		s.vevent(&b, ev)
	}
	b.line("END:VCALENDAR")
	return &httpbody.HttpBody{ContentType: "text/calendar; charset=utf-8", Data: []byte(b.String())}, nil
}

const icalTime = "20060102T150405Z"

func (s *Service) vevent(b *calendar, ev *eventsv1.Event) {
	id := parseName(ev.GetName())
	b.line("BEGIN:VEVENT")
	b.prop("UID", id+"@convene.dev")
	stamp := ev.GetUpdateTime().AsTime()
	b.line("DTSTAMP:" + stamp.UTC().Format(icalTime))
	if ev.GetCreateTime() != nil {
		b.line("CREATED:" + ev.GetCreateTime().AsTime().UTC().Format(icalTime))
	}
	b.line("LAST-MODIFIED:" + stamp.UTC().Format(icalTime))
	if ev.GetStartTime() != nil {
		b.line("DTSTART:" + ev.GetStartTime().AsTime().UTC().Format(icalTime))
	}
	if ev.GetEndTime() != nil {
		b.line("DTEND:" + ev.GetEndTime().AsTime().UTC().Format(icalTime))
	}
	b.line(fmt.Sprintf("SEQUENCE:%d", max(ev.GetRevision()-1, 0)))
	b.prop("SUMMARY", ev.GetTitle())
	desc := ev.GetSummary()
	if desc == "" {
		desc = ev.GetGeneralObjective()
	}
	if desc != "" {
		b.prop("DESCRIPTION", desc)
	}
	if loc := location(ev); loc != "" {
		b.prop("LOCATION", loc)
	}
	if s.publicURL != "" {
		b.line("URL:" + s.publicURL + "/#/events/" + id)
	}
	if ev.GetKind() != eventsv1.EventKind_EVENT_KIND_UNSPECIFIED {
		b.prop("CATEGORIES", strings.TrimPrefix(ev.GetKind().String(), "EVENT_KIND_"))
	}
	if ev.GetState() == eventsv1.EventState_EVENT_STATE_CANCELLED {
		b.line("STATUS:CANCELLED")
	} else {
		b.line("STATUS:CONFIRMED")
	}
	if ev.GetLanguage() != "" {
		b.line("X-CONVENE-LANGUAGE:" + ev.GetLanguage())
	}
	b.line("END:VEVENT")
}

// location is the place as one line: venue, city, country; "Online" for a
// virtual event without one.
func location(ev *eventsv1.Event) string {
	l := ev.GetLocation()
	var parts []string
	for _, p := range []string{l.GetVenue(), l.GetCity(), l.GetCountryCode()} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if ev.GetAttendanceMode() == eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL {
		if len(parts) == 0 {
			return "Online"
		}
		return "Online (" + strings.Join(parts, ", ") + ")"
	}
	return strings.Join(parts, ", ")
}

// calendar writes iCalendar content lines: CRLF endings, folded at 75
// octets without splitting a UTF-8 character (RFC 5545 §3.1).
type calendar struct{ strings.Builder }

func (c *calendar) line(s string) {
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		c.WriteString(s[:cut])
		c.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // a continuation line begins with a space, which counts
	}
	c.WriteString(s)
	c.WriteString("\r\n")
}

// prop writes a text property, escaped (RFC 5545 §3.3.11).
func (c *calendar) prop(name, text string) {
	r := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)
	c.line(name + ":" + r.Replace(text))
}
