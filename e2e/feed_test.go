package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	eventsv1 "convene.dev/gen/convene/events/v1"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *system) publishedEvent(t *testing.T, id string, policy map[string]any) {
	t.Helper()
	ev := eventJSON("Event "+id, time.Now().Add(72*time.Hour).UTC().Truncate(time.Second), 0)
	ev["registrationPolicy"] = policy
	if r := s.call(t, "POST", "/v1/events?eventId="+id, ev); r.Code != http.StatusOK {
		t.Fatalf("create %s: %d %s", id, r.Code, r.Raw)
	}
	if r := s.call(t, "POST", "/v1/events/"+id+":publish", map[string]any{}); r.Code != http.StatusOK {
		t.Fatalf("publish %s: %d %s", id, r.Code, r.Raw)
	}
}

func (s *system) state(t *testing.T, name string) (string, string) {
	r := s.call(t, "GET", "/v1/"+name, nil)
	st, _ := r.Body["state"].(string)
	reason, _ := r.Body["stateReason"].(string)
	return st, reason
}

// TestFeedPromotesOnCapacityRaise: a capacity raised in the events service
// promotes from the waiting list at once, with no registration change.
func TestFeedPromotesOnCapacityRaise(t *testing.T) {
	s := startSystem(t)
	s.publishedEvent(t, "small", map[string]any{"capacity": 1, "waitlistEnabled": true})
	a := s.call(t, "POST", "/v1/events/small/registrations", registrationJSON("A", "a@example.org", "MX"))
	b := s.call(t, "POST", "/v1/events/small/registrations", registrationJSON("B", "b@example.org", "GT"))
	if a.Body["state"] != "REGISTRATION_STATE_CONFIRMED" || b.Body["state"] != "REGISTRATION_STATE_WAITLISTED" {
		t.Fatalf("a = %s, b = %s", a.Raw, b.Raw)
	}
	if r := s.call(t, "PATCH", "/v1/events/small", map[string]any{"registrationPolicy": map[string]any{"capacity": 2, "waitlistEnabled": true}}); r.Code != http.StatusOK {
		t.Fatalf("raise capacity: %d %s", r.Code, r.Raw)
	}
	eventually(t, "B promoted", func() bool {
		st, reason := s.state(t, b.Body["name"].(string))
		return st == "REGISTRATION_STATE_CONFIRMED" && reason == "PROMOTED_FROM_WAITLIST"
	})
}

// TestFeedCancelsRegistrations: cancelling an event cancels its live
// registrations — also when the registrations service was down at the time
// and catches up when it starts again.
func TestFeedCancelsRegistrations(t *testing.T) {
	s := startSystem(t)
	s.publishedEvent(t, "live", map[string]any{})
	s.publishedEvent(t, "offline", map[string]any{})
	r1 := s.call(t, "POST", "/v1/events/live/registrations", registrationJSON("A", "a@example.org", "MX"))
	r2 := s.call(t, "POST", "/v1/events/offline/registrations", registrationJSON("B", "b@example.org", "MX"))

	s.call(t, "POST", "/v1/events/live:cancel", map[string]any{"reason": "hurricane"})
	eventually(t, "registration cancelled with its event", func() bool {
		st, reason := s.state(t, r1.Body["name"].(string))
		return st == "REGISTRATION_STATE_CANCELLED" && reason == "EVENT_CANCELLED"
	})

	s.registrations.stop(syscall.SIGKILL)
	if r := s.call(t, "DELETE", "/v1/events/offline", nil); r.Code != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Code, r.Raw)
	}
	s.registrations.launch()
	s.waitHealthy(t)
	eventually(t, "registration cancelled after catching up", func() bool {
		st, reason := s.state(t, r2.Body["name"].(string))
		return st == "REGISTRATION_STATE_CANCELLED" && reason == "EVENT_CANCELLED"
	})
}

// TestFeedCompactionAndRelist: changes older than the retention are
// compacted; asking for them is OUT_OF_RANGE; a registrations service that
// was down past the retention re-lists and still cancels what it must.
func TestFeedCompactionAndRelist(t *testing.T) {
	s := startSystem(t, "-change-retention", "1s")
	s.publishedEvent(t, "old", map[string]any{})
	reg := s.call(t, "POST", "/v1/events/old/registrations", registrationJSON("A", "a@example.org", "CR"))
	s.registrations.stop(syscall.SIGTERM)
	s.call(t, "POST", "/v1/events/old:cancel", map[string]any{})
	time.Sleep(1500 * time.Millisecond)
	s.publishedEvent(t, "newer", map[string]any{}) // the newest change is always kept

	events := eventsv1.NewEventServiceClient(s.eventsConn)
	eventually(t, "old changes compacted", func() bool {
		stream, err := events.WatchEventChanges(context.Background(), &eventsv1.WatchEventChangesRequest{AfterSequence: 0})
		if err != nil {
			return false
		}
		_, err = stream.Recv()
		return status.Code(err) == codes.OutOfRange
	})

	s.registrations.launch()
	s.waitHealthy(t)
	eventually(t, "registration cancelled after a re-list", func() bool {
		st, reason := s.state(t, reg.Body["name"].(string))
		return st == "REGISTRATION_STATE_CANCELLED" && reason == "EVENT_CANCELLED"
	})
}

// TestWatchEventChanges: the feed over gRPC and as newline-delimited JSON
// through the gateway, from a sequence number, then live.
func TestWatchEventChanges(t *testing.T) {
	s := startSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := eventsv1.NewEventServiceClient(s.eventsConn)
	s.publishedEvent(t, "first", map[string]any{})

	stream, err := events.WatchEventChanges(ctx, &eventsv1.WatchEventChangesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []*eventsv1.EventChange
	for len(got) < 2 {
		ch, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ch)
	}
	if got[0].GetType() != eventsv1.EventChange_TYPE_CREATED || got[1].GetType() != eventsv1.EventChange_TYPE_PUBLISHED ||
		got[1].GetSequence() <= got[0].GetSequence() || got[1].GetEvent().GetState() != eventsv1.EventState_EVENT_STATE_PUBLISHED {
		t.Fatalf("changes = %v", got)
	}
	// Live: an update made now arrives on the open stream.
	ev := got[1].GetEvent()
	ev.Title = "Renamed"
	if _, err := events.UpdateEvent(ctx, &eventsv1.UpdateEventRequest{Event: ev, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
		t.Fatal(err)
	}
	live, err := stream.Recv()
	if err != nil || live.GetType() != eventsv1.EventChange_TYPE_UPDATED || live.GetEvent().GetTitle() != "Renamed" || live.GetEvent().GetRevision() != 3 {
		t.Fatalf("live change = %v, %v", live, err)
	}

	// Through the gateway, NDJSON from after the first change.
	req, _ := http.NewRequestWithContext(ctx, "GET", s.httpURL+"/v1/events:watchChanges?afterSequence=1", nil)
	req.Header.Set("Authorization", "Bearer "+organizerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var lines []map[string]map[string]any
	for len(lines) < 2 && sc.Scan() {
		var line map[string]map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, line)
	}
	if len(lines) != 2 || lines[0]["result"]["type"] != "TYPE_PUBLISHED" || lines[1]["result"]["type"] != "TYPE_UPDATED" {
		t.Fatalf("NDJSON lines = %v", lines)
	}
}
