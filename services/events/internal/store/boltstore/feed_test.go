package boltstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
)

func TestChangesRecordEveryWrite(t *testing.T) {
	s, path := newStore(t)
	ctx := context.Background()
	ev := event("a", "A")
	ev.UpdateTime = timestamppb.Now()
	if _, _, err := s.Create(ctx, "a", "", ev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "a", eventsv1.EventChange_TYPE_PUBLISHED, func(e *eventsv1.Event) error {
		e.State = eventsv1.EventState_EVENT_STATE_PUBLISHED
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A refused update records nothing.
	if _, err := s.Update(ctx, "a", eventsv1.EventChange_TYPE_UPDATED, func(*eventsv1.Event) error { return errors.New("no") }); err == nil {
		t.Fatal("refused update succeeded")
	}
	if err := s.Delete(ctx, "a", func(*eventsv1.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		t.Helper()
		changes, err := s.Changes(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		want := []eventsv1.EventChange_Type{eventsv1.EventChange_TYPE_CREATED, eventsv1.EventChange_TYPE_PUBLISHED, eventsv1.EventChange_TYPE_DELETED}
		if len(changes) != len(want) {
			t.Fatalf("changes = %v, want types %v", changes, want)
		}
		for i, ch := range changes {
			if ch.GetType() != want[i] || ch.GetSequence() != int64(i+1) || ch.GetEvent().GetName() != "events/a" || ch.GetChangeTime() == nil {
				t.Errorf("change %d = %v, want type %v sequence %d", i, ch, want[i], i+1)
			}
		}
		if idx, _ := s.Index(ctx); idx.Sequence != 3 {
			t.Errorf("Index sequence = %d, want 3", idx.Sequence)
		}
		if rest, _ := s.Changes(ctx, 2, 100); len(rest) != 1 || rest[0].GetSequence() != 3 {
			t.Errorf("Changes after 2 = %v", rest)
		}
	}
	check(s)
	s.Close()
	check(open(t, path)) // sequence numbers survive a restart
}

func TestWaitWakesOnCommit(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	wake := s.Wait(0)
	select {
	case <-wake:
		t.Fatal("Wait(0) on an empty feed is already closed")
	default:
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); mustCreate(t, s, "a") }()
	select {
	case <-wake:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not wake on a commit")
	}
	wg.Wait()
	select {
	case <-s.Wait(0):
	default:
		t.Error("Wait(0) with a change above 0 must be closed at once")
	}
	_ = ctx
}

func TestCompact(t *testing.T) {
	s, path := newStore(t)
	ctx := context.Background()
	s.now = func() time.Time { return time.Now().Add(-48 * time.Hour) } // changes made two days ago
	for _, id := range []string{"a", "b", "c"} {
		mustCreate(t, s, id)
	}
	// Everything is older than a day, but the newest change is kept.
	n, err := s.Compact(ctx, time.Now().Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Compact = %d, %v; want 2 removed", n, err)
	}
	for _, after := range []int64{0, 1} {
		if _, err := s.Changes(ctx, after, 10); !errors.Is(err, errdefs.ErrOutOfRange) || errdefs.Reason(err) != "CHANGES_COMPACTED" {
			t.Errorf("Changes(%d) after compaction = %v, want OUT_OF_RANGE CHANGES_COMPACTED", after, err)
		}
	}
	if got, err := s.Changes(ctx, 2, 10); err != nil || len(got) != 1 || got[0].GetSequence() != 3 {
		t.Errorf("Changes(2) = %v, %v; want change 3", got, err)
	}
	s.Close()
	s = open(t, path)
	// After a restart: still compacted, and new changes continue the numbering.
	if _, err := s.Changes(ctx, 0, 10); !errors.Is(err, errdefs.ErrOutOfRange) {
		t.Errorf("after reopen: %v", err)
	}
	mustCreate(t, s, "d")
	if got, _ := s.Changes(ctx, 3, 10); len(got) != 1 || got[0].GetSequence() != 4 {
		t.Errorf("new change = %v, want sequence 4", got)
	}
	// Change 3 was only kept as the newest; now it can go, and 4 stays.
	if n, _ := s.Compact(ctx, time.Now().Add(-24*time.Hour)); n != 1 {
		t.Errorf("second compaction removed %d changes, want 1", n)
	}
	if got, err := s.Changes(ctx, 3, 10); err != nil || len(got) != 1 {
		t.Errorf("Changes(3) = %v, %v", got, err)
	}
}

func TestChangesPastTheHead(t *testing.T) {
	s, _ := newStore(t)
	mustCreate(t, s, "a")
	if _, err := s.Changes(context.Background(), 1, 10); err != nil {
		t.Errorf("Changes at the head: %v", err)
	}
	if _, err := s.Changes(context.Background(), 5, 10); !errors.Is(err, errdefs.ErrOutOfRange) || errdefs.Reason(err) != "CHANGES_UNKNOWN" {
		t.Errorf("Changes past the head = %v, want OUT_OF_RANGE CHANGES_UNKNOWN", err)
	}
}
