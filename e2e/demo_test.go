package e2e

import (
	"net/http"
	"net/url"
	"syscall"
	"testing"
)

// TestDemoEvents: the RCM's events are served at GET /v1/events, paged, and a
// second start on the same data adds nothing.
func TestDemoEvents(t *testing.T) {
	s := startSystem(t, "-demo")
	names := s.listAll(t, "/v1/events?pageSize=7")
	if len(names) != 40 {
		t.Fatalf("demo events = %d, want 40", len(names))
	}
	xxv := s.call(t, "GET", "/v1/events/xxv-regional-conference-on-migration", nil)
	if xxv.Code != http.StatusOK || xxv.Body["state"] != "EVENT_STATE_PUBLISHED" {
		t.Fatalf("XXV RCM: %d %s", xxv.Code, xxv.Raw)
	}
	if sessions, _ := xxv.Body["sessions"].([]any); len(sessions) != 3 {
		t.Errorf("XXV RCM has %d sessions, want 3", len(sessions))
	}
	r := s.call(t, "GET", "/v1/events?filter="+url.QueryEscape(`kind = CONFERENCE AND "migración"`), nil)
	if r.Body["totalSize"] != float64(3) {
		t.Errorf("conferences matching migración (Spanish titles) = %v, want 3: %s", r.Body["totalSize"], r.Raw)
	}

	s.events.restart(syscall.SIGTERM)
	s.waitHealthy(t)
	if again := s.listAll(t, "/v1/events?pageSize=100"); len(again) != 40 {
		t.Errorf("after a second start with -demo: %d events, want 40", len(again))
	}
}

// TestKill9KeepsAcknowledgedWrites: an event created and acknowledged is
// there after the events service is killed with SIGKILL and restarted.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	s := startSystem(t)
	created := s.call(t, "POST", "/v1/events?eventId=durable", map[string]any{"title": "Durable meeting"})
	if created.Code != http.StatusOK {
		t.Fatalf("create: %d %s", created.Code, created.Raw)
	}
	s.events.restart(syscall.SIGKILL)
	s.waitHealthy(t)
	got := s.call(t, "GET", "/v1/events/durable", nil)
	if got.Code != http.StatusOK || got.Body["etag"] != created.Body["etag"] {
		t.Errorf("after kill -9: %d %s, want %s", got.Code, got.Raw, created.Raw)
	}
}

// listAll pages through a list and returns every event name.
func (s *system) listAll(t *testing.T, path string) []string {
	t.Helper()
	var names []string
	seen := map[string]bool{}
	token := ""
	for range 100 {
		r := s.call(t, "GET", path+"&pageToken="+url.QueryEscape(token), nil)
		if r.Code != http.StatusOK {
			t.Fatalf("list: %d %s", r.Code, r.Raw)
		}
		evs, _ := r.Body["events"].([]any)
		for _, e := range evs {
			n := e.(map[string]any)["name"].(string)
			if seen[n] {
				t.Fatalf("event %s listed twice", n)
			}
			seen[n] = true
			names = append(names, n)
		}
		if token, _ = r.Body["nextPageToken"].(string); token == "" {
			return names
		}
	}
	t.Fatal("list does not end")
	return nil
}
