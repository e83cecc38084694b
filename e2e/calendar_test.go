package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// icalEvent is what tools/js/ical-to-json.mjs (ical.js) reads back.
type icalEvent struct {
	UID, Summary, Description, Location, URL, Status, Categories string
	Sequence                                                     int
	DTStart, DTEnd, DTStamp                                      string
}

// parseICal runs ical.js, an independent parser, on an iCalendar text.
func parseICal(t *testing.T, text string) []icalEvent {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "tools", "js", "ical-to-json.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("..", "tools", "js", "node_modules", "ical.js")); err != nil {
		t.Fatal("ical.js is missing: run `make js-tools` (make test does)")
	}
	f := filepath.Join(t.TempDir(), "cal.ics")
	os.WriteFile(f, []byte(text), 0o600)
	out, err := exec.Command("node", script, f).Output()
	if err != nil {
		t.Fatalf("ical.js could not parse the calendar: %v\n%s", err, text)
	}
	var cal struct {
		Version string
		Events  []icalEvent
	}
	if err := json.Unmarshal(out, &cal); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if cal.Version != "2.0" {
		t.Errorf("VERSION = %q", cal.Version)
	}
	return cal.Events
}

func getCalendar(t *testing.T, s *system, path string, header ...string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.httpURL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("GET %s: %d %s\n%s", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line %d is %d octets, over 75: %q", i+1, len(line), line)
		}
	}
	return string(b)
}

// TestCalendar: the calendar feed and one event's file, read back by an
// independent parser (ical.js) and compared field by field with the API.
func TestCalendar(t *testing.T) {
	s := startSystem(t, "-demo", "-public-url", "https://events.example.org")
	filter := url.QueryEscape("kind = CONFERENCE")
	cal := parseICal(t, getCalendar(t, s, "/v1/events:exportCalendar?filter="+filter))
	list := s.callAs(t, "", "", "GET", "/v1/events?orderBy=start_time&filter="+filter, nil)
	events, _ := list.Body["events"].([]any)
	if len(cal) != 3 || len(events) != 3 {
		t.Fatalf("calendar has %d events, the API %d; want 3", len(cal), len(events))
	}
	for i, e := range events {
		ev := e.(map[string]any)
		id := strings.TrimPrefix(ev["name"].(string), "events/")
		got := cal[i]
		want := icalEvent{
			UID: id + "@convene.dev", Summary: ev["title"].(string), Status: "CONFIRMED", Categories: "CONFERENCE",
			URL:      "https://events.example.org/#/events/" + id,
			Sequence: atoi(t, ev["revision"]) - 1, // int64 is a JSON string
			DTStart:  isoMillis(t, ev["startTime"]), DTEnd: isoMillis(t, ev["endTime"]), DTStamp: isoMillis(t, ev["updateTime"]),
		}
		got.Description, got.Location = "", "" // compared below
		if got != want {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got, want)
		}
	}

	// One event, with text that needs escaping and folding, then cancelled.
	long := "Taller regional: migración laboral, reclutamiento justo; protección de derechos \\ y \"cuidados\"\nSegunda línea, con más texto para que la línea pase de setenta y cinco octetos."
	ev := eventJSON("Taller sobre migración laboral y reclutamiento justo en Centroamérica", time.Now().Add(96*time.Hour).UTC().Truncate(time.Second), 0)
	ev["summary"] = long
	if r := s.call(t, "POST", "/v1/events?eventId=taller", ev); r.Code != 200 {
		t.Fatal(r.Raw)
	}
	s.call(t, "POST", "/v1/events/taller:publish", map[string]any{})
	one := parseICal(t, getCalendar(t, s, "/v1/events/taller:exportCalendar"))
	if len(one) != 1 || one[0].Description != long || one[0].Location != "Hotel Real, Guatemala City, GT" || one[0].Status != "CONFIRMED" {
		t.Fatalf("one event = %+v", one)
	}
	s.call(t, "POST", "/v1/events/taller:cancel", map[string]any{"reason": "storm"})
	cancelled := parseICal(t, getCalendar(t, s, "/v1/events/taller:exportCalendar"))
	if cancelled[0].Status != "CANCELLED" || cancelled[0].Sequence <= one[0].Sequence {
		t.Errorf("after cancelling: status %s sequence %d (before %d)", cancelled[0].Status, cancelled[0].Sequence, one[0].Sequence)
	}
	// A draft is in no calendar.
	s.call(t, "POST", "/v1/events?eventId=draft", eventJSON("Draft", time.Now().Add(time.Hour), 0))
	if r := s.callAs(t, "", "", "GET", "/v1/events/draft:exportCalendar", nil); r.Code != 404 {
		t.Errorf("draft calendar: %d", r.Code)
	}
	// In Spanish.
	es := parseICal(t, getCalendar(t, s, "/v1/events/xxv-regional-conference-on-migration:exportCalendar", "Accept-Language", "es-CR,es;q=0.9"))
	if es[0].Summary != "XXV Conferencia Regional sobre Migración" {
		t.Errorf("Spanish SUMMARY = %q", es[0].Summary)
	}
}

func atoi(t *testing.T, v any) int {
	t.Helper()
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil {
		t.Fatalf("number %v: %v", v, err)
	}
	return n
}

// isoMillis turns an RFC 3339 API time into what ical.js prints.
func isoMillis(t *testing.T, v any) string {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v))
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return ts.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05.000Z")
}

// TestLanguages: the language parameter or Accept-Language chooses the
// texts; the answer says which; without a translation, the default.
func TestLanguages(t *testing.T) {
	s := startSystem(t, "-demo")
	const xxv = "/v1/events/xxv-regional-conference-on-migration"
	tests := []struct {
		query, header, wantLang, wantTitle string
	}{
		{"", "", "en", "XXV Regional Conference on Migration"},
		{"?language=es", "", "es", "XXV Conferencia Regional sobre Migración"},
		{"", "es-MX,es;q=0.9,en;q=0.5", "es", "XXV Conferencia Regional sobre Migración"},
		{"", "fr-FR,fr;q=0.9", "en", "XXV Regional Conference on Migration"},
		{"", "fr,es;q=0.8", "es", "XXV Conferencia Regional sobre Migración"},
		{"?language=en", "es", "en", "XXV Regional Conference on Migration"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", s.httpURL+xxv+tt.query, nil)
		if tt.header != "" {
			req.Header.Set("Accept-Language", tt.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if ev["language"] != tt.wantLang || ev["title"] != tt.wantTitle {
			t.Errorf("%q with Accept-Language %q: language %v, title %v; want %s, %s", tt.query, tt.header, ev["language"], ev["title"], tt.wantLang, tt.wantTitle)
		}
	}
	r := s.callAs(t, "", "", "GET", "/v1/events?language=es&pageSize=100", nil)
	for _, e := range r.Body["events"].([]any) {
		if e.(map[string]any)["language"] != "es" {
			t.Errorf("listed %v in %v, want es (every demo event has a Spanish title)", e.(map[string]any)["name"], e.(map[string]any)["language"])
		}
	}
	if bad := s.callAs(t, "", "", "GET", xxv+"?language=Spanish", nil); bad.Code != 400 {
		t.Errorf("language=Spanish: %d", bad.Code)
	}
}
