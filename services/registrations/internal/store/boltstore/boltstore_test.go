package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/errdefs"
	"convene.dev/services/registrations/internal/store"
	"convene.dev/services/registrations/internal/store/boltstore"
)

const (
	confirmed  = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	waitlisted = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED
	pending    = registrationsv1.RegistrationState_REGISTRATION_STATE_PENDING_APPROVAL
	cancelled  = registrationsv1.RegistrationState_REGISTRATION_STATE_CANCELLED

	delegate = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE
	observer = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_COUNTRY
	expert   = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_INVITED_EXPERT

	inPerson = eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
	virtual  = eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL
)

var ctx = context.Background()

// open opens (or creates) the store at path; the test closes it at the end
// unless it closes it itself.
func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	db, err := boltdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.New(db)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // closing twice is harmless in bbolt
	return s
}

func newStore(t *testing.T) *boltstore.Store {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "registrations.db"))
}

// newReg returns a registration as the service hands it to the store.
func newReg(email, country string, category eventsv1.ParticipantCategory) *registrationsv1.Registration {
	return &registrationsv1.Registration{
		Participant: &registrationsv1.Participant{
			GivenName:   "Ana",
			FamilyName:  "Pérez",
			Email:       email,
			CountryCode: country,
			Gender:      registrationsv1.Gender_GENDER_FEMALE,
		},
		Category:       category,
		AttendanceMode: inPerson,
	}
}

// admit is a Decide that gives every registration the state st.
func admit(st registrationsv1.RegistrationState) store.Decide {
	return func(r *registrationsv1.Registration, _ *store.Counts) error {
		r.State = st
		return nil
	}
}

func idOf(t *testing.T, name, eventID string) string {
	t.Helper()
	id, ok := strings.CutPrefix(name, "events/"+eventID+"/registrations/")
	if !ok || id == "" || strings.Contains(id, "/") {
		t.Fatalf("name = %q, want events/%s/registrations/{id}", name, eventID)
	}
	return id
}

func mustCreate(t *testing.T, s store.Store, eventID, requestID string, reg *registrationsv1.Registration, decide store.Decide) *registrationsv1.Registration {
	t.Helper()
	got, created, err := s.Create(ctx, eventID, requestID, reg, decide)
	if err != nil {
		t.Fatalf("Create(%s, %s): %v", eventID, reg.GetParticipant().GetEmail(), err)
	}
	if !created {
		t.Fatalf("Create(%s, %s): created = false, want true", eventID, reg.GetParticipant().GetEmail())
	}
	return got
}

func all(*registrationsv1.Registration) bool { return true }

func names(regs []*registrationsv1.Registration) []string {
	var out []string
	for _, r := range regs {
		out = append(out, r.GetName())
	}
	return out
}

func TestCreateNamesInArrivalOrder(t *testing.T) {
	s := newStore(t)
	var ids []string
	for i := range 12 {
		in := newReg(fmt.Sprintf("p%d@example.org", i), "MX", delegate)
		got := mustCreate(t, s, "ev1", "", in, admit(confirmed))
		if in.GetName() != "" || in.GetState() != 0 {
			t.Fatalf("Create changed its argument: name %q, state %v", in.GetName(), in.GetState())
		}
		id := idOf(t, got.GetName(), "ev1")
		if len(id) != 16 {
			t.Errorf("id %q has %d characters, want 16", id, len(id))
		}
		if got.GetState() != confirmed {
			t.Errorf("state = %v, want %v (set by decide)", got.GetState(), confirmed)
		}
		stored, err := s.Get(ctx, "ev1", id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if !proto.Equal(stored, got) {
			t.Errorf("Get(%s) = %v, want %v", id, stored, got)
		}
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Errorf("ids %v do not sort strictly in arrival order", ids)
	}

	// Another event has its own registrations.
	other := mustCreate(t, s, "ev2", "", newReg("p0@example.org", "MX", delegate), admit(confirmed))
	idOf(t, other.GetName(), "ev2")
	page, total, err := s.List(ctx, "ev1", "", 100, all)
	if err != nil || total != len(ids) || len(page) != len(ids) {
		t.Fatalf("List(ev1) = %d registrations, total %d, err %v; want %d", len(page), total, err, len(ids))
	}
}

func TestGetNotFound(t *testing.T) {
	s := newStore(t)
	got := mustCreate(t, s, "ev1", "", newReg("a@example.org", "MX", delegate), admit(confirmed))
	id := idOf(t, got.GetName(), "ev1")
	for _, tc := range []struct{ name, eventID, id string }{
		{"unknown event", "nope", id},
		{"unknown id", "ev1", "2222222222222222"},
		{"id of another event", "ev2", id},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Get(ctx, tc.eventID, tc.id)
			if !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("Get(%s, %s) error = %v, want ErrNotFound", tc.eventID, tc.id, err)
			}
		})
	}
}

