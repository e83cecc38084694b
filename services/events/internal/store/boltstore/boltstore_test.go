package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/errdefs"
)

// open opens (or reopens) the store on the bbolt file at path; the store is
// closed when the test ends, unless the test closed it first.
func open(t *testing.T, path string) *Store {
	t.Helper()
	db, err := boltdb.Open(path)
	if err != nil {
		t.Fatalf("boltdb.Open(%s): %v", path, err)
	}
	s, err := New(db, time.Now)
	if err != nil {
		db.Close()
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // closing twice is harmless
	return s
}

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "events.db")
	return open(t, path), path
}

func event(id, title string) *eventsv1.Event {
	return &eventsv1.Event{
		Name:      "events/" + id,
		Title:     title,
		Kind:      eventsv1.EventKind_EVENT_KIND_WORKSHOP,
		StartTime: timestamppb.New(time.Date(2020, 12, 1, 15, 0, 0, 0, time.UTC)),
		Topics:    []string{"labor migration"},
		Translations: map[string]*eventsv1.LocalizedText{
			"es": {Title: title + " (es)"},
		},
		RegistrationPolicy: &eventsv1.RegistrationPolicy{Capacity: 10},
	}
}

func mustCreate(t *testing.T, s *Store, id string) *eventsv1.Event {
	t.Helper()
	ev := event(id, "Event "+id)
	if _, _, err := s.Create(context.Background(), id, "", ev); err != nil {
		t.Fatalf("Create(%q): %v", id, err)
	}
	return proto.CloneOf(ev)
}

// names returns the sorted names of events.
func names(events []*eventsv1.Event) []string {
	var out []string
	for _, ev := range events {
		out = append(out, ev.GetName())
	}
	slices.Sort(out)
	return out
}

func listNames(t *testing.T, s *Store) []string {
	t.Helper()
	all, err := allEvents(s)
	if err != nil {
		t.Fatalf("Index: %v", err)
	}
	return names(all)
}

// allEvents returns every event of the store's index.
func allEvents(s *Store) ([]*eventsv1.Event, error) {
	idx, err := s.Index(context.Background())
	if err != nil {
		return nil, err
	}
	out := make([]*eventsv1.Event, 0, len(idx.ByStart))
	for _, e := range idx.ByStart {
		out = append(out, e.Event)
	}
	return out, nil
}

func mustGet(t *testing.T, s *Store, id string) *eventsv1.Event {
	t.Helper()
	ev, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return ev
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		id, request string
		wantCreated bool
		wantErr     error
		wantID      string   // the id whose event is returned
		wantList    []string // the ids stored afterwards
	}{
		{name: "new id", id: "c", wantCreated: true, wantID: "c", wantList: []string{"a", "b", "c"}},
		{name: "new id with request id", id: "c", request: "r-new", wantCreated: true, wantID: "c", wantList: []string{"a", "b", "c"}},
		{name: "taken id", id: "a", wantErr: errdefs.ErrAlreadyExists, wantList: []string{"a", "b"}},
		{name: "taken id with new request id", id: "b", request: "r-new", wantErr: errdefs.ErrAlreadyExists, wantList: []string{"a", "b"}},
		{name: "retry of request", id: "c", request: "r-a", wantCreated: false, wantID: "a", wantList: []string{"a", "b"}},
		{name: "retry of request with taken id", id: "b", request: "r-a", wantCreated: false, wantID: "a", wantList: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			first := event("a", "First")
			if _, created, err := s.Create(ctx, "a", "r-a", first); err != nil || !created {
				t.Fatalf("Create(a) = created %v, %v; want true, nil", created, err)
			}
			mustCreate(t, s, "b")

			ev := event(tt.id, "Second")
			got, created, err := s.Create(ctx, tt.id, tt.request, ev)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Create(%q, %q) error = %v, want %v", tt.id, tt.request, err, tt.wantErr)
			}
			if created != tt.wantCreated {
				t.Errorf("Create(%q, %q) created = %v, want %v", tt.id, tt.request, created, tt.wantCreated)
			}
			if err == nil {
				want := ev
				if tt.wantID == "a" {
					want = first
				}
				if !proto.Equal(got, want) {
					t.Errorf("Create(%q, %q) = %v, want %v", tt.id, tt.request, got, want)
				}
				if stored := mustGet(t, s, tt.wantID); !proto.Equal(stored, want) {
					t.Errorf("Get(%q) = %v, want %v", tt.wantID, stored, want)
				}
			}
			var wantNames []string
			for _, id := range tt.wantList {
				wantNames = append(wantNames, "events/"+id)
			}
			if got := listNames(t, s); !slices.Equal(got, wantNames) {
				t.Errorf("List after Create = %v, want %v", got, wantNames)
			}
			if tt.wantErr != nil {
				if stored := mustGet(t, s, tt.id); stored.GetTitle() == "Second" {
					t.Errorf("a failed Create overwrote %q: %v", tt.id, stored)
				}
			}
		})
	}
}

