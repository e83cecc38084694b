package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

var members = []string{"BZ", "CA", "CR", "DO", "SV", "GT", "HN", "MX", "NI", "PA", "US"}

const (
	confirmedState  = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	waitlistedState = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED
	delegateCat     = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE
	inPersonMode    = eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
)

// TestConcurrentAdmission: 500 concurrent registrations from 11 countries
// for 50 seats (30 in the room) with 3 delegates per country, then
// concurrent cancels and rejects and a capacity raise. Afterwards no limit
// is exceeded, the waiting list was served in arrival order, nobody who
// fits is left waiting, and the counters equal a full recount.
func TestConcurrentAdmission(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))

	s := startSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	events := eventsv1.NewEventServiceClient(s.eventsConn)
	regs := registrationsv1.NewRegistrationServiceClient(s.registrationsConn)
	start := time.Now().Add(48 * time.Hour)
	const capacity, inPerson, quota = 50, 30, 3
	_, err := events.CreateEvent(ctx, &eventsv1.CreateEventRequest{EventId: "xxvi-rcm", Event: &eventsv1.Event{
		Title: "XXVI Regional Conference on Migration", Kind: eventsv1.EventKind_EVENT_KIND_CONFERENCE,
		AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID,
		StartTime:      timestamppb.New(start), EndTime: timestamppb.New(start.Add(48 * time.Hour)),
		RegistrationPolicy: &eventsv1.RegistrationPolicy{
			Capacity: capacity, InPersonCapacity: inPerson, DelegatesPerCountry: quota, WaitlistEnabled: true,
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/xxvi-rcm"}); err != nil {
		t.Fatal(err)
	}

	// 500 creates, 64 at a time. A quarter are observer organisations (no
	// quota); half attend in person.
	type plan struct {
		country  string
		category eventsv1.ParticipantCategory
		mode     eventsv1.AttendanceMode
	}
	plans := make([]plan, 500)
	for i := range plans {
		p := plan{country: members[rng.IntN(len(members))], category: delegateCat, mode: inPersonMode}
		if rng.IntN(4) == 0 {
			p.category = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_ORGANIZATION
		}
		if rng.IntN(2) == 0 {
			p.mode = eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL
		}
		plans[i] = p
	}
	names := make([]string, len(plans))
	parallel(t, len(plans), 64, func(i int) error {
		p := plans[i]
		r, err := regs.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
			Parent: "events/xxvi-rcm",
			Registration: &registrationsv1.Registration{
				Participant: &registrationsv1.Participant{
					GivenName: "P", FamilyName: fmt.Sprint(i), Email: fmt.Sprintf("p%d@example.org", i), CountryCode: p.country,
					Gender: registrationsv1.Gender(1 + i%4),
				},
				Category: p.category, AttendanceMode: p.mode,
			},
		})
		if err != nil {
			return fmt.Errorf("create %d: %w", i, err)
		}
		names[i] = r.GetName()
		return nil
	})
	check(t, ctx, regs, capacity, inPerson, quota)

	// Raise the capacity, then cancel and reject concurrently.
	ev, err := events.GetEvent(ctx, &eventsv1.GetEventRequest{Name: "events/xxvi-rcm"})
	if err != nil {
		t.Fatal(err)
	}
	ev.RegistrationPolicy.Capacity = 60
	if _, err := events.UpdateEvent(ctx, &eventsv1.UpdateEventRequest{Event: ev,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"registration_policy.capacity"}}}); err != nil {
		t.Fatal(err)
	}
	victims := rng.Perm(len(names))[:150]
	parallel(t, len(victims), 32, func(i int) error {
		name := names[victims[i]]
		var err error
		if i%3 == 0 {
			_, err = regs.RejectRegistration(ctx, &registrationsv1.RejectRegistrationRequest{Name: name, Reason: "not accredited"})
		} else {
			_, err = regs.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: name})
		}
		if status.Code(err) == codes.FailedPrecondition { // e.g. rejecting one already cancelled: fine
			return nil
		}
		return err
	})
	check(t, ctx, regs, 60, inPerson, quota)

	// Cancel every observer organisation: the seats left are then more than
	// the delegates' quotas can fill, so the waiting list must be down to
	// delegates of countries at their quota (or in-person ones with the room full).
	var observers []string
	for i, p := range plans {
		if p.category != delegateCat {
			observers = append(observers, names[i])
		}
	}
	parallel(t, len(observers), 32, func(i int) error {
		_, err := regs.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: observers[i]})
		if status.Code(err) == codes.FailedPrecondition {
			return nil
		}
		return err
	})
	check(t, ctx, regs, 60, inPerson, quota)
}

