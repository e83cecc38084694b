package e2e

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLifecycleHTTP: each registration method and each error reason through
// the gateway, with the HTTP status it maps to.
func TestLifecycleHTTP(t *testing.T) {
	s := startSystem(t)
	start := time.Now().Add(20 * 24 * time.Hour).UTC().Truncate(time.Second)

	mk := func(id string, policy map[string]any, mode string) {
		t.Helper()
		ev := eventJSON("Event "+id, start, 0)
		ev["registrationPolicy"] = policy
		ev["attendanceMode"] = mode
		if r := s.call(t, "POST", "/v1/events?eventId="+id, ev); r.Code != http.StatusOK {
			t.Fatalf("create %s: %d %s", id, r.Code, r.Raw)
		}
		if r := s.call(t, "POST", "/v1/events/"+id+":publish", map[string]any{}); r.Code != http.StatusOK {
			t.Fatalf("publish %s: %d %s", id, r.Code, r.Raw)
		}
	}
	mk("approval", map[string]any{"capacity": 2, "requiresApproval": true, "waitlistEnabled": true,
		"allowedCategories": []string{"PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE"}}, "ATTENDANCE_MODE_IN_PERSON")
	mk("quota", map[string]any{"capacity": 10, "delegatesPerCountry": 1, "waitlistEnabled": true}, "ATTENDANCE_MODE_IN_PERSON")
	mk("hybrid", map[string]any{"capacity": 3, "inPersonCapacity": 1}, "ATTENDANCE_MODE_HYBRID")

	register := func(event, given, email, country string, extra map[string]any) httpResult {
		t.Helper()
		body := registrationJSON(given, email, country)
		for k, v := range extra {
			body[k] = v
		}
		return s.call(t, "POST", "/v1/events/"+event+"/registrations", body)
	}
	expect := func(what string, r httpResult, code int, field, want string) {
		t.Helper()
		if r.Code != code {
			t.Errorf("%s: HTTP %d %s, want %d", what, r.Code, r.Raw, code)
			return
		}
		if field == "reason" && r.reason() != want {
			t.Errorf("%s: reason %q, want %q (%s)", what, r.reason(), want, r.Raw)
		}
		if field == "state" && r.Body["state"] != want {
			t.Errorf("%s: state %v, want %s (%s)", what, r.Body["state"], want, r.Raw)
		}
	}

	// Approval, rejection, the waiting list.
	a := register("approval", "Ana", "ana@example.org", "MX", nil)
	expect("register needing approval", a, 200, "state", "REGISTRATION_STATE_PENDING_APPROVAL")
	b := register("approval", "Ben", "ben@example.org", "CA", nil)
	c := register("approval", "Cai", "cai@example.org", "US", nil)
	expect("observer where only delegates may register", register("approval", "Obs", "obs@example.org", "FR",
		map[string]any{"category": "PARTICIPANT_CATEGORY_OBSERVER_COUNTRY"}), 400, "reason", "CATEGORY_NOT_ALLOWED")
	nameA, nameB, nameC := a.Body["name"].(string), b.Body["name"].(string), c.Body["name"].(string)
	expect("approve A", s.call(t, "POST", "/v1/"+nameA+":approve", map[string]any{}), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	expect("approve B", s.call(t, "POST", "/v1/"+nameB+":approve", map[string]any{}), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	expect("approve C when full", s.call(t, "POST", "/v1/"+nameC+":approve", map[string]any{}), 200, "state", "REGISTRATION_STATE_WAITLISTED")
	expect("approve A twice", s.call(t, "POST", "/v1/"+nameA+":approve", map[string]any{}), 400, "reason", "INVALID_STATE_TRANSITION")
	expect("check in a waitlisted one", s.call(t, "POST", "/v1/"+nameC+":checkIn", map[string]any{}), 400, "reason", "INVALID_STATE_TRANSITION")
	stale := s.call(t, "POST", "/v1/"+nameA+":reject", map[string]any{"etag": "stale", "reason": "x"})
	expect("reject with a stale etag", stale, 409, "reason", "ETAG_MISMATCH")
	rej := s.call(t, "POST", "/v1/"+nameA+":reject", map[string]any{"reason": "not an accredited official"})
	expect("reject a confirmed one", rej, 200, "state", "REGISTRATION_STATE_REJECTED")
	if rej.Body["stateReason"] != "not an accredited official" {
		t.Errorf("reject reason = %v", rej.Body["stateReason"])
	}
	expect("the freed seat goes to C", s.call(t, "GET", "/v1/"+nameC, nil), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	expect("check in B", s.call(t, "POST", "/v1/"+nameB+":checkIn", map[string]any{}), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	expect("check in B twice", s.call(t, "POST", "/v1/"+nameB+":checkIn", map[string]any{}), 400, "reason", "ALREADY_CHECKED_IN")
	expect("cancel a rejected one", s.call(t, "POST", "/v1/"+nameA+":cancel", map[string]any{}), 400, "reason", "INVALID_STATE_TRANSITION")
	expect("approve an unknown one", s.call(t, "POST", "/v1/events/approval/registrations/nobody:approve", map[string]any{}), 404, "reason", "REGISTRATION_NOT_FOUND")
	expect("same e-mail twice", register("approval", "Ana", "ana@example.org", "MX", nil), 409, "reason", "EMAIL_ALREADY_REGISTERED")

	// Country quota and the waiting list.
	expect("first MX delegate", register("quota", "M1", "m1@example.org", "MX", nil), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	m2 := register("quota", "M2", "m2@example.org", "MX", nil)
	expect("second MX delegate", m2, 200, "state", "REGISTRATION_STATE_WAITLISTED")
	if m2.Body["stateReason"] != "COUNTRY_QUOTA_REACHED" {
		t.Errorf("waitlist reason = %v, want COUNTRY_QUOTA_REACHED", m2.Body["stateReason"])
	}
	expect("an MX observer organisation is not a delegate", register("quota", "Org", "org@example.org", "MX",
		map[string]any{"category": "PARTICIPANT_CATEGORY_OBSERVER_ORGANIZATION"}), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	expect("non-member delegate", register("quota", "Fr", "fr@example.org", "FR", nil), 400, "reason", "INVALID_ARGUMENT")

	// Hybrid: in-person seats.
	expect("in person", register("hybrid", "H1", "h1@example.org", "GT", map[string]any{"attendanceMode": "ATTENDANCE_MODE_IN_PERSON"}), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	expect("in person when the room is full", register("hybrid", "H2", "h2@example.org", "SV", map[string]any{"attendanceMode": "ATTENDANCE_MODE_IN_PERSON"}), 400, "reason", "IN_PERSON_FULL")
	expect("virtual", register("hybrid", "H3", "h3@example.org", "SV", map[string]any{"attendanceMode": "ATTENDANCE_MODE_VIRTUAL"}), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	expect("virtual 2", register("hybrid", "H4", "h4@example.org", "NI", map[string]any{"attendanceMode": "ATTENDANCE_MODE_VIRTUAL"}), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	expect("full", register("hybrid", "H5", "h5@example.org", "PA", map[string]any{"attendanceMode": "ATTENDANCE_MODE_VIRTUAL"}), 400, "reason", "EVENT_FULL")

	// Stats.
	st := s.call(t, "GET", "/v1/events/quota/registrationStats", nil)
	if st.Code != 200 || st.Body["seatsLeft"] != float64(8) {
		t.Fatalf("stats: %d %s", st.Code, st.Raw)
	}
	if left := st.Body["delegateSeatsLeftByCountry"].(map[string]any); left["MX"] != float64(0) || left["GT"] != float64(1) {
		t.Errorf("delegate seats left = %v, want MX 0 and GT 1", left)
	}
	hy := s.call(t, "GET", "/v1/events/hybrid/registrationStats", nil)
	if hy.Body["inPersonSeatsLeft"] != float64(0) || hy.Body["seatsLeft"] != float64(0) {
		t.Errorf("hybrid stats: %s", hy.Raw)
	}

	// Listing, newest first.
	list := s.call(t, "GET", "/v1/events/approval/registrations?orderBy="+url.QueryEscape("create_time desc"), nil)
	regs, _ := list.Body["registrations"].([]any)
	if len(regs) != 3 || regs[0].(map[string]any)["name"] != nameC {
		t.Errorf("newest first: %s", list.Raw)
	}
	expect("bad order_by", s.call(t, "GET", "/v1/events/approval/registrations?orderBy=email", nil), 400, "reason", "INVALID_ARGUMENT")

	// CSV export, with a formula neutralised.
	expect("formula-looking name", register("quota", "=HYPERLINK(\"http://x\")", "f@example.org", "GT", nil), 200, "state", "REGISTRATION_STATE_CONFIRMED")
	req, _ := http.NewRequest("GET", s.httpURL+"/v1/events/quota/registrations:export", nil)
	req.Header.Set("Authorization", "Bearer "+organizerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, raw)
	}
	if len(rows) != 5 || rows[0][0] != "name" || rows[0][7] != "email" {
		t.Fatalf("export rows = %q", rows)
	}
	if got := rows[4][5]; got != `'=HYPERLINK("http://x")` {
		t.Errorf("formula cell exported as %q, want it neutralised", got)
	}
	if r := s.call(t, "GET", "/v1/events/quota/registrations:export?filter="+url.QueryEscape("colour = red"), nil); r.Code != 400 {
		t.Errorf("export with a bad filter: %d %s", r.Code, r.Raw)
	}
}