func TestList(t *testing.T) {
	s := newStore(t)
	countries := []string{"MX", "GT", "MX", "HN", "MX", "CR"}
	var want []string // names in arrival order
	for i, cc := range countries {
		r := mustCreate(t, s, "ev1", "", newReg(fmt.Sprintf("p%d@example.org", i), cc, delegate), admit(confirmed))
		want = append(want, r.GetName())
	}
	mustCreate(t, s, "ev2", "", newReg("other@example.org", "MX", delegate), admit(confirmed))
	id := func(i int) string { return want[i][strings.LastIndex(want[i], "/")+1:] }
	mx := func(r *registrationsv1.Registration) bool { return r.GetParticipant().GetCountryCode() == "MX" }
	none := func(*registrationsv1.Registration) bool { return false }

	for _, tc := range []struct {
		name      string
		eventID   string
		after     string
		limit     int
		match     func(*registrationsv1.Registration) bool
		want      []string
		wantTotal int
	}{
		{"everything", "ev1", "", 100, all, want, 6},
		{"first page", "ev1", "", 2, all, want[:2], 6},
		{"second page", "ev1", id(1), 2, all, want[2:4], 6},
		{"last page is short", "ev1", id(3), 5, all, want[4:], 6},
		{"after the last", "ev1", id(5), 5, all, nil, 6},
		{"match", "ev1", "", 100, mx, []string{want[0], want[2], want[4]}, 3},
		{"match, paged", "ev1", id(0), 1, mx, []string{want[2]}, 3},
		{"no match", "ev1", "", 100, none, nil, 0},
		{"unknown event", "nope", "", 100, all, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, total, err := s.List(ctx, tc.eventID, tc.after, tc.limit, tc.match)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(page); !slices.Equal(got, tc.want) {
				t.Errorf("page = %v, want %v", got, tc.want)
			}
			if total != tc.wantTotal {
				t.Errorf("total = %d, want %d", total, tc.wantTotal)
			}
		})
	}
}

func TestEmailUniquePerEvent(t *testing.T) {
	for _, tc := range []struct {
		name         string
		second       string
		secondEvent  string
		wantConflict bool
	}{
		{"same address", "ana@example.org", "ev1", true},
		{"other case", "ANA@Example.ORG", "ev1", true},
		{"surrounding spaces", "  ana@example.org\t", "ev1", true},
		{"other address", "ana2@example.org", "ev1", false},
		{"same address, other event", "ana@example.org", "ev2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			mustCreate(t, s, "ev1", "", newReg("Ana@example.org", "MX", delegate), admit(confirmed))
			before, _ := s.Counts(ctx, tc.secondEvent)

			_, created, err := s.Create(ctx, tc.secondEvent, "", newReg(tc.second, "MX", delegate), admit(confirmed))
			if !tc.wantConflict {
				if err != nil || !created {
					t.Fatalf("Create(%q) = created %v, err %v; want it created", tc.second, created, err)
				}
				return
			}
			if !errors.Is(err, errdefs.ErrAlreadyExists) {
				t.Fatalf("Create(%q) error = %v, want ErrAlreadyExists", tc.second, err)
			}
			if got, want := errdefs.Reason(err), "EMAIL_ALREADY_REGISTERED"; got != want {
				t.Errorf("reason = %q, want %q", got, want)
			}
			if _, total, _ := s.List(ctx, tc.secondEvent, "", 100, all); total != 1 {
				t.Errorf("%d registrations stored, want 1", total)
			}
			after, _ := s.Counts(ctx, tc.secondEvent)
			assertCounts(t, after, before)
		})
	}
}

