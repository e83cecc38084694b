package policy_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/errdefs"
	"convene.dev/services/registrations/internal/policy"
	"convene.dev/services/registrations/internal/store"
	"convene.dev/services/registrations/internal/store/boltstore"
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

func TestPlace(t *testing.T) {
	mxDelegate := reg("MX", delegate, inPerson)
	two := countsOf(confirmed, repeat(2, mxDelegate)...)
	for _, tc := range []struct {
		name       string
		policy     *eventsv1.RegistrationPolicy
		reg        *registrationsv1.Registration
		wantState  registrationsv1.RegistrationState
		wantReason string // state_reason, or the error's reason when wantState is 0
	}{
		{"seat free", &eventsv1.RegistrationPolicy{Capacity: 3}, mxDelegate, confirmed, ""},
		{"unlimited", nil, mxDelegate, confirmed, ""},
		{"approval is not Place's business", &eventsv1.RegistrationPolicy{RequiresApproval: true, Capacity: 3}, mxDelegate, confirmed, ""},
		{"full, waitlist", &eventsv1.RegistrationPolicy{Capacity: 2, WaitlistEnabled: true}, mxDelegate, waitlisted, "EVENT_FULL"},
		{"in person full, waitlist", &eventsv1.RegistrationPolicy{InPersonCapacity: 2, WaitlistEnabled: true}, mxDelegate, waitlisted, "IN_PERSON_FULL"},
		{"in person full, virtual fits", &eventsv1.RegistrationPolicy{InPersonCapacity: 2}, reg("MX", delegate, virtual), confirmed, ""},
		{"quota, waitlist", &eventsv1.RegistrationPolicy{DelegatesPerCountry: 2, WaitlistEnabled: true}, mxDelegate, waitlisted, "COUNTRY_QUOTA_REACHED"},
		{"full, no waitlist", &eventsv1.RegistrationPolicy{Capacity: 2}, mxDelegate, 0, "EVENT_FULL"},
		{"in person full, no waitlist", &eventsv1.RegistrationPolicy{InPersonCapacity: 2}, mxDelegate, 0, "IN_PERSON_FULL"},
		{"quota, no waitlist", &eventsv1.RegistrationPolicy{DelegatesPerCountry: 2}, mxDelegate, 0, "COUNTRY_QUOTA_REACHED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A registration that was pending with an old reason: Place sets both.
			r := &registrationsv1.Registration{
				Participant: tc.reg.GetParticipant(), Category: tc.reg.GetCategory(), AttendanceMode: tc.reg.GetAttendanceMode(),
				State: pending, StateReason: "old reason",
			}
			err := policy.Place("events/ev1", tc.policy, r, two)
			if tc.wantState == 0 {
				wantErr(t, err, tc.wantReason)
				if r.GetState() != pending || r.GetStateReason() != "old reason" {
					t.Errorf("a refused registration changed to %v (%q)", r.GetState(), r.GetStateReason())
				}
				return
			}
			if err != nil {
				t.Fatalf("Place: %v", err)
			}
			if r.GetState() != tc.wantState || r.GetStateReason() != tc.wantReason {
				t.Errorf("state = %v (%q), want %v (%q)", r.GetState(), r.GetStateReason(), tc.wantState, tc.wantReason)
			}
		})
	}
}

// spec is one registration in a Promote test, in arrival order.
type spec struct {
	country  string
	category eventsv1.ParticipantCategory
	mode     eventsv1.AttendanceMode
	state    registrationsv1.RegistrationState
}

