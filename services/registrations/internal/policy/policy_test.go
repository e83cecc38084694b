package policy_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/services/registrations/internal/policy"
	"convene.dev/services/registrations/internal/store"
)

const (
	published = eventsv1.EventState_EVENT_STATE_PUBLISHED

	confirmed  = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	waitlisted = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED
	pending    = registrationsv1.RegistrationState_REGISTRATION_STATE_PENDING_APPROVAL

	delegate = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE
	observer = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_COUNTRY
	expert   = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_INVITED_EXPERT

	inPerson = eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
	virtual  = eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(d)) }

// wantErr checks that err is a FAILED_PRECONDITION error with the reason, or
// nil when reason is "".
func wantErr(t *testing.T, err error, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Errorf("error = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("error = %v, want a FAILED_PRECONDITION error", err)
	}
	if got := errdefs.Reason(err); got != reason {
		t.Errorf("reason = %q, want %q", got, reason)
	}
}

func TestCheckOpen(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name   string
		ev     *eventsv1.Event
		reason string
	}{
		{"draft", &eventsv1.Event{State: eventsv1.EventState_EVENT_STATE_DRAFT, StartTime: at(30 * day)}, "EVENT_NOT_PUBLISHED"},
		{"unspecified state", &eventsv1.Event{StartTime: at(30 * day)}, "EVENT_NOT_PUBLISHED"},
		{"cancelled", &eventsv1.Event{State: eventsv1.EventState_EVENT_STATE_CANCELLED, StartTime: at(30 * day)}, "EVENT_CANCELLED"},
		{"open, no window", &eventsv1.Event{State: published, StartTime: at(30 * day)}, ""},
		{"open, no window, no dates", &eventsv1.Event{State: published}, ""},
		{"open within the window", &eventsv1.Event{State: published, StartTime: at(30 * day), RegistrationPolicy: &eventsv1.RegistrationPolicy{
			OpensTime: at(-day), ClosesTime: at(day)}}, ""},
		{"opens exactly now", &eventsv1.Event{State: published, RegistrationPolicy: &eventsv1.RegistrationPolicy{OpensTime: at(0)}}, ""},
		{"before opens_time", &eventsv1.Event{State: published, StartTime: at(30 * day), RegistrationPolicy: &eventsv1.RegistrationPolicy{
			OpensTime: at(time.Second)}}, "REGISTRATION_NOT_OPEN"},
		{"after closes_time", &eventsv1.Event{State: published, StartTime: at(30 * day), RegistrationPolicy: &eventsv1.RegistrationPolicy{
			ClosesTime: at(-time.Second)}}, "REGISTRATION_CLOSED"},
		{"closes exactly now", &eventsv1.Event{State: published, RegistrationPolicy: &eventsv1.RegistrationPolicy{ClosesTime: at(0)}}, "REGISTRATION_CLOSED"},
		{"closes_time after the start", &eventsv1.Event{State: published, StartTime: at(-day), RegistrationPolicy: &eventsv1.RegistrationPolicy{
			ClosesTime: at(day)}}, ""},
		{"default close at start_time: started", &eventsv1.Event{State: published, StartTime: at(-time.Second)}, "REGISTRATION_CLOSED"},
		{"default close at start_time: starts now", &eventsv1.Event{State: published, StartTime: at(0)}, "REGISTRATION_CLOSED"},
		{"default close at start_time: not yet", &eventsv1.Event{State: published, StartTime: at(time.Second)}, ""},
		{"state is checked before the window", &eventsv1.Event{State: eventsv1.EventState_EVENT_STATE_CANCELLED, StartTime: at(-day)}, "EVENT_CANCELLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.ev.Name = "events/ev1"
			wantErr(t, policy.CheckOpen(tc.ev, now), tc.reason)
		})
	}
}

func TestCheckCategory(t *testing.T) {
	for _, tc := range []struct {
		name     string
		allowed  []eventsv1.ParticipantCategory
		category eventsv1.ParticipantCategory
		reason   string
	}{
		{"all allowed when empty", nil, expert, ""},
		{"listed", []eventsv1.ParticipantCategory{delegate, observer}, observer, ""},
		{"not listed", []eventsv1.ParticipantCategory{delegate, observer}, expert, "CATEGORY_NOT_ALLOWED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &eventsv1.Event{Name: "events/ev1", RegistrationPolicy: &eventsv1.RegistrationPolicy{AllowedCategories: tc.allowed}}
			wantErr(t, policy.CheckCategory(ev, tc.category), tc.reason)
		})
	}
	t.Run("no policy", func(t *testing.T) {
		wantErr(t, policy.CheckCategory(&eventsv1.Event{}, delegate), "")
	})
}

