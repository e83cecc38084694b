package service

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/country"
	"convene.dev/platform/errdefs"
)

// checkEvent checks what the proto rules cannot express: real country codes,
// real time zones, valid timestamps, sessions inside the event, seat counts
// that add up. The field paths are prefixed with prefix.
func checkEvent(ev *eventsv1.Event, prefix string) error {
	var v errdefs.Violations
	f := func(field string) string { return prefix + "." + field }
	if t := ev.GetTitle(); t != "" && strings.TrimSpace(t) == "" {
		v.Add(f("title"), "must not be blank")
	}
	if cc := ev.GetLocation().GetCountryCode(); cc != "" && !country.Valid(cc) {
		v.Add(f("location.country_code"), "%q is not an ISO 3166-1 alpha-2 country code", cc)
	}
	if tz := ev.GetTimeZone(); tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			v.Add(f("time_zone"), "%q is not an IANA time zone (e.g. America/Costa_Rica)", tz)
		}
	}
	// A Timestamp outside years 1..9999, or with nanos outside 0..999999999,
	// cannot be written as JSON (so one such event would break every JSON
	// list it is in) and breaks the fixed-width sort key of ListEvents.
	checkTime := func(field string, ts *timestamppb.Timestamp) {
		if ts != nil && ts.CheckValid() != nil {
			v.Add(f(field), "not a valid time (seconds %d, nanos %d)", ts.GetSeconds(), ts.GetNanos())
		}
	}
	checkTime("start_time", ev.GetStartTime())
	checkTime("end_time", ev.GetEndTime())
	checkTime("registration_policy.opens_time", ev.GetRegistrationPolicy().GetOpensTime())
	checkTime("registration_policy.closes_time", ev.GetRegistrationPolicy().GetClosesTime())
	for i, s := range ev.GetSessions() {
		checkTime(fmt.Sprintf("sessions[%d].start_time", i), s.GetStartTime())
		checkTime(fmt.Sprintf("sessions[%d].end_time", i), s.GetEndTime())
	}
	start, end := ev.GetStartTime(), ev.GetEndTime()
	for i, s := range ev.GetSessions() {
		if start != nil && s.GetStartTime() != nil && s.GetStartTime().AsTime().Before(start.AsTime()) {
			v.Add(f(fmt.Sprintf("sessions[%d].start_time", i)), "session starts before the event")
		}
		if end != nil && s.GetEndTime() != nil && s.GetEndTime().AsTime().After(end.AsTime()) {
			v.Add(f(fmt.Sprintf("sessions[%d].end_time", i)), "session ends after the event")
		}
	}
	p := ev.GetRegistrationPolicy()
	if p.GetCapacity() > 0 && p.GetInPersonCapacity() > p.GetCapacity() {
		v.Add(f("registration_policy.in_person_capacity"), "%d is more than the capacity %d", p.GetInPersonCapacity(), p.GetCapacity())
	}
	if p.GetInPersonCapacity() > 0 && ev.GetAttendanceMode() != eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID {
		v.Add(f("registration_policy.in_person_capacity"), "only a HYBRID event has separate in-person seats")
	}
	return v.Err()
}
