package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/etag"
	"convene.dev/services/registrations/internal/store"
	"convene.dev/services/registrations/internal/store/boltstore"
)

const (
	confirmed  = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	waitlisted = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED
	pending    = registrationsv1.RegistrationState_REGISTRATION_STATE_PENDING_APPROVAL
	rejected   = registrationsv1.RegistrationState_REGISTRATION_STATE_REJECTED
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
	s, err := boltstore.Open(path)
	if err != nil {
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

// insert is a Create function that inserts a copy of reg, named by the
// transaction, in state st; it leaves reg as it was.
func insert(reg *registrationsv1.Registration, st registrationsv1.RegistrationState) func(store.Tx) (*registrationsv1.Registration, error) {
	return func(tx store.Tx) (*registrationsv1.Registration, error) {
		r := proto.CloneOf(reg)
		r.State = st
		name, err := tx.NewName()
		if err != nil {
			return nil, err
		}
		r.Name = name
		_, err = tx.Insert(r, "")
		return r, err
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

func mustCreate(t *testing.T, s store.Store, eventID, requestID string, reg *registrationsv1.Registration, st registrationsv1.RegistrationState) *registrationsv1.Registration {
	t.Helper()
	got, created, err := s.Create(ctx, eventID, requestID, insert(reg, st))
	if err != nil {
		t.Fatalf("Create(%s, %s): %v", eventID, reg.GetParticipant().GetEmail(), err)
	}
	if !created {
		t.Fatalf("Create(%s, %s): created = false, want true", eventID, reg.GetParticipant().GetEmail())
	}
	return got
}

// update reads one registration in a transaction, changes it with fn and
// writes it back.
func update(s store.Store, eventID, id string, fn func(r *registrationsv1.Registration)) error {
	return s.Update(ctx, eventID, func(tx store.Tx) error { return change(tx, id, fn) })
}

// change reads one registration in tx, changes it with fn and writes it back.
func change(tx store.Tx, id string, fn func(r *registrationsv1.Registration)) error {
	r, err := tx.Get(id)
	if err != nil {
		return err
	}
	fn(r)
	return tx.Put(r)
}

func mustUpdate(t *testing.T, s store.Store, eventID, id string, fn func(r *registrationsv1.Registration)) {
	t.Helper()
	if err := update(s, eventID, id, fn); err != nil {
		t.Fatalf("update %s/%s: %v", eventID, id, err)
	}
}

func setState(st registrationsv1.RegistrationState, reason string) func(*registrationsv1.Registration) {
	return func(r *registrationsv1.Registration) { r.State, r.StateReason = st, reason }
}

func all(*registrationsv1.Registration) bool { return true }

func names(regs []*registrationsv1.Registration) []string {
	var out []string
	for _, r := range regs {
		out = append(out, r.GetName())
	}
	return out
}

// total returns how many registrations the event has.
func total(t *testing.T, s store.Store, eventID string) int {
	t.Helper()
	_, n, err := s.List(ctx, eventID, "", 0, false, all)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateNamesInArrivalOrder(t *testing.T) {
	s := newStore(t)
	var ids []string
	for i := range 12 {
		in := newReg(fmt.Sprintf("p%d@example.org", i), "MX", delegate)
		got := mustCreate(t, s, "ev1", "", in, confirmed)
		if in.GetName() != "" || in.GetState() != 0 {
			t.Fatalf("Create changed its argument: name %q, state %v", in.GetName(), in.GetState())
		}
		id := idOf(t, got.GetName(), "ev1")
		if len(id) != 16 {
			t.Errorf("id %q has %d characters, want 16", id, len(id))
		}
		if got.GetState() != confirmed {
			t.Errorf("state = %v, want %v (set by the function)", got.GetState(), confirmed)
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
	other := mustCreate(t, s, "ev2", "", newReg("p0@example.org", "MX", delegate), confirmed)
	idOf(t, other.GetName(), "ev2")
	page, n, err := s.List(ctx, "ev1", "", 100, false, all)
	if err != nil || n != len(ids) || len(page) != len(ids) {
		t.Fatalf("List(ev1) = %d registrations, total %d, err %v; want %d", len(page), n, err, len(ids))
	}
}

func TestNamesOfOneTransactionInOrder(t *testing.T) {
	// Several NewName calls in one transaction give distinct, ordered names.
	s := newStore(t)
	var got []string
	err := s.Update(ctx, "ev1", func(tx store.Tx) error {
		for i := range 5 {
			name, err := tx.NewName()
			if err != nil {
				return err
			}
			r := newReg(fmt.Sprintf("p%d@example.org", i), "GT", observer)
			r.Name, r.State = name, confirmed
			if _, err := tx.Insert(r, ""); err != nil {
				return err
			}
			got = append(got, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != 5 {
		t.Errorf("names %v are not distinct and in order", got)
	}
	page, _, _ := s.List(ctx, "ev1", "", 10, false, all)
	if !slices.Equal(names(page), got) {
		t.Errorf("List = %v, want %v", names(page), got)
	}
}

// TestInsertRecord: Insert stamps the registration with its etag, and the
// record it returns is the registration as stored, with or without a
// secret hash before it; what is stored stays so whatever an answer
// appends to the record.
func TestInsertRecord(t *testing.T) {
	s := newStore(t)
	for i, hash := range []string{"", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"} {
		var record []byte
		var inserted *registrationsv1.Registration
		_, _, err := s.Create(ctx, "ev1", "", func(tx store.Tx) (*registrationsv1.Registration, error) {
			r := newReg(fmt.Sprintf("rec%d@example.org", i), "MX", delegate)
			r.State = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
			name, err := tx.NewName()
			if err != nil {
				return nil, err
			}
			r.Name = name
			if record, err = tx.Insert(r, hash); err != nil {
				return nil, err
			}
			inserted = r
			return r, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if tag := inserted.GetEtag(); tag == "" || tag != etag.Of(inserted) {
			t.Errorf("hash %q: Insert stamped etag %q, want %q", hash, tag, etag.Of(inserted))
		}
		got := &registrationsv1.Registration{}
		if err := proto.Unmarshal(record, got); err != nil || !proto.Equal(got, inserted) {
			t.Errorf("hash %q: the record decodes to %v, %v; want %v", hash, got, err, inserted)
		}
		// An answer appends to the record, in the room after it when it
		// fits, else in a new array: what is stored stays as it was.
		_ = append(record, bytes.Repeat([]byte{0x7a}, 100)...)
		_ = append(record, bytes.Repeat([]byte{0x7a}, 400)...)
		stored, err := s.Get(ctx, "ev1", idOf(t, inserted.GetName(), "ev1"))
		if err != nil || !proto.Equal(stored, got) {
			t.Errorf("hash %q: stored %v, %v; the record says %v", hash, stored, err, got)
		}
	}
}

// TestInsertRefusesWhatDoesNotEncode: a registration with a string that is
// not UTF-8 is an error, and nothing is stored.
func TestInsertRefusesWhatDoesNotEncode(t *testing.T) {
	s := newStore(t)
	_, _, err := s.Create(ctx, "ev1", "", func(tx store.Tx) (*registrationsv1.Registration, error) {
		r := newReg("utf8@example.org", "MX", delegate)
		r.AccessibilityNeeds = "wheel\xffchair"
		name, err := tx.NewName()
		if err != nil {
			return nil, err
		}
		r.Name = name
		if _, err := tx.Insert(r, ""); err != nil {
			return nil, err
		}
		return r, nil
	})
	if err == nil {
		t.Fatal("a registration that does not encode was inserted")
	}
	if n := total(t, s, "ev1"); n != 0 {
		t.Errorf("%d registrations stored, want 0", n)
	}
}

func TestInsertRejectsForeignName(t *testing.T) {
	s := newStore(t)
	for _, name := range []string{"", "events/ev2/registrations/abc", "events/ev1/registrations/"} {
		err := s.Update(ctx, "ev1", func(tx store.Tx) error {
			r := newReg("ana@example.org", "MX", delegate)
			r.Name = name
			_, err := tx.Insert(r, "")
			return err
		})
		if err == nil {
			t.Errorf("Insert with name %q: no error", name)
		}
	}
	if n := total(t, s, "ev1"); n != 0 {
		t.Errorf("%d registrations stored, want 0", n)
	}
}

func TestGetNotFound(t *testing.T) {
	s := newStore(t)
	got := mustCreate(t, s, "ev1", "", newReg("a@example.org", "MX", delegate), confirmed)
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
		r := mustCreate(t, s, "ev1", "", newReg(fmt.Sprintf("p%d@example.org", i), cc, delegate), confirmed)
		want = append(want, r.GetName())
	}
	mustCreate(t, s, "ev2", "", newReg("other@example.org", "MX", delegate), confirmed)
	id := func(i int) string { return want[i][strings.LastIndex(want[i], "/")+1:] }
	mx := func(r *registrationsv1.Registration) bool { return r.GetParticipant().GetCountryCode() == "MX" }
	none := func(*registrationsv1.Registration) bool { return false }
	rev := slices.Clone(want)
	slices.Reverse(rev) // newest first

	for _, tc := range []struct {
		name      string
		eventID   string
		after     string
		limit     int
		desc      bool
		match     func(*registrationsv1.Registration) bool
		want      []string
		wantTotal int
	}{
		{"everything", "ev1", "", 100, false, all, want, 6},
		{"first page", "ev1", "", 2, false, all, want[:2], 6},
		{"second page", "ev1", id(1), 2, false, all, want[2:4], 6},
		{"last page is short", "ev1", id(3), 5, false, all, want[4:], 6},
		{"after the last", "ev1", id(5), 5, false, all, nil, 6},
		{"limit 0 counts only", "ev1", "", 0, false, all, nil, 6},
		{"match", "ev1", "", 100, false, mx, []string{want[0], want[2], want[4]}, 3},
		{"match, paged", "ev1", id(0), 1, false, mx, []string{want[2]}, 3},
		{"no match", "ev1", "", 100, false, none, nil, 0},
		{"unknown event", "nope", "", 100, false, all, nil, 0},

		{"desc, everything", "ev1", "", 100, true, all, rev, 6},
		{"desc, first page", "ev1", "", 2, true, all, []string{want[5], want[4]}, 6},
		{"desc, second page", "ev1", id(4), 2, true, all, []string{want[3], want[2]}, 6},
		{"desc, last page is short", "ev1", id(2), 5, true, all, []string{want[1], want[0]}, 6},
		{"desc, after the oldest", "ev1", id(0), 5, true, all, nil, 6},
		{"desc, match", "ev1", "", 100, true, mx, []string{want[4], want[2], want[0]}, 3},
		{"desc, match, paged", "ev1", id(4), 1, true, mx, []string{want[2]}, 3},
		{"desc, unknown event", "nope", "", 100, true, all, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, n, err := s.List(ctx, tc.eventID, tc.after, tc.limit, tc.desc, tc.match)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(page); !slices.Equal(got, tc.want) {
				t.Errorf("page = %v, want %v", got, tc.want)
			}
			if n != tc.wantTotal {
				t.Errorf("total = %d, want %d", n, tc.wantTotal)
			}
		})
	}

	// Following the pages one by one, either way, gives every registration once.
	for _, desc := range []bool{false, true} {
		t.Run(fmt.Sprintf("walk desc=%v", desc), func(t *testing.T) {
			var got []string
			after := ""
			for range 10 {
				page, _, err := s.List(ctx, "ev1", after, 4, desc, all)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, names(page)...)
				if len(page) < 4 {
					break
				}
				after = idOf(t, page[len(page)-1].GetName(), "ev1")
			}
			wantAll := want
			if desc {
				wantAll = rev
			}
			if !slices.Equal(got, wantAll) {
				t.Errorf("walked %v, want %v", got, wantAll)
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
			mustCreate(t, s, "ev1", "", newReg("Ana@example.org", "MX", delegate), confirmed)
			before, _ := s.Counts(ctx, tc.secondEvent)

			_, created, err := s.Create(ctx, tc.secondEvent, "", insert(newReg(tc.second, "MX", delegate), confirmed))
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
			if n := total(t, s, tc.secondEvent); n != 1 {
				t.Errorf("%d registrations stored, want 1", n)
			}
			after, _ := s.Counts(ctx, tc.secondEvent)
			assertCounts(t, after, before)
		})
	}
}

func TestCancelledFreesEmail(t *testing.T) {
	s := newStore(t)
	first := mustCreate(t, s, "ev1", "", newReg("ana@example.org", "MX", delegate), confirmed)
	firstID := idOf(t, first.GetName(), "ev1")

	// Other changes of state keep the address.
	for _, st := range []registrationsv1.RegistrationState{waitlisted, rejected} {
		mustUpdate(t, s, "ev1", firstID, setState(st, ""))
		if _, _, err := s.Create(ctx, "ev1", "", insert(newReg("ana@example.org", "MX", delegate), confirmed)); !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Fatalf("Create while the first is %v: error = %v, want ErrAlreadyExists", st, err)
		}
	}
	mustUpdate(t, s, "ev1", firstID, setState(cancelled, "changed plans"))

	second := mustCreate(t, s, "ev1", "", newReg(" ANA@example.org", "MX", delegate), confirmed)
	if second.GetName() == first.GetName() {
		t.Fatalf("the second registration reuses the name %s", first.GetName())
	}
	// The second registration now holds the address…
	if _, _, err := s.Create(ctx, "ev1", "", insert(newReg("ana@example.org", "MX", delegate), confirmed)); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("third Create error = %v, want ErrAlreadyExists", err)
	}
	// …and touching the first, cancelled one again must not free it.
	mustUpdate(t, s, "ev1", firstID, setState(cancelled, "really"))
	if _, _, err := s.Create(ctx, "ev1", "", insert(newReg("ana@example.org", "MX", delegate), confirmed)); !errors.Is(err, errdefs.ErrAlreadyExists) {
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
	first := mustCreate(t, s, "ev1", rid, newReg("ana@example.org", "MX", delegate), confirmed)
	before, _ := s.Counts(ctx, "ev1")

	if got, err := s.Request(ctx, rid); err != nil || !proto.Equal(got, first) {
		t.Errorf("Request(%s) = %v, %v; want the first registration %v", rid, got, err, first)
	}
	if _, err := s.Request(ctx, "6f1c1e9e-8a0b-4c47-9a3f-0c5bd2a1e999"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Request of an unknown id: error = %v, want ErrNotFound", err)
	}

	for _, tc := range []struct {
		name string
		reg  *registrationsv1.Registration
	}{
		{"same request", newReg("ana@example.org", "MX", delegate)},
		{"different body", newReg("someone.else@example.org", "GT", observer)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			fn := func(tx store.Tx) (*registrationsv1.Registration, error) {
				calls++
				return insert(tc.reg, waitlisted)(tx)
			}
			got, created, err := s.Create(ctx, "ev1", rid, fn)
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
				t.Errorf("fn ran %d times on a retry, want 0", calls)
			}
			if n := total(t, s, "ev1"); n != 1 {
				t.Errorf("%d registrations stored, want 1", n)
			}
			after, _ := s.Counts(ctx, "ev1")
			assertCounts(t, after, before)
		})
	}

	t.Run("retry sees the registration as it is now", func(t *testing.T) {
		mustUpdate(t, s, "ev1", idOf(t, first.GetName(), "ev1"), setState(cancelled, "later"))
		got, created, err := s.Create(ctx, "ev1", rid, insert(newReg("ana@example.org", "MX", delegate), confirmed))
		if err != nil || created || got.GetState() != cancelled {
			t.Errorf("retry after a change = %v, created %v, err %v; want the stored, CANCELLED registration", got, created, err)
		}
	})

	t.Run("reused for another event", func(t *testing.T) {
		_, _, err := s.Create(ctx, "ev2", rid, insert(newReg("bob@example.org", "MX", delegate), confirmed))
		if !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Fatalf("error = %v, want ErrAlreadyExists", err)
		}
		if got, want := errdefs.Reason(err), "REQUEST_ID_REUSED"; got != want {
			t.Errorf("reason = %q, want %q", got, want)
		}
		if n := total(t, s, "ev2"); n != 0 {
			t.Errorf("%d registrations stored for ev2, want 0", n)
		}
	})

	t.Run("a refused request may be sent again", func(t *testing.T) {
		const rid2 = "6f1c1e9e-8a0b-4c47-9a3f-0c5bd2a1e002"
		refuse := func(store.Tx) (*registrationsv1.Registration, error) { return nil, errdefs.ErrFailedPrecondition }
		if _, _, err := s.Create(ctx, "ev1", rid2, refuse); err == nil {
			t.Fatal("refused Create succeeded")
		}
		if _, err := s.Request(ctx, rid2); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Request after a refusal: error = %v, want ErrNotFound", err)
		}
		got, created, err := s.Create(ctx, "ev1", rid2, insert(newReg("carla@example.org", "MX", delegate), confirmed))
		if err != nil || !created || got.GetState() != confirmed {
			t.Fatalf("second try = %v, created %v, err %v; want a new CONFIRMED registration", got, created, err)
		}
	})
}

func TestFailingFuncWritesNothing(t *testing.T) {
	s := newStore(t)
	first := mustCreate(t, s, "ev1", "", newReg("ana@example.org", "MX", delegate), confirmed)
	firstID := idOf(t, first.GetName(), "ev1")
	saved := &eventsv1.Event{Name: "events/ev1", RegistrationPolicy: &eventsv1.RegistrationPolicy{Capacity: 5}}
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error { return tx.SetEvent(saved) }); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Counts(ctx, "ev1")
	errFull := errdefs.Newf(errdefs.ErrFailedPrecondition, "EVENT_FULL", "full")

	const rid = "6f1c1e9e-8a0b-4c47-9a3f-0c5bd2a1e003"
	_, created, err := s.Create(ctx, "ev1", rid, func(tx store.Tx) (*registrationsv1.Registration, error) {
		// Everything a Create may do, then a refusal: none of it may leak.
		if err := tx.SetEvent(&eventsv1.Event{Name: "events/ev1"}); err != nil {
			return nil, err
		}
		old, err := tx.Get(firstID)
		if err != nil {
			return nil, err
		}
		old.State = waitlisted
		if err := tx.Put(old); err != nil {
			return nil, err
		}
		r, err := insert(newReg("bob@example.org", "GT", delegate), confirmed)(tx)
		if err != nil {
			return nil, err
		}
		if got := tx.Counts().State(confirmed).Total; got != 1 {
			t.Errorf("inside the transaction: %d confirmed, want 1 (bob)", got)
		}
		return r, errFull
	})
	if !errors.Is(err, errFull) || created {
		t.Fatalf("Create = created %v, err %v; want the function's error", created, err)
	}
	if got, want := errdefs.Reason(err), "EVENT_FULL"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
	assertUnchanged := func(t *testing.T) {
		t.Helper()
		after, _ := s.Counts(ctx, "ev1")
		assertCounts(t, after, before)
		if n := total(t, s, "ev1"); n != 1 {
			t.Errorf("%d registrations stored, want 1", n)
		}
		if got, _ := s.Get(ctx, "ev1", firstID); !proto.Equal(got, first) {
			t.Errorf("first registration = %v, want %v", got, first)
		}
		if got, _ := s.Event(ctx, "ev1"); !proto.Equal(got, saved) {
			t.Errorf("saved event = %v, want %v", got, saved)
		}
		assertWaitlist(t, s, "ev1", nil)
	}
	assertUnchanged(t)
	// Neither the address nor the request id was kept.
	got, created, err := s.Create(ctx, "ev1", rid, insert(newReg("bob@example.org", "GT", delegate), waitlisted))
	if err != nil || !created || got.GetState() != waitlisted {
		t.Fatalf("Create after refusal = %v, created %v, err %v; want a new WAITLISTED registration", got, created, err)
	}
	id := idOf(t, got.GetName(), "ev1")
	mustUpdate(t, s, "ev1", id, setState(cancelled, "")) // back to what assertUnchanged expects
	before, _ = s.Counts(ctx, "ev1")
	bob, _ := s.Get(ctx, "ev1", id)

	// A failing Update writes nothing either.
	errNo := errors.New("no")
	err = s.Update(ctx, "ev1", func(tx store.Tx) error {
		if err := change(tx, firstID, setState(cancelled, "")); err != nil {
			return err
		}
		if _, err := insert(newReg("carla@example.org", "HN", delegate), waitlisted)(tx); err != nil {
			return err
		}
		if err := tx.SetEvent(&eventsv1.Event{Name: "events/ev1"}); err != nil {
			return err
		}
		return errNo
	})
	if !errors.Is(err, errNo) {
		t.Fatalf("Update error = %v, want %v", err, errNo)
	}
	if n := total(t, s, "ev1"); n != 2 {
		t.Errorf("%d registrations stored, want 2", n)
	}
	if got, _ := s.Get(ctx, "ev1", firstID); !proto.Equal(got, first) {
		t.Errorf("after a failed Update, Get = %v, want %v", got, first)
	}
	if got, _ := s.Get(ctx, "ev1", id); !proto.Equal(got, bob) {
		t.Errorf("after a failed Update, Get = %v, want %v", got, bob)
	}
	after, _ := s.Counts(ctx, "ev1")
	assertCounts(t, after, before)
	assertWaitlist(t, s, "ev1", nil)
	if ev, _ := s.Event(ctx, "ev1"); !proto.Equal(ev, saved) {
		t.Errorf("saved event = %v, want %v", ev, saved)
	}
	// The address of the first was not freed by the rolled-back cancel.
	if _, _, err := s.Create(ctx, "ev1", "", insert(newReg("ana@example.org", "MX", delegate), confirmed)); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("Create with the first's address: error = %v, want ErrAlreadyExists", err)
	}

	if err := update(s, "ev1", "2222222222222222", setState(cancelled, "")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("update of an unknown id: error = %v, want ErrNotFound", err)
	}
	if err := update(s, "nope", firstID, setState(cancelled, "")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("update in an unknown event: error = %v, want ErrNotFound", err)
	}
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error {
		r := proto.CloneOf(first)
		r.Name = "events/ev1/registrations/2222222222222222"
		return tx.Put(r)
	}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Put of a registration that was never inserted: error = %v, want ErrNotFound", err)
	}
}

// waitlist returns the names that Tx.Waitlist yields, in order.
func waitlist(t *testing.T, s store.Store, eventID string) []string {
	t.Helper()
	var got []string
	err := s.Update(ctx, eventID, func(tx store.Tx) error {
		return tx.Waitlist(func(r *registrationsv1.Registration) (bool, error) {
			if r.GetState() != waitlisted {
				t.Errorf("Waitlist yields %s in state %v", r.GetName(), r.GetState())
			}
			got = append(got, r.GetName())
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func assertWaitlist(t *testing.T, s store.Store, eventID string, want []string) {
	t.Helper()
	if got := waitlist(t, s, eventID); !slices.Equal(got, want) {
		t.Errorf("waiting list = %v, want %v", got, want)
	}
}

func TestWaitlistFollowsStateChanges(t *testing.T) {
	s := newStore(t)
	states := []registrationsv1.RegistrationState{waitlisted, confirmed, waitlisted, pending, waitlisted, waitlisted}
	var n []string // names in arrival order
	var id []string
	for i, st := range states {
		r := mustCreate(t, s, "ev1", "", newReg(fmt.Sprintf("p%d@example.org", i), "MX", delegate), st)
		n = append(n, r.GetName())
		id = append(id, idOf(t, r.GetName(), "ev1"))
	}
	other := mustCreate(t, s, "ev2", "", newReg("other@example.org", "MX", delegate), waitlisted)
	assertWaitlist(t, s, "ev1", pick(n, 0, 2, 4, 5))

	steps := []struct {
		what   string
		i      int
		change func(*registrationsv1.Registration)
		want   []int
	}{
		{"the oldest is promoted", 0, setState(confirmed, "PROMOTED_FROM_WAITLIST"), []int{2, 4, 5}},
		{"a waiting one changes reason, not state", 4, setState(waitlisted, "COUNTRY_QUOTA_REACHED"), []int{2, 4, 5}},
		{"a confirmed one goes back to the list, in arrival order", 1, setState(waitlisted, "EVENT_FULL"), []int{1, 2, 4, 5}},
		{"a pending one is placed on the list", 3, setState(waitlisted, "EVENT_FULL"), []int{1, 2, 3, 4, 5}},
		{"a waiting one cancels", 2, setState(cancelled, ""), []int{1, 3, 4, 5}},
		{"a waiting one is rejected", 5, setState(rejected, "no"), []int{1, 3, 4}},
		{"a change that is not of state", 3, func(r *registrationsv1.Registration) { r.Participant.CountryCode = "GT" }, []int{1, 3, 4}},
		{"the first promoted", 1, setState(confirmed, ""), []int{3, 4}},
	}
	for _, st := range steps {
		mustUpdate(t, s, "ev1", id[st.i], st.change)
		if got, want := waitlist(t, s, "ev1"), pick(n, st.want...); !slices.Equal(got, want) {
			t.Errorf("after %q: waiting list = %v, want %v", st.what, got, want)
		}
	}
	// Every WAITLISTED registration is on the list and nothing else is.
	page, _, _ := s.List(ctx, "ev1", "", 100, false, func(r *registrationsv1.Registration) bool { return r.GetState() == waitlisted })
	assertWaitlist(t, s, "ev1", names(page))
	assertWaitlist(t, s, "ev2", []string{other.GetName()}) // each event has its own list
	assertWaitlist(t, s, "empty", nil)
	c, _ := s.Counts(ctx, "ev1")
	assertCounts(t, c, recount(t, s, "ev1"))

	t.Run("stops when fn says so", func(t *testing.T) {
		var seen []string
		err := s.Update(ctx, "ev1", func(tx store.Tx) error {
			return tx.Waitlist(func(r *registrationsv1.Registration) (bool, error) {
				seen = append(seen, r.GetName())
				return false, nil
			})
		})
		if err != nil || !slices.Equal(seen, pick(n, 3)) {
			t.Errorf("saw %v (err %v), want only %v", seen, err, pick(n, 3))
		}
	})
	t.Run("fn's error", func(t *testing.T) {
		errStop := errors.New("stop")
		calls := 0
		err := s.Update(ctx, "ev1", func(tx store.Tx) error {
			return tx.Waitlist(func(*registrationsv1.Registration) (bool, error) {
				calls++
				return true, errStop
			})
		})
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("error = %v after %d calls, want %v after 1", err, calls, errStop)
		}
	})
	t.Run("fn may Put as it goes", func(t *testing.T) {
		// As policy.Promote does: promote each, the list changes under the walk.
		var seen []string
		err := s.Update(ctx, "ev1", func(tx store.Tx) error {
			return tx.Waitlist(func(r *registrationsv1.Registration) (bool, error) {
				seen = append(seen, r.GetName())
				r.State = confirmed
				return true, tx.Put(r)
			})
		})
		if err != nil || !slices.Equal(seen, pick(n, 3, 4)) {
			t.Errorf("saw %v (err %v), want %v", seen, err, pick(n, 3, 4))
		}
		assertWaitlist(t, s, "ev1", nil)
		c, _ := s.Counts(ctx, "ev1")
		assertCounts(t, c, recount(t, s, "ev1"))
	})
}

func pick(names []string, idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, names[i])
	}
	return out
}

func TestEventRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registrations.db")
	s := open(t, path)
	if ev, err := s.Event(ctx, "ev1"); err != nil || ev != nil {
		t.Errorf("Event of an unknown event = %v, %v; want nil, nil", ev, err)
	}
	mustCreate(t, s, "ev1", "", newReg("ana@example.org", "MX", delegate), confirmed)
	if ev, err := s.Event(ctx, "ev1"); err != nil || ev != nil {
		t.Errorf("Event before any SetEvent = %v, %v; want nil, nil", ev, err)
	}

	v1 := &eventsv1.Event{
		Name: "events/ev1", State: eventsv1.EventState_EVENT_STATE_PUBLISHED, AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID,
		RegistrationPolicy: &eventsv1.RegistrationPolicy{
			Capacity: 10, InPersonCapacity: 4, DelegatesPerCountry: 2, WaitlistEnabled: true,
			AllowedCategories: []eventsv1.ParticipantCategory{delegate, observer},
		},
		Etag: "v1",
	}
	v2 := proto.CloneOf(v1)
	v2.State = eventsv1.EventState_EVENT_STATE_CANCELLED
	v2.RegistrationPolicy.Capacity = 3
	v2.Etag = "v2"

	for _, want := range []*eventsv1.Event{v1, v1, v2} { // the same twice: a no-op write
		err := s.Update(ctx, "ev1", func(tx store.Tx) error {
			if err := tx.SetEvent(want); err != nil {
				return err
			}
			if got := tx.Event(); !proto.Equal(got, want) {
				t.Errorf("Tx.Event after SetEvent = %v, want %v", got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Event(ctx, "ev1"); err != nil || !proto.Equal(got, want) {
			t.Errorf("Event = %v, %v; want %v", got, err, want)
		}
	}
	// Each event keeps its own copy; an event may be saved before it has registrations.
	v3 := &eventsv1.Event{Name: "events/ev2", Etag: "other"}
	if err := s.Update(ctx, "ev2", func(tx store.Tx) error {
		if got := tx.Event(); got != nil {
			t.Errorf("Tx.Event of a new event = %v, want nil", got)
		}
		return tx.SetEvent(v3)
	}); err != nil {
		t.Fatal(err)
	}
	// Saving the event changes no counter.
	if c, _ := s.Counts(ctx, "ev2"); len(normal(c)) != 0 {
		t.Errorf("counts of ev2 = %v, want none", normal(c))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	for id, want := range map[string]*eventsv1.Event{"ev1": v2, "ev2": v3} {
		if got, err := s.Event(ctx, id); err != nil || !proto.Equal(got, want) {
			t.Errorf("after reopen, Event(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
}

// recount counts the event's registrations from scratch.
func recount(t *testing.T, s store.Store, eventID string) *store.Counts {
	t.Helper()
	regs, _, err := s.List(ctx, eventID, "", 1<<30, false, all)
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
		got := mustCreate(t, s, "ev1", "", r, states[i%len(states)])
		ids = append(ids, idOf(t, got.GetName(), "ev1"))
	}
	// Some registrations of another event, which must not be counted here.
	mustCreate(t, s, "ev2", "", newReg("x@example.org", "MX", delegate), confirmed)

	for i, id := range ids {
		switch i % 6 {
		case 0:
			mustUpdate(t, s, "ev1", id, setState(cancelled, ""))
		case 2:
			mustUpdate(t, s, "ev1", id, setState(confirmed, "")) // a promotion
		case 3:
			mustUpdate(t, s, "ev1", id, setState(rejected, ""))
		case 4: // a change of what is counted, not of state
			mustUpdate(t, s, "ev1", id, func(r *registrationsv1.Registration) {
				r.Participant.CountryCode, r.Category, r.AttendanceMode = "HN", delegate, virtual
			})
		}
	}
	mustUpdate(t, s, "ev1", ids[0], func(r *registrationsv1.Registration) { r.StateReason = "no change of state" })

	// Several writes of one registration in one transaction count once.
	err := s.Update(ctx, "ev1", func(tx store.Tx) error {
		for _, st := range []registrationsv1.RegistrationState{waitlisted, confirmed, pending, confirmed} {
			r, err := tx.Get(ids[1])
			if err != nil {
				return err
			}
			r.State = st
			if err := tx.Put(r); err != nil {
				return err
			}
			// Tx.Counts follows every Put.
			if got := tx.Counts().State(st).ByCountry[r.GetParticipant().GetCountryCode()]; got == 0 {
				t.Errorf("inside the transaction: no %v from %s counted", st, r.GetParticipant().GetCountryCode())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

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
		want = append(want, mustCreate(t, s, "ev1", "", newReg(fmt.Sprintf("p%d@example.org", i), "MX", delegate), confirmed))
	}
	withRID := mustCreate(t, s, "ev1", rid, newReg("rid@example.org", "GT", delegate), waitlisted)
	want = append(want, withRID)
	counts, _ := s.Counts(ctx, "ev1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	page, n, err := s.List(ctx, "ev1", "", 100, false, all)
	if err != nil || n != len(want) {
		t.Fatalf("List after reopen: total %d, err %v; want %d", n, err, len(want))
	}
	for i := range want {
		if !proto.Equal(page[i], want[i]) {
			t.Errorf("registration %d after reopen = %v, want %v", i, page[i], want[i])
		}
	}
	got, _ := s.Counts(ctx, "ev1")
	assertCounts(t, got, counts)
	assertWaitlist(t, s, "ev1", []string{withRID.GetName()})
	if got, created, err := s.Create(ctx, "ev1", rid, insert(newReg("rid@example.org", "GT", delegate), confirmed)); err != nil || created || !proto.Equal(got, withRID) {
		t.Errorf("request-id retry after reopen = %v, created %v, err %v; want the first registration", got, created, err)
	}
	if got, err := s.Request(ctx, rid); err != nil || !proto.Equal(got, withRID) {
		t.Errorf("Request after reopen = %v, %v; want %v", got, err, withRID)
	}
	if _, _, err := s.Create(ctx, "ev1", "", insert(newReg("P0@example.org", "MX", delegate), confirmed)); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("same e-mail after reopen: error = %v, want ErrAlreadyExists", err)
	}
	next := mustCreate(t, s, "ev1", "", newReg("new@example.org", "MX", delegate), confirmed)
	if last := want[len(want)-1].GetName(); next.GetName() <= last {
		t.Errorf("new name %s does not sort after %s", next.GetName(), last)
	}
}

func TestConcurrentCreatesNeverExceedCapacity(t *testing.T) {
	s := newStore(t)
	const capacity, callers = 50, 200
	errFull := errors.New("full")
	admitWhileFree := func(reg *registrationsv1.Registration) func(store.Tx) (*registrationsv1.Registration, error) {
		return func(tx store.Tx) (*registrationsv1.Registration, error) {
			if tx.Counts().State(confirmed).Total >= capacity {
				return nil, errFull
			}
			return insert(reg, confirmed)(tx)
		}
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
				admitWhileFree(newReg(fmt.Sprintf("p%d@example.org", i), countriesOf(i), delegate)))
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
	if n := total(t, s, "ev1"); n != capacity {
		t.Errorf("stored %d, want %d", n, capacity)
	}
	c, _ := s.Counts(ctx, "ev1")
	if got := c.State(confirmed).Total; got != capacity {
		t.Errorf("counts say %d confirmed, want %d", got, capacity)
	}
	assertCounts(t, c, recount(t, s, "ev1"))
}

func countriesOf(i int) string { return []string{"MX", "GT", "HN", "SV"}[i%4] }

// TestEventCopyForTheFeed covers what the events feed relies on: a saved
// copy is never replaced by an older revision, it can be forgotten, the
// events with a copy are listed, and the feed's position is kept in the
// same transactions.
func TestEventCopyForTheFeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registrations.db")
	s := open(t, path)
	setEvent := func(eventID string, ev *eventsv1.Event) {
		t.Helper()
		if err := s.Update(ctx, eventID, func(tx store.Tx) error { return tx.SetEvent(ev) }); err != nil {
			t.Fatal(err)
		}
	}
	rev := func(n int64, capacity int32) *eventsv1.Event {
		return &eventsv1.Event{Name: "events/ev1", Revision: n, RegistrationPolicy: &eventsv1.RegistrationPolicy{Capacity: capacity}}
	}
	setEvent("ev1", rev(2, 20))
	setEvent("ev1", rev(1, 10)) // an older read arriving late
	if got, _ := s.Event(ctx, "ev1"); !proto.Equal(got, rev(2, 20)) {
		t.Errorf("after an older revision: Event = %v, want %v", got, rev(2, 20))
	}
	setEvent("ev1", rev(2, 21)) // the same revision replaces
	setEvent("ev1", rev(3, 30))
	if got, _ := s.Event(ctx, "ev1"); !proto.Equal(got, rev(3, 30)) {
		t.Errorf("Event = %v, want %v", got, rev(3, 30))
	}

	// Registrations alone do not make an event known; a saved copy does.
	mustCreate(t, s, "ev2", "", newReg("ana@example.org", "MX", delegate), confirmed)
	setEvent("ev3", &eventsv1.Event{Name: "events/ev3"})
	if ids, err := s.EventIDs(ctx); err != nil || !slices.Equal(ids, []string{"ev1", "ev3"}) {
		t.Errorf("EventIDs = %v, %v; want [ev1 ev3]", ids, err)
	}
	if err := s.Update(ctx, "ev3", func(tx store.Tx) error { return tx.ForgetEvent() }); err != nil {
		t.Fatal(err)
	}
	if ev, _ := s.Event(ctx, "ev3"); ev != nil {
		t.Errorf("Event after ForgetEvent = %v, want nil", ev)
	}
	if ids, _ := s.EventIDs(ctx); !slices.Equal(ids, []string{"ev1"}) {
		t.Errorf("EventIDs after ForgetEvent = %v, want [ev1]", ids)
	}

	// The feed's position.
	if seq, err := s.FeedSequence(ctx); err != nil || seq != 0 {
		t.Errorf("FeedSequence of a new store = %d, %v; want 0", seq, err)
	}
	if err := s.SetFeedSequence(ctx, 41); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error { return tx.SetFeedSequence(42) }); err != nil {
		t.Fatal(err)
	}
	errNo := errors.New("no")
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error {
		if err := tx.SetFeedSequence(43); err != nil {
			return err
		}
		return errNo // the change was not applied: neither is its sequence number
	}); !errors.Is(err, errNo) {
		t.Fatalf("Update error = %v, want %v", err, errNo)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if seq, err := s.FeedSequence(ctx); err != nil || seq != 42 {
		t.Errorf("FeedSequence after reopen = %d, %v; want 42", seq, err)
	}
	if got, _ := s.Event(ctx, "ev1"); !proto.Equal(got, rev(3, 30)) {
		t.Errorf("Event after reopen = %v, want %v", got, rev(3, 30))
	}
}

func TestForEach(t *testing.T) {
	s := newStore(t)
	states := []registrationsv1.RegistrationState{confirmed, waitlisted, pending, cancelled}
	var want []string
	for i, st := range states {
		want = append(want, mustCreate(t, s, "ev1", "", newReg(fmt.Sprintf("p%d@example.org", i), "MX", delegate), st).GetName())
	}
	mustCreate(t, s, "ev2", "", newReg("other@example.org", "MX", delegate), confirmed)
	// Every registration of the event, oldest first; fn may Put as it goes
	// (as cancelling every registration of a cancelled event does).
	var seen []string
	err := s.Update(ctx, "ev1", func(tx store.Tx) error {
		return tx.ForEach(func(r *registrationsv1.Registration) error {
			seen = append(seen, r.GetName())
			if r.GetState() == cancelled {
				return nil
			}
			r.State = cancelled
			return tx.Put(r)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("ForEach saw %v, want %v", seen, want)
	}
	c, _ := s.Counts(ctx, "ev1")
	if got := c.State(cancelled).Total; got != 4 {
		t.Errorf("%d cancelled, want 4", got)
	}
	assertCounts(t, c, recount(t, s, "ev1"))
	assertWaitlist(t, s, "ev1", nil)
	// The addresses were freed.
	mustCreate(t, s, "ev1", "", newReg("p0@example.org", "MX", delegate), confirmed)

	errStop := errors.New("stop")
	calls := 0
	err = s.Update(ctx, "ev1", func(tx store.Tx) error {
		return tx.ForEach(func(*registrationsv1.Registration) error { calls++; return errStop })
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("error = %v after %d calls, want %v after 1", err, calls, errStop)
	}
}

// TestSecretHashes: a registration's secret hash is kept in its value,
// read back by SecretHash, kept by every Put, and never seen by Get, List or
// ForEach; hashes that earlier formats kept under keys of their own (format
// 2) or in a bucket of their own (format 1) are still answered, and kept
// through a Put; a value whose head is broken is an error, not a panic.
func TestSecretHashes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registrations.db")
	s := open(t, path)
	var ids []string
	for i := range 3 {
		reg := newReg(fmt.Sprintf("s%d@example.org", i), "MX", delegate)
		got, created, err := s.Create(ctx, "ev1", "", func(tx store.Tx) (*registrationsv1.Registration, error) {
			r := proto.CloneOf(reg)
			r.State = confirmed
			name, err := tx.NewName()
			if err != nil {
				return nil, err
			}
			r.Name = name
			_, err = tx.Insert(r, fmt.Sprintf("hash-%d", i))
			return r, err
		})
		if err != nil || !created {
			t.Fatalf("Create: %v, created %v", err, created)
		}
		ids = append(ids, idOf(t, got.GetName(), "ev1"))
	}
	wantHash := func(s store.Store, id, want string) {
		t.Helper()
		if h, err := s.SecretHash(ctx, "ev1", id); err != nil || h != want {
			t.Errorf("SecretHash(%s) = %q, %v; want %q", id, h, err, want)
		}
	}
	for i, id := range ids {
		wantHash(s, id, fmt.Sprintf("hash-%d", i))
		if got, err := s.Get(ctx, "ev1", id); err != nil || got.GetParticipant().GetEmail() != fmt.Sprintf("s%d@example.org", i) {
			t.Errorf("Get(%s) = %v, %v", id, got, err)
		}
	}
	if _, err := s.SecretHash(ctx, "ev1", "nosuchid"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("SecretHash(unknown) = %v, want not found", err)
	}
	// A change, and a cancellation, keep the hash.
	mustUpdate(t, s, "ev1", ids[1], func(r *registrationsv1.Registration) { r.Participant.JobTitle = "Directora" })
	mustUpdate(t, s, "ev1", ids[2], setState(cancelled, "withdrawn"))
	wantHash(s, ids[1], "hash-1")
	wantHash(s, ids[2], "hash-2")
	if got, err := s.Get(ctx, "ev1", ids[1]); err != nil || got.GetParticipant().GetJobTitle() != "Directora" {
		t.Errorf("after the change, Get = %v, %v", got, err)
	}
	for _, desc := range []bool{false, true} {
		page, n, err := s.List(ctx, "ev1", "", 10, desc, all)
		if err != nil || n != 3 || len(page) != 3 {
			t.Errorf("List(desc %v) = %d of %d, %v; want 3 of 3", desc, len(page), n, err)
		}
	}
	var seen int
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error {
		return tx.ForEach(func(*registrationsv1.Registration) error { seen++; return nil })
	}); err != nil || seen != 3 {
		t.Errorf("ForEach saw %d, %v; want 3", seen, err)
	}
	// A registration without a hash answers "" (and no error).
	var plainIDs []string
	for i := range 3 {
		plain := mustCreate(t, s, "ev1", "", newReg(fmt.Sprintf("plain%d@example.org", i), "MX", delegate), confirmed)
		plainIDs = append(plainIDs, idOf(t, plain.GetName(), "ev1"))
		wantHash(s, plainIDs[i], "")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// As earlier formats wrote them: the first plain one's hash under its
	// id and "\x00secret" (format 2), the second's in v1/events/ev1/secrets
	// (format 1); and the third's value with a head that claims 65,535 bytes.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		ev := tx.Bucket([]byte("v1")).Bucket([]byte("events")).Bucket([]byte("ev1"))
		regs := ev.Bucket([]byte("registrations"))
		if err := regs.Put([]byte(plainIDs[0]+"\x00secret"), []byte("format-2-hash")); err != nil {
			return err
		}
		b, err := ev.CreateBucketIfNotExists([]byte("secrets"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte(plainIDs[1]), []byte("format-1-hash")); err != nil {
			return err
		}
		return regs.Put([]byte(plainIDs[2]), append([]byte{0, 0xff, 0xff, 0x03}, regs.Get([]byte(plainIDs[2]))...))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	wantHash(s, plainIDs[0], "format-2-hash")
	wantHash(s, plainIDs[1], "format-1-hash")
	wantHash(s, ids[0], "hash-0")
	mustUpdate(t, s, "ev1", plainIDs[0], setState(cancelled, ""))
	wantHash(s, plainIDs[0], "format-2-hash")
	if _, err := s.Get(ctx, "ev1", plainIDs[0]+"\x00secret"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get(a format 2 secret's key) = %v, want not found", err)
	}
	if got, err := s.Get(ctx, "ev1", plainIDs[2]); err == nil || !strings.Contains(err.Error(), "secret hash runs past") {
		t.Errorf("Get(a broken value) = %v, %v; want an error", got, err)
	}
	if _, err := s.SecretHash(ctx, "ev1", plainIDs[2]); err == nil {
		t.Error("SecretHash(a broken value) succeeded, want an error")
	}
}

// TestTotalsByState: the totals by state follow every commit, whether they
// were first read before, during or after the writes (read concurrently
// with them, writes that fail among them), and match the events'
// registrations and a reopened store.
var errBoom = errors.New("boom")

func TestTotalsByState(t *testing.T) {
	for _, firstRead := range []string{"before", "during", "after"} {
		t.Run(firstRead, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "registrations.db")
			s := open(t, path)
			events := []string{"ev1", "ev2", "ev3"}
			if firstRead == "before" {
				if got, err := s.TotalsByState(ctx); err != nil || len(got) != 0 {
					t.Fatalf("TotalsByState of an empty store = %v, %v", got, err)
				}
			}
			states := []registrationsv1.RegistrationState{confirmed, waitlisted, pending, rejected}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			if firstRead == "during" {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := s.TotalsByState(ctx); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			var writers sync.WaitGroup
			for w := range 8 {
				writers.Go(func() {
					for i := range 40 {
						ev := events[(w+i)%len(events)]
						reg := newReg(fmt.Sprintf("w%d-%d@example.org", w, i), "MX", delegate)
						got, _, err := s.Create(ctx, ev, "", insert(reg, states[i%len(states)]))
						if err != nil {
							t.Error(err)
							return
						}
						id := idOf(t, got.GetName(), ev)
						if i%3 == 0 { // and some change state
							if err := update(s, ev, id, setState(cancelled, "")); err != nil {
								t.Error(err)
								return
							}
						}
						// Writes that fail: their batches are rolled back and the
						// rest run again, and none of it may count.
						if i%4 == 1 && i%3 != 0 { // (a cancelled one freed its address)
							if _, _, err := s.Create(ctx, ev, "", insert(reg, confirmed)); !errors.Is(err, errdefs.ErrAlreadyExists) {
								t.Errorf("the same address again: %v, want already exists", err)
							}
						}
						if i%5 == 2 {
							err := s.Update(ctx, ev, func(tx store.Tx) error {
								if err := change(tx, id, setState(rejected, "")); err != nil {
									return err
								}
								return errBoom
							})
							if !errors.Is(err, errBoom) {
								t.Errorf("a failing update: %v", err)
							}
						}
					}
				})
			}
			writers.Wait()
			close(stop)
			wg.Wait()

			want := map[string]float64{}
			for _, ev := range events {
				// The counters too, which each transaction takes from the
				// last commit's copy: the failed writes left no trace in it.
				c, err := s.Counts(ctx, ev)
				if err != nil {
					t.Fatal(err)
				}
				assertCounts(t, c, recount(t, s, ev))
				for st, tally := range recount(t, s, ev).ByState {
					want[strings.TrimPrefix(st, "REGISTRATION_STATE_")] += float64(tally.Total)
				}
			}
			nonzero := func(m map[string]float64) map[string]float64 {
				maps.DeleteFunc(m, func(_ string, v float64) bool { return v == 0 })
				return m
			}
			got, err := s.TotalsByState(ctx)
			if err != nil || !maps.Equal(nonzero(got), nonzero(want)) {
				t.Errorf("TotalsByState = %v, %v; want %v", got, err, want)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			got, err = open(t, path).TotalsByState(ctx)
			if err != nil || !maps.Equal(nonzero(got), nonzero(want)) {
				t.Errorf("after reopening, TotalsByState = %v, %v; want %v", got, err, want)
			}
		})
	}
}

// TestFormatVersion: a new database, and one written before the format
// was recorded, get this code's format; one of a later format is refused
// and left as it was.
func TestFormatVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registrations.db")
	format := func() (uint64, bool) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v []byte
		_ = db.View(func(tx *bolt.Tx) error {
			v = bytes.Clone(tx.Bucket([]byte("v1")).Bucket([]byte("meta")).Get([]byte("format")))
			return nil
		})
		if len(v) != 8 {
			return 0, false
		}
		return binary.BigEndian.Uint64(v), true
	}
	setFormat := func(v []byte) {
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error {
			meta := tx.Bucket([]byte("v1")).Bucket([]byte("meta"))
			if v == nil {
				return meta.Delete([]byte("format"))
			}
			return meta.Put([]byte("format"), v)
		}); err != nil {
			t.Fatal(err)
		}
	}

	s := open(t, path)
	mustCreate(t, s, "ev1", "", newReg("a@example.org", "MX", delegate), confirmed)
	s.Close()
	if f, ok := format(); !ok || f != 3 {
		t.Fatalf("a new database has format %d (%v), want 3", f, ok)
	}
	setFormat(nil) // as written before the format was recorded
	s = open(t, path)
	if n := total(t, s, "ev1"); n != 1 {
		t.Errorf("%d registrations, want 1", n)
	}
	s.Close()
	if f, ok := format(); !ok || f != 3 {
		t.Fatalf("an older database has format %d (%v) once opened, want 3", f, ok)
	}
	setFormat(binary.BigEndian.AppendUint64(nil, 2)) // as format 2 left it
	s = open(t, path)
	s.Close()
	if f, ok := format(); !ok || f != 3 {
		t.Fatalf("a format 2 database has format %d (%v) once opened, want 3", f, ok)
	}

	setFormat(binary.BigEndian.AppendUint64(nil, 4))
	db, err := boltdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boltstore.New(db); err == nil || !strings.Contains(err.Error(), "newer version") {
		t.Errorf("a database of format 4: %v, want refused as newer", err)
	}
	db.Close()
	if f, _ := format(); f != 4 {
		t.Errorf("the refused database now has format %d, want it untouched (4)", f)
	}
}

// TestWaitlistSettled follows the store's note that an event's waiting list
// is settled (policy.Promote skips it then): kept by the commit that settled
// it, for that event revision only; undone by a changed registration, by
// another copy of the event, and by nothing that a failed transaction did;
// not carried over a restart.
func TestWaitlistSettled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registrations.db")
	s := open(t, path)
	settled := func(eventID string, revision int64) bool {
		t.Helper()
		var got bool
		if err := s.Update(ctx, eventID, func(tx store.Tx) error { got = tx.WaitlistSettled(revision); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	settle := func(eventID string, revision int64) {
		t.Helper()
		if err := s.Update(ctx, eventID, func(tx store.Tx) error { tx.SettleWaitlist(revision); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	ev := &eventsv1.Event{Name: "events/ev1", Revision: 3, RegistrationPolicy: &eventsv1.RegistrationPolicy{Capacity: 1, WaitlistEnabled: true}}
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error { return tx.SetEvent(ev) }); err != nil {
		t.Fatal(err)
	}
	if settled("ev1", 3) {
		t.Fatal("settled before any SettleWaitlist")
	}
	settle("ev1", 3)
	if !settled("ev1", 3) || settled("ev1", 4) || settled("ev2", 3) {
		t.Fatalf("after SettleWaitlist(3): settled(ev1, 3) %v, (ev1, 4) %v, (ev2, 3) %v; want true, false, false",
			settled("ev1", 3), settled("ev1", 4), settled("ev2", 3))
	}

	// In the same transaction, a settled list is seen at once.
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error {
		tx.SettleWaitlist(5)
		if !tx.WaitlistSettled(5) {
			t.Error("not settled right after SettleWaitlist in the same transaction")
		}
		tx.SettleWaitlist(3)
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// New registrations take no seat from anyone waiting: still settled.
	a := mustCreate(t, s, "ev1", "", newReg("a@example.org", "MX", delegate), confirmed)
	mustCreate(t, s, "ev1", "", newReg("b@example.org", "MX", delegate), waitlisted)
	if !settled("ev1", 3) {
		t.Error("a create unsettled the waiting list")
	}
	// The same copy of the event saved again changes nothing.
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error { return tx.SetEvent(proto.CloneOf(ev)) }); err != nil {
		t.Fatal(err)
	}
	if !settled("ev1", 3) {
		t.Error("saving the same copy of the event unsettled the waiting list")
	}

	// A failed transaction that changed a registration leaves it settled.
	boom := errors.New("boom")
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error {
		if err := change(tx, idOf(t, a.GetName(), "ev1"), setState(cancelled, "")); err != nil {
			return err
		}
		if tx.WaitlistSettled(3) {
			t.Error("still settled in the transaction after a Put")
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if !settled("ev1", 3) {
		t.Error("a failed transaction unsettled the waiting list")
	}

	// A changed registration unsettles it (the cancellation frees a seat)…
	mustUpdate(t, s, "ev1", idOf(t, a.GetName(), "ev1"), setState(cancelled, "cannot travel"))
	if settled("ev1", 3) {
		t.Error("still settled after a registration changed")
	}
	// …and so does another copy of the event, even of the same revision.
	settle("ev1", 3)
	changed := proto.CloneOf(ev)
	changed.RegistrationPolicy.Capacity, changed.Etag = 2, "another"
	if err := s.Update(ctx, "ev1", func(tx store.Tx) error { return tx.SetEvent(changed) }); err != nil {
		t.Fatal(err)
	}
	if settled("ev1", 3) {
		t.Error("still settled after another copy of the event was saved")
	}

	// Nothing of it survives a restart.
	settle("ev1", 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if settled("ev1", 3) {
		t.Error("settled after a restart")
	}
}