func cancel(reason string) func(*registrationsv1.Registration, *store.Counts) error {
	return func(r *registrationsv1.Registration, _ *store.Counts) error {
		r.State, r.StateReason = cancelled, reason
		return nil
	}
}

func TestCancelledFreesEmail(t *testing.T) {
	s := newStore(t)
	first := mustCreate(t, s, "ev1", "", newReg("ana@example.org", "MX", delegate), admit(confirmed))
	firstID := idOf(t, first.GetName(), "ev1")
	if _, err := s.Update(ctx, "ev1", firstID, cancel("changed plans")); err != nil {
		t.Fatal(err)
	}

	second := mustCreate(t, s, "ev1", "", newReg(" ANA@example.org", "MX", delegate), admit(confirmed))
	if second.GetName() == first.GetName() {
		t.Fatalf("the second registration reuses the name %s", first.GetName())
	}
	// The second registration now holds the address…
	if _, _, err := s.Create(ctx, "ev1", "", newReg("ana@example.org", "MX", delegate), admit(confirmed)); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("third Create error = %v, want ErrAlreadyExists", err)
	}
	// …and touching the first, cancelled one again must not free it.
	if _, err := s.Update(ctx, "ev1", firstID, cancel("really")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create(ctx, "ev1", "", newReg("ana@example.org", "MX", delegate), admit(confirmed)); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("Create after re-cancelling the old registration: error = %v, want ErrAlreadyExists", err)
	}
	c, _ := s.Counts(ctx, "ev1")
	if got := c.State(confirmed).Total; got != 1 {
		t.Errorf("confirmed = %d, want 1", got)
	}
	if got := c.State(cancelled).Total; got != 1 {
		t.Errorf("cancelled = %d, want 1", got)
	}
}

func TestRequestIDRetry(t *testing.T) {
	s := newStore(t)
	const rid = "6f1c1e9e-8a0b-4c47-9a3f-0c5bd2a1e001"
	first := mustCreate(t, s, "ev1", rid, newReg("ana@example.org", "MX", delegate), admit(confirmed))
	before, _ := s.Counts(ctx, "ev1")

	for _, tc := range []struct {
		name string
		reg  *registrationsv1.Registration
	}{
		{"same request", newReg("ana@example.org", "MX", delegate)},
		{"different body", newReg("someone.else@example.org", "GT", observer)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			decide := func(r *registrationsv1.Registration, _ *store.Counts) error {
				calls++
				r.State = waitlisted
				return nil
			}
			got, created, err := s.Create(ctx, "ev1", rid, tc.reg, decide)
			if err != nil {
				t.Fatal(err)
			}
			if created {
				t.Error("created = true, want false for a retry")
			}
			if !proto.Equal(got, first) {
				t.Errorf("retry returned %v, want the first registration %v", got, first)
			}
			if calls != 0 {
				t.Errorf("decide ran %d times on a retry, want 0", calls)
			}
			if _, total, _ := s.List(ctx, "ev1", "", 100, all); total != 1 {
				t.Errorf("%d registrations stored, want 1", total)
			}
			after, _ := s.Counts(ctx, "ev1")
			assertCounts(t, after, before)
		})
	}

	t.Run("reused for another event", func(t *testing.T) {
		_, _, err := s.Create(ctx, "ev2", rid, newReg("bob@example.org", "MX", delegate), admit(confirmed))
		if !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Fatalf("error = %v, want ErrAlreadyExists", err)
		}
		if got, want := errdefs.Reason(err), "REQUEST_ID_REUSED"; got != want {
			t.Errorf("reason = %q, want %q", got, want)
		}
		if _, total, _ := s.List(ctx, "ev2", "", 100, all); total != 0 {
			t.Errorf("%d registrations stored for ev2, want 0", total)
		}
	})

	t.Run("a refused request may be sent again", func(t *testing.T) {
		const rid2 = "6f1c1e9e-8a0b-4c47-9a3f-0c5bd2a1e002"
		refuse := func(*registrationsv1.Registration, *store.Counts) error { return errdefs.ErrFailedPrecondition }
		if _, _, err := s.Create(ctx, "ev1", rid2, newReg("carla@example.org", "MX", delegate), refuse); err == nil {
			t.Fatal("refused Create succeeded")
		}
		got, created, err := s.Create(ctx, "ev1", rid2, newReg("carla@example.org", "MX", delegate), admit(confirmed))
		if err != nil || !created || got.GetState() != confirmed {
			t.Fatalf("second try = %v, created %v, err %v; want a new CONFIRMED registration", got, created, err)
		}
	})
}

