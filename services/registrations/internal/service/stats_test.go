package service_test

import (
	"fmt"
	"maps"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/country"
)

func (e *env) stats(t *testing.T, event string) *registrationsv1.RegistrationStats {
	t.Helper()
	st, err := e.client.GetRegistrationStats(ctx, &registrationsv1.GetRegistrationStatsRequest{Name: event + "/registrationStats"})
	if err != nil {
		t.Fatalf("GetRegistrationStats(%s): %v", event, err)
	}
	return st
}

// seatsByCountry returns the delegate seats left of every Member Country:
// quota, less the confirmed delegates in used.
func seatsByCountry(quota int32, used map[string]int32) map[string]int32 {
	out := map[string]int32{}
	for _, cc := range country.RCMMembers {
		out[cc] = quota - used[cc]
	}
	return out
}

func TestStats(t *testing.T) {
	const (
		female = registrationsv1.Gender_GENDER_FEMALE
		male   = registrationsv1.Gender_GENDER_MALE
		other  = registrationsv1.Gender_GENDER_OTHER
		notSay = registrationsv1.Gender_GENDER_PREFER_NOT_TO_SAY
		noneG  = registrationsv1.Gender_GENDER_UNSPECIFIED
	)
	e := newEnv(t) // events/stats: hybrid, 6 seats, 3 in person, 2 delegates per country, a waiting list

	t.Run("no registrations yet", func(t *testing.T) {
		got := e.stats(t, "events/stats")
		want := &registrationsv1.RegistrationStats{
			Name:                       "events/stats/registrationStats",
			SeatsLeft:                  proto.Int32(6),
			InPersonSeatsLeft:          proto.Int32(3),
			DelegateSeatsLeftByCountry: seatsByCountry(2, nil),
		}
		if !proto.Equal(got, want) {
			t.Errorf("stats = %v, want %v", got, want)
		}
		if len(got.GetDelegateSeatsLeftByCountry()) != 11 {
			t.Errorf("delegate seats for %d countries, want the 11 RCM Member Countries", len(got.GetDelegateSeatsLeftByCountry()))
		}
	})

	specs := []struct {
		country  string
		category eventsv1.ParticipantCategory
		mode     eventsv1.AttendanceMode
		gender   registrationsv1.Gender
		want     registrationsv1.RegistrationState
	}{
		{"MX", delegate, inPerson, female, confirmed},      // 0
		{"MX", delegate, virtual, male, confirmed},         // 1
		{"MX", delegate, inPerson, female, waitlisted},     // 2 quota
		{"ES", observer, inPerson, noneG, confirmed},       // 3
		{"CA", expert, inPerson, other, confirmed},         // 4 the 3rd in person
		{"US", civilSociety, inPerson, female, waitlisted}, // 5 in person full
		{"HN", delegate, virtual, female, confirmed},       // 6
		{"GT", delegate, virtual, male, confirmed},         // 7 the 6th seat
		{"SV", delegate, virtual, notSay, waitlisted},      // 8 full
	}
	var names []string
	for i, s := range specs {
		r := e.create(t, "events/stats", person(fmt.Sprintf("p%d@example.org", i), s.country, s.category, s.mode, s.gender))
		if r.GetState() != s.want {
			t.Fatalf("registration %d: state = %v, want %v", i, r.GetState(), s.want)
		}
		names = append(names, r.GetName())
	}

	t.Run("full", func(t *testing.T) {
		got := e.stats(t, "events/stats")
		if got.GetSeatsLeft() != 0 || got.GetInPersonSeatsLeft() != 0 || got.SeatsLeft == nil || got.InPersonSeatsLeft == nil {
			t.Errorf("seats_left %v, in_person_seats_left %v; want 0 and 0", got.SeatsLeft, got.InPersonSeatsLeft)
		}
		if want := seatsByCountry(2, map[string]int32{"MX": 2, "HN": 1, "GT": 1}); !maps.Equal(got.GetDelegateSeatsLeftByCountry(), want) {
			t.Errorf("delegate_seats_left_by_country = %v, want %v", got.GetDelegateSeatsLeftByCountry(), want)
		}
	})

	// The Spanish observer cancels: an in-person seat is free again, and it
	// goes to the US participant (the MX delegate before it still finds
	// MX's quota taken; SV finds the event full).
	e.cancel(t, names[3])
	e.assertStates(t, "after the cancellation", names, "CCWXCCCCW")

	got := e.stats(t, "events/stats")
	want := &registrationsv1.RegistrationStats{
		Name: "events/stats/registrationStats",
		States: []*registrationsv1.StateCounts{
			{
				State: confirmed, Total: 6,
				ByCountry: map[string]int32{"MX": 2, "CA": 1, "US": 1, "HN": 1, "GT": 1},
				ByCategory: map[string]int32{
					"PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE": 4,
					"PARTICIPANT_CATEGORY_INVITED_EXPERT":          1,
					"PARTICIPANT_CATEGORY_CIVIL_SOCIETY":           1,
				},
				ByAttendanceMode: map[string]int32{"ATTENDANCE_MODE_IN_PERSON": 3, "ATTENDANCE_MODE_VIRTUAL": 3},
				ByGender:         map[string]int32{"GENDER_FEMALE": 3, "GENDER_MALE": 2, "GENDER_OTHER": 1},
			},
			{
				State: waitlisted, Total: 2,
				ByCountry:        map[string]int32{"MX": 1, "SV": 1},
				ByCategory:       map[string]int32{"PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE": 2},
				ByAttendanceMode: map[string]int32{"ATTENDANCE_MODE_IN_PERSON": 1, "ATTENDANCE_MODE_VIRTUAL": 1},
				ByGender:         map[string]int32{"GENDER_FEMALE": 1, "GENDER_PREFER_NOT_TO_SAY": 1},
			},
			{
				State: cancelled, Total: 1,
				ByCountry:        map[string]int32{"ES": 1},
				ByCategory:       map[string]int32{"PARTICIPANT_CATEGORY_OBSERVER_COUNTRY": 1},
				ByAttendanceMode: map[string]int32{"ATTENDANCE_MODE_IN_PERSON": 1},
				ByGender:         map[string]int32{"GENDER_UNSPECIFIED": 1},
			},
		},
		SeatsLeft:                  proto.Int32(0),
		InPersonSeatsLeft:          proto.Int32(0),
		DelegateSeatsLeftByCountry: seatsByCountry(2, map[string]int32{"MX": 2, "HN": 1, "GT": 1}),
	}
	if !proto.Equal(got, want) {
		t.Errorf("stats =\n%v\nwant\n%v", got, want)
	}
	assertCountsMatch(t, e, "stats")

	t.Run("seats left", func(t *testing.T) {
		e.cancel(t, names[7]) // GT, virtual: SV, waiting, takes the seat
		e.cancel(t, names[6]) // HN, virtual: the MX delegate waiting finds no in-person seat
		got := e.stats(t, "events/stats")
		if got.GetSeatsLeft() != 1 || got.GetInPersonSeatsLeft() != 0 {
			t.Errorf("seats_left %d, in_person_seats_left %d; want 1 and 0", got.GetSeatsLeft(), got.GetInPersonSeatsLeft())
		}
		if want := seatsByCountry(2, map[string]int32{"MX": 2, "SV": 1}); !maps.Equal(got.GetDelegateSeatsLeftByCountry(), want) {
			t.Errorf("delegate_seats_left_by_country = %v, want %v", got.GetDelegateSeatsLeftByCountry(), want)
		}
	})

	t.Run("capacity lowered below the confirmed", func(t *testing.T) {
		// Seats left are never negative.
		e.setPolicy(t, "events/stats", func(p *eventsv1.RegistrationPolicy) { p.Capacity, p.InPersonCapacity, p.DelegatesPerCountry = 2, 1, 1 })
		got := e.stats(t, "events/stats")
		if got.GetSeatsLeft() != 0 || got.GetInPersonSeatsLeft() != 0 || got.GetDelegateSeatsLeftByCountry()["MX"] != 0 {
			t.Errorf("seats_left %d, in_person_seats_left %d, MX %d; want 0, 0, 0",
				got.GetSeatsLeft(), got.GetInPersonSeatsLeft(), got.GetDelegateSeatsLeftByCountry()["MX"])
		}
	})

	t.Run("no limits", func(t *testing.T) {
		e.create(t, "events/open", participant("ana@example.org"))
		got := e.stats(t, "events/open")
		if got.SeatsLeft != nil || got.InPersonSeatsLeft != nil || len(got.GetDelegateSeatsLeftByCountry()) != 0 {
			t.Errorf("stats = %v, want no seats_left, no in_person_seats_left, no delegate seats: the event has no limits", got)
		}
		if len(got.GetStates()) != 1 || got.GetStates()[0].GetState() != confirmed || got.GetStates()[0].GetTotal() != 1 {
			t.Errorf("states = %v, want 1 confirmed", got.GetStates())
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := e.client.GetRegistrationStats(ctx, &registrationsv1.GetRegistrationStatsRequest{Name: "events/nope/registrationStats"})
		assertStatus(t, err, codes.NotFound, "EVENT_NOT_FOUND")
		for _, name := range []string{"events/stats", "events/stats/registrations", "registrationStats"} {
			_, err = e.client.GetRegistrationStats(ctx, &registrationsv1.GetRegistrationStatsRequest{Name: name})
			assertInvalid(t, err, "name")
		}
	})
}