// A failed Create must not spend its request id: a retry with a free id
// creates the event.
func TestCreateFailureDoesNotRecordRequest(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	mustCreate(t, s, "a")
	if _, _, err := s.Create(ctx, "a", "r1", event("a", "Again")); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("Create(taken id) error = %v, want ErrAlreadyExists", err)
	}
	got, created, err := s.Create(ctx, "b", "r1", event("b", "B"))
	if err != nil || !created || got.GetName() != "events/b" {
		t.Fatalf("Create(b, r1) = %v, created %v, %v; want events/b, true, nil", got.GetName(), created, err)
	}
}

// A retried request whose event has since been deleted is spent: it does not
// silently create a second event.
func TestCreateRetryAfterDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if _, _, err := s.Create(ctx, "a", "r1", event("a", "A")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a", func(*eventsv1.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_, created, err := s.Create(ctx, "a2", "r1", event("a2", "A2"))
	if !errors.Is(err, errdefs.ErrAlreadyExists) || created {
		t.Fatalf("Create after delete = created %v, %v; want false, ErrAlreadyExists", created, err)
	}
	if got := listNames(t, s); len(got) != 0 {
		t.Errorf("List = %v, want empty", got)
	}
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	mustCreate(t, s, "a")
	called := false
	tests := []struct {
		name string
		op   func() error
	}{
		{"get", func() error { _, err := s.Get(ctx, "nope"); return err }},
		{"get empty id", func() error { _, err := s.Get(ctx, ""); return err }},
		{"update", func() error {
			_, err := s.Update(ctx, "nope", eventsv1.EventChange_TYPE_UPDATED, func(*eventsv1.Event) error { called = true; return nil })
			return err
		}},
		{"delete", func() error {
			return s.Delete(ctx, "nope", func(*eventsv1.Event) error { called = true; return nil })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("error = %v, want ErrNotFound", err)
			}
		})
	}
	if called {
		t.Error("an update or check function ran for an unknown id")
	}
	if got, want := listNames(t, s), []string{"events/a"}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	errBoom := fmt.Errorf("boom: %w", errdefs.ErrFailedPrecondition)
	tests := []struct {
		name      string
		fn        func(*eventsv1.Event) error
		wantErr   error
		wantTitle string
		wantCap   int32
	}{
		{
			name:      "change",
			fn:        func(ev *eventsv1.Event) error { ev.Title = "New"; ev.RegistrationPolicy.Capacity = 20; return nil },
			wantTitle: "New", wantCap: 20,
		},
		{
			name:      "no change",
			fn:        func(*eventsv1.Event) error { return nil },
			wantTitle: "Event a", wantCap: 10,
		},
		{
			name:      "error writes nothing",
			fn:        func(*eventsv1.Event) error { return errBoom },
			wantErr:   errBoom,
			wantTitle: "Event a", wantCap: 10,
		},
		{
			name: "change then error writes nothing",
			fn: func(ev *eventsv1.Event) error {
				ev.Title = "Half-done"
				ev.RegistrationPolicy.Capacity = 99
				ev.Topics = append(ev.Topics, "x")
				return errBoom
			},
			wantErr:   errBoom,
			wantTitle: "Event a", wantCap: 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := newStore(t)
			before := mustCreate(t, s, "a")
			got, err := s.Update(ctx, "a", eventsv1.EventChange_TYPE_UPDATED, tt.fn)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Update error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (got.GetTitle() != tt.wantTitle || got.GetRegistrationPolicy().GetCapacity() != tt.wantCap) {
				t.Errorf("Update = title %q capacity %d, want %q %d", got.GetTitle(), got.GetRegistrationPolicy().GetCapacity(), tt.wantTitle, tt.wantCap)
			}
			check := func(s *Store, when string) {
				t.Helper()
				stored := mustGet(t, s, "a")
				if stored.GetTitle() != tt.wantTitle || stored.GetRegistrationPolicy().GetCapacity() != tt.wantCap {
					t.Errorf("%s: stored title %q capacity %d, want %q %d", when, stored.GetTitle(), stored.GetRegistrationPolicy().GetCapacity(), tt.wantTitle, tt.wantCap)
				}
				if tt.wantErr != nil && !proto.Equal(stored, before) {
					t.Errorf("%s: stored = %v, want unchanged %v", when, stored, before)
				}
			}
			check(s, "after Update")
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			check(open(t, path), "after reopen")
		})
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	errStale := errdefs.Newf(errdefs.ErrAborted, "ETAG_MISMATCH", "stale")
	tests := []struct {
		name     string
		check    func(*eventsv1.Event) error
		wantErr  error
		wantList []string
	}{
		{"deleted", func(*eventsv1.Event) error { return nil }, nil, []string{"events/b"}},
		{"check refuses", func(*eventsv1.Event) error { return errStale }, errdefs.ErrAborted, []string{"events/a", "events/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := newStore(t)
			mustCreate(t, s, "a")
			mustCreate(t, s, "b")
			var seen string
			err := s.Delete(ctx, "a", func(ev *eventsv1.Event) error {
				seen = ev.GetName()
				return tt.check(ev)
			})
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Delete error = %v, want %v", err, tt.wantErr)
			}
			if seen != "events/a" {
				t.Errorf("check saw %q, want events/a", seen)
			}
			if got := listNames(t, s); !slices.Equal(got, tt.wantList) {
				t.Errorf("List = %v, want %v", got, tt.wantList)
			}
			_, getErr := s.Get(ctx, "a")
			if deleted := tt.wantErr == nil; deleted != errors.Is(getErr, errdefs.ErrNotFound) {
				t.Errorf("Get after Delete error = %v, deleted %v", getErr, deleted)
			}
			s.Close()
			if got := listNames(t, open(t, path)); !slices.Equal(got, tt.wantList) {
				t.Errorf("List after reopen = %v, want %v", got, tt.wantList)
			}
		})
	}
	t.Run("twice", func(t *testing.T) {
		s, _ := newStore(t)
		mustCreate(t, s, "a")
		ok := func(*eventsv1.Event) error { return nil }
		if err := s.Delete(ctx, "a", ok); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "a", ok); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("second Delete error = %v, want ErrNotFound", err)
		}
		// The id is free again.
		if _, created, err := s.Create(ctx, "a", "", event("a", "Again")); err != nil || !created {
			t.Errorf("Create after Delete = created %v, %v; want true, nil", created, err)
		}
	})
}