func TestDecideErrorWritesNothing(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, "ev1", "", newReg("ana@example.org", "MX", delegate), admit(confirmed))
	before, _ := s.Counts(ctx, "ev1")
	errFull := errdefs.Newf(errdefs.ErrFailedPrecondition, "EVENT_FULL", "full")

	const rid = "6f1c1e9e-8a0b-4c47-9a3f-0c5bd2a1e003"
	_, created, err := s.Create(ctx, "ev1", rid, newReg("bob@example.org", "GT", delegate),
		func(r *registrationsv1.Registration, _ *store.Counts) error {
			r.State = confirmed // changed, then refused: must not leak
			return errFull
		})
	if !errors.Is(err, errFull) || created {
		t.Fatalf("Create = created %v, err %v; want the decide error", created, err)
	}
	if got, want := errdefs.Reason(err), "EVENT_FULL"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
	after, _ := s.Counts(ctx, "ev1")
	assertCounts(t, after, before)
	if _, total, _ := s.List(ctx, "ev1", "", 100, all); total != 1 {
		t.Errorf("%d registrations stored, want 1", total)
	}
	// Neither the address nor the request id was kept.
	got, created, err := s.Create(ctx, "ev1", rid, newReg("bob@example.org", "GT", delegate), admit(waitlisted))
	if err != nil || !created || got.GetState() != waitlisted {
		t.Fatalf("Create after refusal = %v, created %v, err %v; want a new WAITLISTED registration", got, created, err)
	}

	// A failing update writes nothing either.
	id := idOf(t, got.GetName(), "ev1")
	before, _ = s.Counts(ctx, "ev1")
	errNo := errors.New("no")
	_, err = s.Update(ctx, "ev1", id, func(r *registrationsv1.Registration, _ *store.Counts) error {
		r.State = cancelled
		return errNo
	})
	if !errors.Is(err, errNo) {
		t.Fatalf("Update error = %v, want %v", err, errNo)
	}
	if stored, _ := s.Get(ctx, "ev1", id); !proto.Equal(stored, got) {
		t.Errorf("after a failed Update, Get = %v, want %v", stored, got)
	}
	after, _ = s.Counts(ctx, "ev1")
	assertCounts(t, after, before)

	if _, err := s.Update(ctx, "ev1", "2222222222222222", cancel("")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Update of an unknown id: error = %v, want ErrNotFound", err)
	}
	if _, err := s.Update(ctx, "nope", id, cancel("")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Update in an unknown event: error = %v, want ErrNotFound", err)
	}
}

// recount counts the event's registrations from scratch.
func recount(t *testing.T, s store.Store, eventID string) *store.Counts {
	t.Helper()
	regs, _, err := s.List(ctx, eventID, "", 1<<30, all)
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Counts{}
	for _, r := range regs {
		c.Add(r, +1)
	}
	return c
}