func reg(country string, category eventsv1.ParticipantCategory, mode eventsv1.AttendanceMode) *registrationsv1.Registration {
	return &registrationsv1.Registration{
		Participant:    &registrationsv1.Participant{CountryCode: country},
		Category:       category,
		AttendanceMode: mode,
	}
}

// countsOf returns the counters of the registrations, all in state st.
func countsOf(st registrationsv1.RegistrationState, regs ...*registrationsv1.Registration) *store.Counts {
	c := &store.Counts{}
	for _, r := range regs {
		r.State = st
		c.Add(r, +1)
	}
	return c
}

func repeat(n int, r *registrationsv1.Registration) []*registrationsv1.Registration {
	var out []*registrationsv1.Registration
	for range n {
		out = append(out, &registrationsv1.Registration{
			Participant: &registrationsv1.Participant{CountryCode: r.GetParticipant().GetCountryCode()},
			Category:    r.GetCategory(), AttendanceMode: r.GetAttendanceMode(),
		})
	}
	return out
}

func TestNoSeat(t *testing.T) {
	mxDelegate := reg("MX", delegate, inPerson)
	for _, tc := range []struct {
		name   string
		policy *eventsv1.RegistrationPolicy
		counts *store.Counts
		reg    *registrationsv1.Registration
		want   string
	}{
		{"unlimited", nil, countsOf(confirmed, repeat(500, mxDelegate)...), mxDelegate, ""},
		{"capacity free", &eventsv1.RegistrationPolicy{Capacity: 3}, countsOf(confirmed, repeat(2, mxDelegate)...), mxDelegate, ""},
		{"capacity reached", &eventsv1.RegistrationPolicy{Capacity: 3}, countsOf(confirmed, repeat(3, mxDelegate)...), mxDelegate, "EVENT_FULL"},
		{"only confirmed count", &eventsv1.RegistrationPolicy{Capacity: 3},
			merge(countsOf(confirmed, repeat(2, mxDelegate)...), countsOf(waitlisted, repeat(5, mxDelegate)...), countsOf(pending, repeat(5, mxDelegate)...)),
			mxDelegate, ""},
		{"in-person seats reached, in-person attendee", &eventsv1.RegistrationPolicy{Capacity: 10, InPersonCapacity: 2},
			countsOf(confirmed, append(repeat(2, mxDelegate), repeat(3, reg("MX", delegate, virtual))...)...), reg("GT", expert, inPerson), "IN_PERSON_FULL"},
		{"in-person seats reached, virtual attendee", &eventsv1.RegistrationPolicy{Capacity: 10, InPersonCapacity: 2},
			countsOf(confirmed, repeat(2, mxDelegate)...), reg("GT", expert, virtual), ""},
		{"in-person seats free, virtual ones do not count", &eventsv1.RegistrationPolicy{InPersonCapacity: 2},
			countsOf(confirmed, append(repeat(1, mxDelegate), repeat(5, reg("MX", delegate, virtual))...)...), reg("GT", expert, inPerson), ""},
		{"capacity counts virtual attendees too", &eventsv1.RegistrationPolicy{Capacity: 3, InPersonCapacity: 2},
			countsOf(confirmed, repeat(3, reg("MX", delegate, virtual))...), reg("GT", expert, virtual), "EVENT_FULL"},
		{"quota reached", &eventsv1.RegistrationPolicy{DelegatesPerCountry: 2}, countsOf(confirmed, repeat(2, mxDelegate)...), mxDelegate, "COUNTRY_QUOTA_REACHED"},
		{"quota of another country", &eventsv1.RegistrationPolicy{DelegatesPerCountry: 2}, countsOf(confirmed, repeat(2, mxDelegate)...), reg("GT", delegate, inPerson), ""},
		{"quota is for delegates only", &eventsv1.RegistrationPolicy{DelegatesPerCountry: 2}, countsOf(confirmed, repeat(2, mxDelegate)...), reg("MX", observer, inPerson), ""},
		{"non-delegates of the country do not fill the quota", &eventsv1.RegistrationPolicy{DelegatesPerCountry: 2},
			countsOf(confirmed, append(repeat(1, mxDelegate), repeat(4, reg("MX", observer, inPerson))...)...), mxDelegate, ""},
		{"waitlisted delegates do not fill the quota", &eventsv1.RegistrationPolicy{DelegatesPerCountry: 1},
			countsOf(waitlisted, repeat(3, mxDelegate)...), mxDelegate, ""},
		{"full before quota", &eventsv1.RegistrationPolicy{Capacity: 2, DelegatesPerCountry: 2}, countsOf(confirmed, repeat(2, mxDelegate)...), mxDelegate, "EVENT_FULL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := policy.NoSeat(tc.policy, tc.reg, tc.counts); got != tc.want {
				t.Errorf("NoSeat = %q, want %q", got, tc.want)
			}
		})
	}
}