// parallel runs fn(0..n-1) with at most width at once and fails on any error.
func parallel(t *testing.T, n, width int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, width)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// check reads every registration back and checks the invariants.
func check(t *testing.T, ctx context.Context, regs registrationsv1.RegistrationServiceClient, capacity, inPerson, quota int32) {
	t.Helper()
	var all []*registrationsv1.Registration
	token := ""
	for {
		r, err := regs.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/xxvi-rcm", PageSize: 100, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, r.GetRegistrations()...)
		if token = r.GetNextPageToken(); token == "" {
			break
		}
	}
	var confirmed, room int32
	delegates := map[string]int32{}
	byState := map[registrationsv1.RegistrationState]int32{}
	byCountry := map[registrationsv1.RegistrationState]map[string]int32{}
	for _, r := range all {
		byState[r.GetState()]++
		if byCountry[r.GetState()] == nil {
			byCountry[r.GetState()] = map[string]int32{}
		}
		byCountry[r.GetState()][r.GetParticipant().GetCountryCode()]++
		if r.GetState() != confirmedState {
			continue
		}
		confirmed++
		if r.GetAttendanceMode() == inPersonMode {
			room++
		}
		if r.GetCategory() == delegateCat {
			delegates[r.GetParticipant().GetCountryCode()]++
		}
	}
	t.Logf("%d registrations: %v; %d confirmed, %d in the room", len(all), byState, confirmed, room)
	if confirmed > capacity || room > inPerson {
		t.Errorf("confirmed %d (capacity %d), in the room %d (seats %d)", confirmed, capacity, room, inPerson)
	}
	for cc, n := range delegates {
		if n > quota {
			t.Errorf("%d confirmed delegates of %s, quota %d", n, cc, quota)
		}
	}

	// Nobody who fits is left waiting.
	fits := func(r *registrationsv1.Registration) bool {
		return confirmed < capacity &&
			(r.GetAttendanceMode() != inPersonMode || room < inPerson) &&
			(r.GetCategory() != delegateCat || delegates[r.GetParticipant().GetCountryCode()] < quota)
	}
	// Arrival order: within one class (country, category, mode) a younger
	// registration is never confirmed by promotion while an older one waits.
	type class struct {
		cc  string
		cat eventsv1.ParticipantCategory
		m   eventsv1.AttendanceMode
	}
	oldestWaiting := map[class]string{}
	for _, r := range all { // all is in arrival order
		k := class{r.GetParticipant().GetCountryCode(), r.GetCategory(), r.GetAttendanceMode()}
		switch {
		case r.GetState() == waitlistedState:
			if fits(r) {
				t.Errorf("%s waits although it fits", r.GetName())
			}
			if _, ok := oldestWaiting[k]; !ok {
				oldestWaiting[k] = r.GetName()
			}
		case r.GetState() == confirmedState && r.GetStateReason() == "PROMOTED_FROM_WAITLIST":
			if w, ok := oldestWaiting[k]; ok {
				t.Errorf("%s was promoted before the older %s", r.GetName(), w)
			}
		}
	}

	// The counters equal the recount.
	stats, err := regs.GetRegistrationStats(ctx, &registrationsv1.GetRegistrationStatsRequest{Name: "events/xxvi-rcm/registrationStats"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[registrationsv1.RegistrationState]int32{}
	for _, sc := range stats.GetStates() {
		got[sc.GetState()] = sc.GetTotal()
		for cc, n := range sc.GetByCountry() {
			if byCountry[sc.GetState()][cc] != n {
				t.Errorf("stats: %s %s = %d, recount %d", sc.GetState(), cc, n, byCountry[sc.GetState()][cc])
			}
		}
	}
	for st, n := range byState {
		if got[st] != n {
			t.Errorf("stats: %s = %d, recount %d", st, got[st], n)
		}
	}
	if stats.GetSeatsLeft() != capacity-confirmed {
		t.Errorf("seats left %d, want %d", stats.GetSeatsLeft(), capacity-confirmed)
	}
}