// normal drops what does not count: states whose tally is zero and empty maps.
func normal(c *store.Counts) map[string]store.Tally {
	out := map[string]store.Tally{}
	for st, t := range c.ByState {
		if t == nil || t.Total == 0 && len(t.ByCountry)+len(t.Delegates)+len(t.ByCategory)+len(t.ByMode)+len(t.ByGender) == 0 {
			continue
		}
		n := store.Tally{Total: t.Total}
		clone := func(m map[string]int32) map[string]int32 {
			if len(m) == 0 {
				return nil
			}
			return maps.Clone(m)
		}
		n.ByCountry, n.Delegates, n.ByCategory, n.ByMode, n.ByGender =
			clone(t.ByCountry), clone(t.Delegates), clone(t.ByCategory), clone(t.ByMode), clone(t.ByGender)
		out[st] = n
	}
	return out
}

func assertCounts(t *testing.T, got, want *store.Counts) {
	t.Helper()
	g, w := normal(got), normal(want)
	if !maps.EqualFunc(g, w, func(a, b store.Tally) bool {
		return a.Total == b.Total && maps.Equal(a.ByCountry, b.ByCountry) && maps.Equal(a.Delegates, b.Delegates) &&
			maps.Equal(a.ByCategory, b.ByCategory) && maps.Equal(a.ByMode, b.ByMode) && maps.Equal(a.ByGender, b.ByGender)
	}) {
		t.Errorf("counts = %+v, want %+v", g, w)
	}
}