func merge(cs ...*store.Counts) *store.Counts {
	out := &store.Counts{ByState: map[string]*store.Tally{}}
	for _, c := range cs {
		for k, v := range c.ByState {
			out.ByState[k] = v
		}
	}
	return out
}

func TestAdmit(t *testing.T) {
	mxDelegate := reg("MX", delegate, inPerson)
	full := countsOf(confirmed, repeat(2, mxDelegate)...)
	for _, tc := range []struct {
		name       string
		policy     *eventsv1.RegistrationPolicy
		counts     *store.Counts
		reg        *registrationsv1.Registration
		wantState  registrationsv1.RegistrationState
		wantReason string // state_reason, or the error's reason when wantState is 0
	}{
		{"seat free", &eventsv1.RegistrationPolicy{Capacity: 3}, full, mxDelegate, confirmed, ""},
		{"no policy", nil, full, mxDelegate, confirmed, ""},
		{"approval required", &eventsv1.RegistrationPolicy{RequiresApproval: true}, full, mxDelegate, pending, ""},
		{"approval required, even when full", &eventsv1.RegistrationPolicy{RequiresApproval: true, Capacity: 2}, full, mxDelegate, pending, ""},
		{"full, waitlist", &eventsv1.RegistrationPolicy{Capacity: 2, WaitlistEnabled: true}, full, mxDelegate, waitlisted, "EVENT_FULL"},
		{"quota, waitlist", &eventsv1.RegistrationPolicy{DelegatesPerCountry: 2, WaitlistEnabled: true}, full, mxDelegate, waitlisted, "COUNTRY_QUOTA_REACHED"},
		{"in person full, waitlist", &eventsv1.RegistrationPolicy{InPersonCapacity: 2, WaitlistEnabled: true}, full, mxDelegate, waitlisted, "IN_PERSON_FULL"},
		{"full, no waitlist", &eventsv1.RegistrationPolicy{Capacity: 2}, full, mxDelegate, 0, "EVENT_FULL"},
		{"quota, no waitlist", &eventsv1.RegistrationPolicy{Capacity: 10, DelegatesPerCountry: 2}, full, mxDelegate, 0, "COUNTRY_QUOTA_REACHED"},
		{"quota, other country", &eventsv1.RegistrationPolicy{Capacity: 10, DelegatesPerCountry: 2}, full, reg("GT", delegate, inPerson), confirmed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &eventsv1.Event{Name: "events/ev1", State: published, RegistrationPolicy: tc.policy}
			r := &registrationsv1.Registration{
				Participant: tc.reg.GetParticipant(), Category: tc.reg.GetCategory(), AttendanceMode: tc.reg.GetAttendanceMode(),
			}
			err := policy.Admit(ev, r, tc.counts)
			if tc.wantState == 0 {
				wantErr(t, err, tc.wantReason)
				if r.GetState() != 0 || r.GetStateReason() != "" {
					t.Errorf("a refused registration got state %v (%q)", r.GetState(), r.GetStateReason())
				}
				return
			}
			if err != nil {
				t.Fatalf("Admit: %v", err)
			}
			if r.GetState() != tc.wantState {
				t.Errorf("state = %v, want %v", r.GetState(), tc.wantState)
			}
			if r.GetStateReason() != tc.wantReason {
				t.Errorf("state_reason = %q, want %q", r.GetStateReason(), tc.wantReason)
			}
		})
	}
}