// seed stores the registrations in a fresh bbolt store, in order, and
// returns the store and their names.
func seed(t *testing.T, specs []spec) (*boltstore.Store, []string) {
	t.Helper()
	db, err := boltdb.Open(filepath.Join(t.TempDir(), "registrations.db"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.New(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var names []string
	err = s.Update(context.Background(), "ev1", func(tx store.Tx) error {
		for i, sp := range specs {
			name, err := tx.NewName()
			if err != nil {
				return err
			}
			r := reg(sp.country, sp.category, sp.mode)
			r.Name, r.State = name, sp.state
			r.Participant.Email = fmt.Sprintf("p%d@example.org", i)
			if sp.state == waitlisted {
				r.StateReason = "EVENT_FULL"
			}
			if _, err := tx.Insert(r, ""); err != nil {
				return err
			}
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, names
}

func TestPromote(t *testing.T) {
	W, C := waitlisted, confirmed
	for _, tc := range []struct {
		name   string
		policy *eventsv1.RegistrationPolicy
		regs   []spec
		want   []int // indexes promoted, in the order Promote took them
	}{
		{"oldest first", &eventsv1.RegistrationPolicy{Capacity: 3, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"GT", delegate, inPerson, W}, {"HN", delegate, inPerson, C}, {"SV", delegate, inPerson, W}},
			[]int{1}},
		{"each that fits, in order", &eventsv1.RegistrationPolicy{Capacity: 10, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"GT", observer, inPerson, W}, {"HN", delegate, virtual, W}, {"SV", expert, inPerson, W}},
			[]int{1, 2, 3}},
		{"stops at capacity", &eventsv1.RegistrationPolicy{Capacity: 4, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"GT", delegate, inPerson, C}, {"HN", delegate, inPerson, W}, {"SV", delegate, inPerson, W},
				{"CR", delegate, inPerson, W}, {"PA", delegate, inPerson, W}},
			[]int{2, 3}},
		{"full: nobody", &eventsv1.RegistrationPolicy{Capacity: 1, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"GT", delegate, inPerson, W}},
			nil},
		{"capacity lowered below the confirmed: nobody, nobody un-confirmed", &eventsv1.RegistrationPolicy{Capacity: 1, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"GT", delegate, inPerson, C}, {"HN", delegate, inPerson, W}},
			nil},
		{"a quota-blocked MX delegate does not block a younger GT delegate", &eventsv1.RegistrationPolicy{Capacity: 10, DelegatesPerCountry: 1, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"MX", delegate, inPerson, W}, {"GT", delegate, inPerson, W}},
			[]int{2}},
		{"the quota counts those promoted just now", &eventsv1.RegistrationPolicy{Capacity: 10, DelegatesPerCountry: 1, WaitlistEnabled: true},
			[]spec{{"GT", delegate, inPerson, W}, {"GT", delegate, inPerson, W}, {"MX", observer, inPerson, W}, {"MX", delegate, inPerson, W}},
			[]int{0, 2, 3}},
		{"quota blocks delegates only", &eventsv1.RegistrationPolicy{Capacity: 10, DelegatesPerCountry: 1, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"MX", delegate, inPerson, W}, {"MX", expert, inPerson, W}},
			[]int{2}},
		{"in-person seats: a virtual attendee passes an in-person one", &eventsv1.RegistrationPolicy{Capacity: 10, InPersonCapacity: 1, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"GT", delegate, inPerson, W}, {"HN", delegate, virtual, W}, {"SV", observer, inPerson, W}},
			[]int{2}},
		{"in-person seats free up for the oldest in person", &eventsv1.RegistrationPolicy{Capacity: 10, InPersonCapacity: 2, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"GT", delegate, inPerson, W}, {"HN", delegate, inPerson, W}, {"SV", delegate, virtual, W}},
			[]int{1, 3}},
		{"capacity before the in-person seats", &eventsv1.RegistrationPolicy{Capacity: 2, InPersonCapacity: 1, WaitlistEnabled: true},
			[]spec{{"MX", delegate, inPerson, C}, {"GT", delegate, inPerson, W}, {"HN", delegate, virtual, W}, {"SV", delegate, virtual, W}},
			[]int{2}},
		{"other states are not on the list", nil,
			[]spec{{"MX", delegate, inPerson, pending}, {"GT", delegate, inPerson, registrationsv1.RegistrationState_REGISTRATION_STATE_CANCELLED},
				{"HN", delegate, inPerson, registrationsv1.RegistrationState_REGISTRATION_STATE_REJECTED}, {"SV", delegate, inPerson, W}},
			[]int{3}},
		{"no waiting list", &eventsv1.RegistrationPolicy{Capacity: 5},
			[]spec{{"MX", delegate, inPerson, C}},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, names := seed(t, tc.regs)
			ev := &eventsv1.Event{Name: "events/ev1", State: published, RegistrationPolicy: tc.policy}
			stamp := timestamppb.New(now)
			var touched []string
			err := s.Update(context.Background(), "ev1", func(tx store.Tx) error {
				return policy.Promote(ev, tx, func(r *registrationsv1.Registration) {
					if r.GetState() != confirmed || r.GetStateReason() != "PROMOTED_FROM_WAITLIST" {
						t.Errorf("touch(%s) sees state %v (%q), want CONFIRMED (PROMOTED_FROM_WAITLIST)", r.GetName(), r.GetState(), r.GetStateReason())
					}
					r.UpdateTime = stamp
					touched = append(touched, r.GetName())
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, names[i])
			}
			if !slices.Equal(touched, want) {
				t.Errorf("promoted %v, want %v", touched, want)
			}
			page, _, err := s.List(context.Background(), "ev1", "", 100, false, func(*registrationsv1.Registration) bool { return true })
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range page {
				wantState, wantReason := tc.regs[i].state, ""
				if wantState == waitlisted {
					wantReason = "EVENT_FULL"
				}
				if slices.Contains(tc.want, i) {
					wantState, wantReason = confirmed, "PROMOTED_FROM_WAITLIST"
					if !r.GetUpdateTime().AsTime().Equal(now) {
						t.Errorf("%d: update_time = %v, want %v (set by touch)", i, r.GetUpdateTime(), now)
					}
				}
				if r.GetState() != wantState || r.GetStateReason() != wantReason {
					t.Errorf("%d (%s %s): state = %v (%q), want %v (%q)", i, tc.regs[i].country, tc.regs[i].mode,
						r.GetState(), r.GetStateReason(), wantState, wantReason)
				}
			}
			// The counters followed.
			c, _ := s.Counts(context.Background(), "ev1")
			wantConfirmed := int32(len(tc.want))
			for _, sp := range tc.regs {
				if sp.state == confirmed {
					wantConfirmed++
				}
			}
			if got := c.State(confirmed).Total; got != wantConfirmed {
				t.Errorf("counts: %d confirmed, want %d", got, wantConfirmed)
			}
		})
	}
}

func TestPromoteError(t *testing.T) {
	// An error from the store ends Promote with that error.
	s, _ := seed(t, []spec{{"MX", delegate, inPerson, waitlisted}})
	ev := &eventsv1.Event{Name: "events/ev1", State: published}
	errBoom := errors.New("boom")
	err := s.Update(context.Background(), "ev1", func(tx store.Tx) error {
		return policy.Promote(ev, failingPut{tx, errBoom}, func(*registrationsv1.Registration) {})
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("error = %v, want %v", err, errBoom)
	}
	c, _ := s.Counts(context.Background(), "ev1")
	if got := c.State(waitlisted).Total; got != 1 {
		t.Errorf("%d waitlisted after a failed promotion, want 1", got)
	}
}

// failingPut is a Tx whose Put fails.
type failingPut struct {
	store.Tx
	err error
}

func (f failingPut) Put(*registrationsv1.Registration) error { return f.err }