func TestCountsMatchRecount(t *testing.T) {
	s := newStore(t)
	countries := []string{"MX", "GT", "US", "FR", "MX", "CA", "GT", "DE"}
	categories := []eventsv1.ParticipantCategory{delegate, delegate, expert, observer}
	modes := []eventsv1.AttendanceMode{inPerson, virtual, inPerson}
	genders := []registrationsv1.Gender{registrationsv1.Gender_GENDER_FEMALE, registrationsv1.Gender_GENDER_MALE, registrationsv1.Gender_GENDER_UNSPECIFIED}
	states := []registrationsv1.RegistrationState{confirmed, confirmed, waitlisted, pending}

	var ids []string
	for i := range 24 {
		r := newReg(fmt.Sprintf("p%d@example.org", i), countries[i%len(countries)], categories[i%len(categories)])
		r.AttendanceMode = modes[i%len(modes)]
		r.Participant.Gender = genders[i%len(genders)]
		got := mustCreate(t, s, "ev1", "", r, admit(states[i%len(states)]))
		ids = append(ids, idOf(t, got.GetName(), "ev1"))
	}
	// Some registrations of another event, which must not be counted here.
	mustCreate(t, s, "ev2", "", newReg("x@example.org", "MX", delegate), admit(confirmed))

	update := func(id string, fn func(r *registrationsv1.Registration)) {
		t.Helper()
		if _, err := s.Update(ctx, "ev1", id, func(r *registrationsv1.Registration, _ *store.Counts) error {
			fn(r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		switch i % 6 {
		case 0:
			update(id, func(r *registrationsv1.Registration) { r.State = cancelled })
		case 2:
			update(id, func(r *registrationsv1.Registration) { r.State = confirmed }) // a promotion
		case 3:
			update(id, func(r *registrationsv1.Registration) {
				r.State = registrationsv1.RegistrationState_REGISTRATION_STATE_REJECTED
			})
		case 4: // a change of what is counted, not of state
			update(id, func(r *registrationsv1.Registration) {
				r.Participant.CountryCode, r.Category, r.AttendanceMode = "HN", delegate, virtual
			})
		}
	}
	update(ids[0], func(r *registrationsv1.Registration) { r.StateReason = "no change of state" })

	got, err := s.Counts(ctx, "ev1")
	if err != nil {
		t.Fatal(err)
	}
	assertCounts(t, got, recount(t, s, "ev1"))
	if got.State(confirmed).Total == 0 || got.State(cancelled).Total == 0 {
		t.Errorf("counts %+v miss states the test made", normal(got))
	}
	if got, want := got.State(confirmed).Delegates["HN"], recount(t, s, "ev1").State(confirmed).Delegates["HN"]; got != want || got == 0 {
		t.Errorf("confirmed HN delegates = %d, want %d (> 0)", got, want)
	}
	other, _ := s.Counts(ctx, "ev2")
	assertCounts(t, other, recount(t, s, "ev2"))
	if empty, _ := s.Counts(ctx, "nope"); len(normal(empty)) != 0 {
		t.Errorf("counts of an event without registrations = %+v, want none", normal(empty))
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registrations.db")
	s := open(t, path)
	const rid = "6f1c1e9e-8a0b-4c47-9a3f-0c5bd2a1e004"
	var want []*registrationsv1.Registration
	for i := range 3 {
		want = append(want, mustCreate(t, s, "ev1", "", newReg(fmt.Sprintf("p%d@example.org", i), "MX", delegate), admit(confirmed)))
	}
	withRID := mustCreate(t, s, "ev1", rid, newReg("rid@example.org", "GT", delegate), admit(waitlisted))
	want = append(want, withRID)
	counts, _ := s.Counts(ctx, "ev1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	page, total, err := s.List(ctx, "ev1", "", 100, all)
	if err != nil || total != len(want) {
		t.Fatalf("List after reopen: total %d, err %v; want %d", total, err, len(want))
	}
	for i := range want {
		if !proto.Equal(page[i], want[i]) {
			t.Errorf("registration %d after reopen = %v, want %v", i, page[i], want[i])
		}
	}
	got, _ := s.Counts(ctx, "ev1")
	assertCounts(t, got, counts)
	if got, created, err := s.Create(ctx, "ev1", rid, newReg("rid@example.org", "GT", delegate), admit(confirmed)); err != nil || created || !proto.Equal(got, withRID) {
		t.Errorf("request-id retry after reopen = %v, created %v, err %v; want the first registration", got, created, err)
	}
	if _, _, err := s.Create(ctx, "ev1", "", newReg("P0@example.org", "MX", delegate), admit(confirmed)); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("same e-mail after reopen: error = %v, want ErrAlreadyExists", err)
	}
	next := mustCreate(t, s, "ev1", "", newReg("new@example.org", "MX", delegate), admit(confirmed))
	if last := want[len(want)-1].GetName(); next.GetName() <= last {
		t.Errorf("new name %s does not sort after %s", next.GetName(), last)
	}
}

func TestConcurrentCreatesNeverExceedCapacity(t *testing.T) {
	s := newStore(t)
	const capacity, callers = 50, 200
	errFull := errors.New("full")
	decide := func(r *registrationsv1.Registration, c *store.Counts) error {
		if c.State(confirmed).Total >= capacity {
			return errFull
		}
		r.State = confirmed
		return nil
	}
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		admitted, full int
		other          []error
	)
	for i := range callers {
		wg.Go(func() {
			_, created, err := s.Create(ctx, "ev1", fmt.Sprintf("6f1c1e9e-8a0b-4c47-9a3f-%012d", i),
				newReg(fmt.Sprintf("p%d@example.org", i), countriesOf(i), delegate), decide)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && created:
				admitted++
			case errors.Is(err, errFull):
				full++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("unexpected errors: %v", other)
	}
	if admitted != capacity || full != callers-capacity {
		t.Errorf("admitted %d, refused %d; want %d and %d", admitted, full, capacity, callers-capacity)
	}
	_, total, err := s.List(ctx, "ev1", "", 1000, all)
	if err != nil || total != capacity {
		t.Errorf("stored %d (err %v), want %d", total, err, capacity)
	}
	c, _ := s.Counts(ctx, "ev1")
	if got := c.State(confirmed).Total; got != capacity {
		t.Errorf("counts say %d confirmed, want %d", got, capacity)
	}
	assertCounts(t, c, recount(t, s, "ev1"))
}

func countriesOf(i int) string { return []string{"MX", "GT", "HN", "SV"}[i%4] }