// Everything written is there for a new Store on the same file: creates,
// updates, deletes and request ids.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t)
	want := map[string]*eventsv1.Event{}
	for i := range 5 {
		id := fmt.Sprintf("ev-%d", i)
		ev := event(id, fmt.Sprintf("Event %d", i))
		if _, _, err := s.Create(ctx, id, fmt.Sprintf("req-%d", i), ev); err != nil {
			t.Fatal(err)
		}
		want["events/"+id] = proto.CloneOf(ev)
	}
	updated, err := s.Update(ctx, "ev-1", eventsv1.EventChange_TYPE_UPDATED, func(ev *eventsv1.Event) error {
		ev.Title = "Renamed"
		ev.Sessions = []*eventsv1.Session{{Title: "Day 1"}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want["events/ev-1"] = proto.CloneOf(updated)
	if err := s.Delete(ctx, "ev-3", func(*eventsv1.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	delete(want, "events/ev-3")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := open(t, path)
	all, err := allEvents(s2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(all), len(want); got != want {
		t.Fatalf("List after reopen has %d events, want %d", got, want)
	}
	for _, got := range all {
		if w := want[got.GetName()]; !proto.Equal(got, w) {
			t.Errorf("after reopen %s = %v, want %v", got.GetName(), got, w)
		}
	}
	// The request ids survived too.
	got, created, err := s2.Create(ctx, "other", "req-2", event("other", "Other"))
	if err != nil || created || got.GetName() != "events/ev-2" {
		t.Errorf("retry after reopen = %q, created %v, %v; want events/ev-2, false, nil", got.GetName(), created, err)
	}
}

// The store hands out copies: changing an event after Create, or one
// returned by Get, Create or Update, leaves the stored event as it was.
func TestReturnedEventsAreCopies(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	in := event("a", "Original")
	want := proto.CloneOf(in)
	created, _, err := s.Create(ctx, "a", "r1", in)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(ev *eventsv1.Event) {
		ev.Title = "Changed"
		ev.Topics[0] = "changed"
		ev.Topics = append(ev.Topics, "more")
		ev.RegistrationPolicy.Capacity = 999
		ev.Translations["es"].Title = "Cambiado"
		ev.StartTime.Seconds++
	}
	check := func(when string) {
		t.Helper()
		if got := mustGet(t, s, "a"); !proto.Equal(got, want) {
			t.Errorf("after changing %s: stored = %v, want %v", when, got, want)
		}
	}
	mutate(in)
	check("the created event")
	mutate(created)
	check("Create's result")
	mutate(mustGet(t, s, "a"))
	check("Get's result")

	retried, created2, err := s.Create(ctx, "b", "r1", event("b", "B"))
	if err != nil || created2 {
		t.Fatalf("retry = created %v, %v", created2, err)
	}
	mutate(retried)
	check("a retried Create's result")

	var inFn *eventsv1.Event
	updated, err := s.Update(ctx, "a", eventsv1.EventChange_TYPE_UPDATED, func(ev *eventsv1.Event) error {
		inFn = ev
		ev.Summary = "Updated"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want.Summary = "Updated"
	mutate(updated)
	check("Update's result")
	mutate(inFn)
	check("the event given to Update's function")

	// A failed Update's function may have changed its event; that must not leak.
	_, err = s.Update(ctx, "a", eventsv1.EventChange_TYPE_UPDATED, func(ev *eventsv1.Event) error {
		mutate(ev)
		return errdefs.ErrFailedPrecondition
	})
	if !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Update error = %v", err)
	}
	check("a failed Update's event")

	_ = s.Delete(ctx, "a", func(ev *eventsv1.Event) error {
		mutate(ev)
		return errdefs.ErrAborted
	})
	check("the event given to Delete's check")
}

// Concurrent updates are serialised: none is lost, and readers running
// alongside see whole events (run with -race).
func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	s, path := newStore(t)
	mustCreate(t, s, "a")
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.Update(ctx, "a", eventsv1.EventChange_TYPE_UPDATED, func(ev *eventsv1.Event) error {
				ev.RegistrationPolicy.Capacity++
				ev.Topics = append(ev.Topics, fmt.Sprintf("t%d", i))
				return nil
			})
			if err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		})
		wg.Go(func() {
			ev, err := s.Get(ctx, "a")
			if err != nil {
				t.Errorf("Get: %v", err)
				return
			}
			// Capacity starts at 10 and each update adds a topic with it.
			if got, want := len(ev.GetTopics()), int(ev.GetRegistrationPolicy().GetCapacity())-10+1; got != want {
				t.Errorf("Get saw %d topics with capacity %d, want %d topics", got, ev.GetRegistrationPolicy().GetCapacity(), want)
			}
			all, err := allEvents(s)
			if err != nil || len(all) != 1 {
				t.Errorf("List = %d events, %v", len(all), err)
			}
			for _, ev := range all {
				_ = proto.Size(ev) // read the shared event while writers run
			}
		})
	}
	wg.Wait()
	check := func(s *Store, when string) {
		t.Helper()
		ev := mustGet(t, s, "a")
		if got, want := ev.GetRegistrationPolicy().GetCapacity(), int32(10+n); got != want {
			t.Errorf("%s: capacity = %d, want %d", when, got, want)
		}
		if got, want := len(ev.GetTopics()), 1+n; got != want {
			t.Errorf("%s: %d topics, want %d", when, got, want)
		}
	}
	check(s, "after the updates")
	s.Close()
	check(open(t, path), "after reopen")
}

// Concurrent creates with one request id make one event.
func TestConcurrentCreatesSameRequest(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]int{}
	createdCount := 0
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("ev-%d", i)
			got, created, err := s.Create(ctx, id, "same-request", event(id, "E"))
			if err != nil {
				t.Errorf("Create %d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			results[got.GetName()]++
			if created {
				createdCount++
			}
		})
	}
	wg.Wait()
	if len(results) != 1 || createdCount != 1 {
		t.Errorf("results = %v with %d created, want one event created once", results, createdCount)
	}
	if got := listNames(t, s); len(got) != 1 {
		t.Errorf("List = %v, want one event", got)
	}
}
