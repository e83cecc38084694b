package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowser drives the web page that the gateway serves at / in a real
// headless chromium, against the real system with the RCM demo events:
// browse and filter, an event page, Spanish, registering (and its field
// errors), the private link to cancel, and an organiser's approvals.
// Screenshots of the main pages go to artifacts/screenshots/.
func TestBrowser(t *testing.T) {
	s := startSystem(t, "-demo")
	browser := startBrowser(t)
	// Screenshots of an earlier run would mislead.
	if old, _ := filepath.Glob(filepath.Join(browserScreenshots, "*.png")); len(old) > 0 {
		for _, f := range old {
			os.Remove(f)
		}
	}

	t.Run("BrowseAndFilter", func(t *testing.T) {
		tab := openTab(t, browser, s, 1280, 900)
		tab.open("")
		tab.waitFor("the list of events", `document.querySelector('#results-heading[data-total]') !== null`)
		if got := tab.attr("#results-heading", "data-total"); got != "40" {
			t.Fatalf("events listed = %s, want the 40 demo events", got)
		}
		if got := tab.count("#event-list > li"); got != 10 {
			t.Errorf("events on the first page = %d, want 10", got)
		}
		// Newest first, and the demo events are history: registration is closed.
		if got, want := tab.attr("#event-list > li", "data-event"), firstEventID(t, s); got != want {
			t.Errorf("first event = %s, want the newest, %s", got, want)
		}
		if got := tab.count(`#event-list [data-status="closed"]`); got != 10 {
			t.Errorf("events marked closed = %d, want 10", got)
		}
		tab.screenshot("events")
		tab.checkPage("events")

		// Page 2 and back.
		tab.click("#page-next")
		tab.navigated("page 2", `hash.includes('page=2')`)
		if got := tab.count("#event-list > li"); got != 10 {
			t.Errorf("events on page 2 = %d, want 10", got)
		}
		tab.click("#page-prev")
		tab.navigated("page 1", `!hash.includes('page=')`)
		if got := tab.attr("#event-list > li", "data-event"); got != firstEventID(t, s) {
			t.Errorf("back on page 1, the first event is %s", got)
		}

		// Kind CONFERENCE: the three Regional Conferences.
		tab.choose("#filter-kind", "CONFERENCE")
		tab.click("#filter-submit")
		tab.navigated("the conferences", `hash.includes('kind=CONFERENCE')`)
		if got := tab.attr("#results-heading", "data-total"); got != "3" {
			t.Errorf("conferences = %s, want 3", got)
		}
		if got := tab.count("#event-list > li"); got != 3 {
			t.Errorf("conference cards = %d, want 3", got)
		}
		if n := tab.count(`#event-list li[data-event="xxv-regional-conference-on-migration"]`); n != 1 {
			t.Error("the XXV Regional Conference is not among the conferences")
		}
		if got := tab.attr("#results-heading", "tabindex"); got != "-1" {
			t.Errorf("results heading tabindex = %q; focus should move to the results", got)
		}
		tab.screenshot("events-conferences")

		// Free text, year and country, each compared with the API's own answer.
		for _, tc := range []struct {
			name        string
			text, year  string
			mode, cntry string
			filter      string
		}{
			{name: "free text", text: "remittances", filter: `"remittances"`},
			{name: "year and country", year: "2019", cntry: "GT",
				filter: `start_time >= "2019-01-01T00:00:00Z" AND start_time < "2020-01-01T00:00:00Z" AND location.country_code = GT`},
			{name: "attendance and text", mode: "VIRTUAL", text: "migrant women",
				filter: `attendance_mode = VIRTUAL AND "migrant women"`},
		} {
			tab.open("") // a fresh form
			if tc.text != "" {
				tab.typeInto("#filter-q", tc.text)
			}
			if tc.year != "" {
				tab.choose("#filter-year", tc.year)
			}
			if tc.mode != "" {
				tab.choose("#filter-mode", tc.mode)
			}
			if tc.cntry != "" {
				tab.choose("#filter-country", tc.cntry)
			}
			tab.click("#filter-submit")
			tab.navigated(tc.name, `hash !== '' && hash !== '#/'`)
			want := apiTotal(t, s, tc.filter)
			if want == 0 {
				t.Fatalf("%s: the API finds nothing for %s; the test needs a filter that matches", tc.name, tc.filter)
			}
			if got := tab.attr("#results-heading", "data-total"); got != strconv.Itoa(want) {
				t.Errorf("%s: the page lists %s events, the API %d for %s", tc.name, got, want, tc.filter)
			}
		}
		tab.screenshot("events-search")
	})

	t.Run("EventPage", func(t *testing.T) {
		tab := openTab(t, browser, s, 1280, 900)
		tab.open("#/events/xxv-regional-conference-on-migration")
		if got := tab.text("#event-title"); got != "XXV Regional Conference on Migration" {
			t.Errorf("title = %q", got)
		}
		if got := tab.attr("#registration-status", "data-status"); got != "closed" {
			t.Errorf("registration status = %q, want closed for a past event", got)
		}
		if got := tab.text("#registration"); !strings.Contains(got, "already taken place") {
			t.Errorf("registration box says %q; it should say clearly that the event is past and closed", got)
		}
		if tab.count("#register-link") != 0 {
			t.Error("a closed event offers a registration link")
		}
		if got := tab.count(".sessions > li"); got != 3 {
			t.Errorf("sessions = %d, want 3", got)
		}
		if got := tab.text("#event-place"); got != "Virtual (online)" {
			t.Errorf("place = %q, want Virtual (online)", got)
		}
		if got := tab.attr("html", "lang"); got != "en" {
			t.Errorf("html lang = %q, want en", got)
		}
		tab.screenshot("event")
		tab.checkPage("event")
	})

	t.Run("Keyboard", func(t *testing.T) {
		tab := openTab(t, browser, s, 1280, 900)
		tab.open("")
		// The first Tab reaches the skip link; Enter takes focus to the content.
		tab.key("\t")
		if got, _ := tab.eval(`document.activeElement?.id || ''`); got != "skip-link" {
			t.Fatalf("first Tab focuses %q, want the skip link", got)
		}
		tab.key("\r")
		if got, _ := tab.eval(`document.activeElement?.id || ''`); got != "main" {
			t.Fatalf("the skip link took focus to %q, want main", got)
		}
		tab.key("\t")
		if got, _ := tab.eval(`document.activeElement?.id || ''`); got != "filter-q" {
			t.Fatalf("Tab after the skip link focuses %q, want the search field", got)
		}
		// The focus is visible.
		if ring, _ := tab.eval(`(() => { const s = getComputedStyle(document.activeElement);
			return s.outlineStyle === 'solid' && parseFloat(s.outlineWidth) >= 2 ? 'visible' : s.outlineStyle + ' ' + s.outlineWidth; })()`); ring != "visible" {
			t.Errorf("focused search field outline = %q, want a visible ring", ring)
		}
		// Search with Enter; focus goes to the results; Tab, Enter opens the first one.
		tab.run("type the search", chromedp.SendKeys(chromedp.ID("filter-q"), "Regional Conference\r"))
		tab.navigated("the search", `hash.includes('q=Regional')`)
		if got, _ := tab.eval(`document.activeElement?.id || ''`); got != "results-heading" {
			t.Errorf("after searching, focus is on %q, want the results heading", got)
		}
		first := tab.attr("#event-list > li", "data-event")
		tab.key("\t")
		if got, _ := tab.eval(`document.activeElement?.closest('li')?.dataset.event || ''`); got != first {
			t.Fatalf("Tab from the results goes to %q, want the first event %q", got, first)
		}
		if ring, _ := tab.eval(`getComputedStyle(document.activeElement).outlineStyle`); ring != "solid" {
			t.Errorf("focused link outline = %q, want solid", ring)
		}
		tab.key("\r")
		tab.navigated("the event page", `hash === '#/events/`+first+`'`)
		if got, _ := tab.eval(`document.activeElement?.tagName || ''`); got != "H1" {
			t.Errorf("on a new page focus is on %q, want its heading", got)
		}
	})

	t.Run("Spanish", func(t *testing.T) {
		tab := openTab(t, browser, s, 1280, 900)
		tab.open("#/?kind=CONFERENCE")
		tab.click("#lang-switch")
		tab.waitFor("Spanish", `document.documentElement.lang === 'es' && document.querySelector('h1')?.innerText === 'Eventos'`)
		tab.waitReady()
		if got := tab.text(`#event-list li[data-event="xxv-regional-conference-on-migration"] h3`); got != "XXV Conferencia Regional sobre Migración" {
			t.Errorf("Spanish title in the list = %q", got)
		}
		if got := tab.text("#results-heading"); got != "3 eventos" {
			t.Errorf("results heading = %q, want 3 eventos", got)
		}
		tab.screenshot("events-es")
		tab.checkPage("events in Spanish")
		tab.click(`#event-list li[data-event="xxv-regional-conference-on-migration"] h3 a`)
		tab.navigated("the event page", `hash === '#/events/xxv-regional-conference-on-migration'`)
		if got := tab.text("#event-title"); got != "XXV Conferencia Regional sobre Migración" {
			t.Errorf("Spanish title = %q", got)
		}
		if got := tab.text("#registration-status"); got != "Inscripción cerrada" {
			t.Errorf("status in Spanish = %q", got)
		}
		if got := tab.text("#s-sessions"); got != "Sesiones" {
			t.Errorf("sessions heading = %q, want Sesiones", got)
		}
		// The choice is kept: a new page load stays in Spanish.
		tab.open("#/events/xxv-regional-conference-on-migration")
		if got := tab.attr("html", "lang"); got != "es" {
			t.Errorf("after a reload html lang = %q, want es", got)
		}
		tab.screenshot("event-es")
		tab.checkPage("event in Spanish")

		// A browser that sends Accept-Language: es, on a page in English,
		// still gets English texts: the page asks for its own language.
		en := openTab(t, browser, s, 1280, 900)
		en.run("prefer Spanish", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "es-CR,es;q=0.9"}})
			return err
		}))
		en.open("#/events/xxv-regional-conference-on-migration")
		if got := en.text("#event-title"); got != "XXV Regional Conference on Migration" {
			t.Errorf("English page, Spanish Accept-Language: title = %q", got)
		}
	})

	// A future hybrid event for delegates and civil society.
	hybrid := "regional-workshop-labour-migration"
	ev := eventJSON("Regional workshop on labour migration and fair recruitment", time.Now().Add(30*24*time.Hour).UTC().Truncate(time.Hour), 0)
	ev["attendanceMode"] = "ATTENDANCE_MODE_HYBRID"
	ev["onlineMeetingUrl"] = "https://meet.example.org/labour-2027"
	ev["generalObjective"] = "Strengthen the capacities of the RCM Member Countries to design and monitor fair recruitment mechanisms."
	ev["specificObjectives"] = []string{"Share the findings of the regional study.", "Agree on a regional work plan."}
	ev["methodology"] = "Two days of plenary presentations and working groups, in person in Guatemala City and online."
	ev["expectedParticipants"] = "Officials of the labour and migration ministries of the Member Countries, and civil society."
	ev["translations"] = map[string]any{"es": map[string]any{"title": "Taller regional sobre migración laboral y contratación equitativa"}}
	ev["registrationPolicy"] = map[string]any{
		"capacity": 40, "inPersonCapacity": 25, "delegatesPerCountry": 3, "waitlistEnabled": true,
		"allowedCategories": []string{"PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE", "PARTICIPANT_CATEGORY_CIVIL_SOCIETY"},
	}
	if r := s.call(t, "POST", "/v1/events?eventId="+hybrid, ev); r.Code != http.StatusOK {
		t.Fatalf("create %s: %d %s", hybrid, r.Code, r.Raw)
	}
	if r := s.call(t, "POST", "/v1/events/"+hybrid+":publish", map[string]any{}); r.Code != http.StatusOK {
		t.Fatalf("publish %s: %d %s", hybrid, r.Code, r.Raw)
	}

	t.Run("RegisterAndCancel", func(t *testing.T) {
		tab := openTab(t, browser, s, 1280, 900)
		tab.open("#/events/" + hybrid)
		if got := tab.attr("#registration-status", "data-status"); got != "open" {
			t.Fatalf("registration status = %q, want open", got)
		}
		if got := tab.text("#seats-left"); !strings.Contains(got, "40 seats left") || !strings.Contains(got, "25") {
			t.Errorf("seats = %q, want 40 seats left and 25 in the room", got)
		}
		tab.screenshot("event-open")
		tab.checkPage("open event")
		tab.click("#register-link")
		tab.navigated("the form", `hash.endsWith('/register')`)
		// Only the allowed categories, and the attendance choice of a hybrid event.
		if got := tab.count("#reg-category option[value]:not([value=''])"); got != 2 {
			t.Errorf("categories offered = %d, want the 2 allowed", got)
		}
		if tab.count("#reg-mode-in-person") != 1 || tab.count("#reg-mode-virtual") != 1 {
			t.Error("a hybrid event's form has no attendance choice")
		}
		if n := tab.count("input:not([type=hidden]):not([id]), select:not([id]), textarea:not([id])"); n != 0 {
			t.Errorf("%d controls without an id (and so without a label)", n)
		}
		unlabelled, _ := tab.eval(`[...document.querySelectorAll('#registration-form input, #registration-form select, #registration-form textarea')]
			.filter((el) => !document.querySelector('label[for="' + el.id + '"]')).map((el) => el.id).join(',')`)
		if unlabelled != "" {
			t.Errorf("controls without a label: %s", unlabelled)
		}
		tab.typeInto("#reg-given-name", "Ana")
		tab.typeInto("#reg-family-name", "Pérez")
		tab.typeInto("#reg-email", "ana.perez@example.org")
		tab.typeInto("#reg-organization", "Instituto Nacional de Migración")
		tab.choose("#reg-country", "MX")
		tab.choose("#reg-category", "MEMBER_COUNTRY_DELEGATE")
		tab.click("#reg-mode-virtual")
		tab.click("#reg-visa")
		tab.typeInto("#reg-accessibility", "Captions for the online sessions")
		tab.click("#reg-consent")
		tab.run("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
		tab.screenshot("register-form")
		tab.screenshotPage("register-form-full")
		tab.checkPage("registration form")
		// The form's request id is a time-ordered UUID (version 7): ids
		// made later sort later.
		ids, err := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`import('/assets/js/api.js').then((m) =>
			[m.uuid(), m.uuid(Date.UTC(2026, 10, 26, 22)), m.uuid(Date.UTC(2026, 10, 26, 22) + 1)].join(' '))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		v7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
		if f := strings.Fields(ids); len(f) != 3 || !v7.MatchString(f[0]) || !strings.HasPrefix(f[1], "01a219df-6300-7") || !(f[1] < f[2]) {
			t.Errorf("request ids %q: want version 7 UUIDs in time order, 2026-11-26T22:00Z beginning 01a219df-6300", ids)
		}
		tab.click("#reg-submit")
		tab.navigated("the result", `hash.endsWith('/registered')`)
		if got := tab.attr("#registration-result", "data-state"); got != "CONFIRMED" {
			t.Fatalf("result state = %q, want CONFIRMED", got)
		}
		if got := tab.text("#registration-result"); !strings.Contains(got, "CONFIRMED") || !strings.Contains(got, "confirmed") {
			t.Errorf("result says %q", got)
		}
		link, err := tab.eval(`document.querySelector('#private-link').value`)
		if err != nil {
			t.Fatal(err)
		}
		tab.screenshot("register-confirmed")
		tab.checkPage("registration result")
		u, err := url.Parse(link)
		if err != nil || u.Path != "/" || !strings.HasPrefix(u.Fragment, "/manage/events/"+hybrid+"/registrations/") {
			t.Fatalf("private link = %q, want the secret in the fragment of /", link)
		}
		name, query, _ := strings.Cut(strings.TrimPrefix(u.Fragment, "/manage/"), "?")
		secret := ""
		if q, err := url.ParseQuery(query); err == nil {
			secret = q.Get("secret")
		}
		if secret == "" {
			t.Fatalf("private link %q has no secret", link)
		}
		// What the form sent is what the API keeps.
		reg := s.call(t, "GET", "/v1/"+name, nil)
		p, _ := reg.Body["participant"].(map[string]any)
		if reg.Body["attendanceMode"] != "ATTENDANCE_MODE_VIRTUAL" || reg.Body["needsVisaLetter"] != true ||
			reg.Body["accessibilityNeeds"] != "Captions for the online sessions" || p["familyName"] != "Pérez" ||
			p["countryCode"] != "MX" || p["preferredLanguage"] != "en" {
			t.Errorf("registration stored as %s", reg.Raw)
		}

		// The private link, in a new visitor's browser: see, then cancel.
		other := openTab(t, browser, s, 1280, 900)
		other.run("open the private link", chromedp.Navigate(link))
		other.waitReady()
		if got := other.attr("#manage-state", "data-state"); got != "CONFIRMED" {
			t.Fatalf("manage page state = %q, want CONFIRMED", got)
		}
		if got := other.text("#registration-details"); !strings.Contains(got, "https://meet.example.org/labour-2027") {
			t.Errorf("a confirmed virtual participant does not see the meeting link: %q", got)
		}
		other.screenshot("manage")
		other.checkPage("registrant's page")
		other.click("#cancel-start")
		other.typeInto("#cancel-reason", "travel not approved")
		other.click("#cancel-confirm")
		other.waitFor("the cancellation", `document.querySelector('#manage-state')?.dataset.state === 'CANCELLED'`)
		if st, _ := s.state(t, name); st != "REGISTRATION_STATE_CANCELLED" {
			t.Errorf("state after cancel = %s", st)
		}
		if other.count("#cancel-start") != 0 {
			t.Error("a cancelled registration still offers to cancel")
		}
		other.screenshot("manage-cancelled")

		// The secret travelled only in headers and the fragment: not in any log.
		if strings.Contains(s.gateway.out.String(), secret) || strings.Contains(s.registrations.out.String(), secret) {
			t.Error("the registrant's secret appears in a server log")
		}
	})

	t.Run("FieldErrors", func(t *testing.T) {
		tab := openTab(t, browser, s, 1280, 900)
		tab.open("#/events/" + hybrid + "/register")
		tab.typeInto("#reg-given-name", "Bruno")
		tab.typeInto("#reg-family-name", "Díaz")
		tab.typeInto("#reg-email", "not-an-email")
		tab.choose("#reg-country", "GT")
		tab.choose("#reg-category", "CIVIL_SOCIETY")

		// Without consent nothing is sent.
		before := apiRegistrations(t, s, hybrid)
		tab.click("#reg-submit")
		tab.waitFor("the consent error", `!document.querySelector('#reg-consent-error').hidden`)
		if got := tab.text("#reg-consent-error"); !strings.Contains(got, "agree") {
			t.Errorf("consent error = %q", got)
		}
		if got := tab.attr("#reg-consent", "aria-invalid"); got != "true" {
			t.Errorf("consent aria-invalid = %q", got)
		}
		if after := apiRegistrations(t, s, hybrid); after != before {
			t.Errorf("registrations went from %d to %d without consent", before, after)
		}

		// The API refuses the e-mail; the page says so next to the field.
		tab.click("#reg-consent")
		tab.click("#reg-submit")
		tab.waitFor("the e-mail error", `!document.querySelector('#reg-email-error').hidden`)
		if got := tab.text("#reg-email-error"); !strings.Contains(got, "valid e-mail") {
			t.Errorf("e-mail error = %q", got)
		}
		if got := tab.attr("#reg-email", "aria-invalid"); got != "true" {
			t.Errorf("e-mail aria-invalid = %q", got)
		}
		if got := tab.attr("#reg-email", "aria-describedby"); !strings.Contains(got, "reg-email-error") {
			t.Errorf("e-mail aria-describedby = %q, want the error", got)
		}
		if hidden, _ := tab.eval(`String(document.querySelector('#reg-consent-error').hidden)`); hidden != "true" {
			t.Error("the consent error is still shown after ticking the box")
		}
		if got := tab.text("#error-summary"); !strings.Contains(got, "E-mail") {
			t.Errorf("error summary = %q, want the e-mail named", got)
		}
		if focused, _ := tab.eval(`document.activeElement?.id || ''`); focused != "error-summary" {
			t.Errorf("focus is on %q, want the error summary", focused)
		}
		tab.screenshot("register-errors")
		tab.checkPage("registration errors")
		if after := apiRegistrations(t, s, hybrid); after != before {
			t.Errorf("registrations went from %d to %d for a refused form", before, after)
		}

		// Corrected, it goes through.
		tab.fill("#reg-email", "bruno.diaz@example.org")
		tab.click("#reg-submit")
		tab.navigated("the result", `hash.endsWith('/registered')`)
		if got := tab.attr("#registration-result", "data-state"); got != "CONFIRMED" {
			t.Errorf("state = %q, want CONFIRMED", got)
		}
	})

	t.Run("FullAndPending", func(t *testing.T) {
		s.publishedEvent(t, "full-no-waitlist", map[string]any{"capacity": 1})
		s.publishedEvent(t, "full-with-waitlist", map[string]any{"capacity": 1, "waitlistEnabled": true})
		s.publishedEvent(t, "needs-approval", map[string]any{"requiresApproval": true})
		for _, ev := range []string{"full-no-waitlist", "full-with-waitlist"} {
			if r := s.callAs(t, "", "", "POST", "/v1/events/"+ev+"/registrations", registrationJSON("First", "first@example.org", "CR")); r.Code != http.StatusOK {
				t.Fatalf("register: %d %s", r.Code, r.Raw)
			}
		}
		tab := openTab(t, browser, s, 1280, 900)

		tab.open("#/events/full-no-waitlist")
		if got := tab.attr("#registration-status", "data-status"); got != "full" {
			t.Errorf("a full event's status = %q, want full", got)
		}
		if tab.count("#register-link") != 0 {
			t.Error("a full event without a waiting list offers to register")
		}

		tab.open("#/events/full-with-waitlist")
		if got := tab.attr("#registration-status", "data-status"); got != "fullWaitlist" {
			t.Errorf("a full event's status = %q, want fullWaitlist", got)
		}
		if got := tab.text("#register-link"); got != "Join the waiting list" {
			t.Errorf("register link = %q", got)
		}
		if got := tab.registerThroughPage("full-with-waitlist", "Second", "second@example.org", "SV"); got != "WAITLISTED" {
			t.Errorf("registration on a full event = %s, want WAITLISTED", got)
		}
		if got := tab.text("#registration-result"); !strings.Contains(got, "waiting list") {
			t.Errorf("result says %q", got)
		}

		if got := tab.registerThroughPage("needs-approval", "Third", "third@example.org", "HN"); got != "PENDING_APPROVAL" {
			t.Errorf("registration needing approval = %s, want PENDING_APPROVAL", got)
		}
		if got := tab.text("#registration-result"); !strings.Contains(got, "approval") {
			t.Errorf("result says %q", got)
		}
		tab.screenshot("register-pending")
	})

	t.Run("OrganiserApproves", func(t *testing.T) {
		const approval = "vice-ministerial-preparatory-meeting"
		s.publishedEvent(t, approval, map[string]any{"capacity": 20, "requiresApproval": true})
		ana := s.callAs(t, "", "", "POST", "/v1/events/"+approval+"/registrations", registrationJSON("Ana", "ana@example.org", "MX"))
		luis := s.callAs(t, "", "", "POST", "/v1/events/"+approval+"/registrations", registrationJSON("Luis", "luis@example.org", "GT"))
		for _, r := range []httpResult{ana, luis} {
			if r.Code != http.StatusOK || r.Body["state"] != "REGISTRATION_STATE_PENDING_APPROVAL" {
				t.Fatalf("register: %d %s", r.Code, r.Raw)
			}
		}
		anaID := lastPart(ana.Body["name"].(string))
		luisID := lastPart(luis.Body["name"].(string))

		tab := openTab(t, browser, s, 1280, 900)
		tab.open("#/organiser")
		// A wrong token is refused and not kept.
		tab.typeInto("#token", "not-a-token")
		tab.click("#signin-submit")
		tab.waitFor("the refusal", `!document.querySelector('#token-error').hidden`)
		tab.fill("#token", organizerToken)
		tab.click("#signin-submit")
		tab.waitFor("the organiser's events", `document.querySelector('#org-events a[data-event="`+approval+`"]') !== null`)
		tab.waitReady()
		if stored, _ := tab.eval(`sessionStorage.getItem('convene.token') || ''`); stored != organizerToken {
			t.Errorf("token in sessionStorage = %q", stored)
		}
		tab.click(`#org-events a[data-event="` + approval + `"]`)
		tab.navigated("the registrations", `hash === '#/organiser/events/`+approval+`'`)
		if got := tab.count("#registrations-body tr"); got != 2 {
			t.Fatalf("registrations listed = %d, want 2", got)
		}
		tab.screenshot("organiser-pending")
		tab.checkPage("organiser")

		// The CSV, fetched with the token and saved as a file.
		downloads := t.TempDir()
		tab.downloadsTo(downloads)
		tab.click("#download-csv")
		csv := waitFile(t, filepath.Join(downloads, approval+"-registrations.csv"))
		if !strings.Contains(csv, "ana@example.org") || !strings.Contains(csv, "luis@example.org") {
			t.Errorf("downloaded CSV:\n%s", csv)
		}

		tab.click(`tr[data-registration="` + anaID + `"] button[data-action="approve"]`)
		tab.waitFor("Ana approved", `document.querySelector('tr[data-registration="`+anaID+`"]')?.dataset.state === 'CONFIRMED'`)
		if st, _ := s.state(t, ana.Body["name"].(string)); st != "REGISTRATION_STATE_CONFIRMED" {
			t.Errorf("Ana = %s after approval, want CONFIRMED", st)
		}
		tab.waitFor("the stats to follow", `document.querySelector('#stats-seats-left')?.innerText === '19'`)

		tab.click(`tr[data-registration="` + luisID + `"] button[data-action="reject"]`)
		tab.typeInto("#reject-reason-"+luisID, "not an accredited official")
		tab.click(`tr[data-registration="` + luisID + `"] button[data-action="reject-confirm"]`)
		tab.waitFor("Luis rejected", `document.querySelector('tr[data-registration="`+luisID+`"]')?.dataset.state === 'REJECTED'`)
		if st, reason := s.state(t, luis.Body["name"].(string)); st != "REGISTRATION_STATE_REJECTED" || reason != "not an accredited official" {
			t.Errorf("Luis = %s (%q) after rejection", st, reason)
		}

		tab.click(`tr[data-registration="` + anaID + `"] button[data-action="checkin"]`)
		tab.waitFor("Ana checked in", `document.querySelector('tr[data-registration="`+anaID+`"] button[data-action="checkin"]') === null`)
		if r := s.call(t, "GET", "/v1/"+ana.Body["name"].(string), nil); r.Body["checkInTime"] == nil {
			t.Errorf("no check-in time after check-in: %s", r.Raw)
		}

		// Filter by state.
		tab.choose("#org-state", "CONFIRMED")
		tab.click("#org-filter-submit")
		tab.navigated("the confirmed only", `hash.includes('state=CONFIRMED')`)
		if got := tab.count("#registrations-body tr"); got != 1 {
			t.Errorf("confirmed rows = %d, want 1", got)
		}
		tab.screenshot("organiser")
		tab.checkPage("organiser, confirmed only")

		// A focal point sees their own country only.
		tab.click("#signout")
		tab.navigated("the sign-in form", `hash === '#/organiser'`)
		if stored, _ := tab.eval(`sessionStorage.getItem('convene.token') || ''`); stored != "" {
			t.Error("the token is still stored after signing out")
		}
		tab.typeInto("#token", gtToken)
		tab.click("#signin-submit")
		tab.waitFor("the focal point's events", `document.querySelector('#org-events a[data-event="`+approval+`"]') !== null`)
		tab.open("#/organiser/events/" + approval)
		if got := tab.count("#registrations-body tr"); got != 1 || tab.count(`tr[data-registration="`+luisID+`"]`) != 1 {
			t.Errorf("the GT focal point sees %d rows, want Luis only", got)
		}
	})

	t.Run("Phone", func(t *testing.T) {
		tab := openTab(t, browser, s, 390, 844)
		tab.open("")
		tab.waitFor("the list", `document.querySelector('#results-heading[data-total]') !== null`)
		if wide, _ := tab.eval(`String(document.documentElement.scrollWidth > window.innerWidth)`); wide != "false" {
			t.Error("the events page is wider than a phone screen")
		}
		tab.screenshot("phone-events")
		tab.checkPage("events on a phone")
		tab.open("#/events/" + hybrid + "/register")
		if wide, _ := tab.eval(`String(document.documentElement.scrollWidth > window.innerWidth)`); wide != "false" {
			t.Error("the registration form is wider than a phone screen")
		}
		tab.screenshot("phone-register")
		tab.checkPage("registration form on a phone")
	})
}

// TestBrowserPageServing checks what the gateway serves around the page:
// the page and its assets with a strict content security policy, and the
// API's JSON 404 for any other path.
func TestBrowserPageServing(t *testing.T) {
	s := startSystem(t)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(s.httpURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := get("/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `<main id="main"`) {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("the page refers to another site")
	}
	for _, asset := range []string{"/assets/app.css", "/assets/js/app.js", "/assets/js/views/register.js", "/assets/icon.svg"} {
		resp, body := get(asset)
		if resp.StatusCode != http.StatusOK || body == "" {
			t.Errorf("GET %s = %d", asset, resp.StatusCode)
		}
		for _, external := range []string{"url(", "@import", "from 'http", `from "http`, "fetch('http", "//fonts.", "cdn"} {
			if strings.Contains(body, external) {
				t.Errorf("%s may load from another site: it contains %q", asset, external)
			}
		}
	}
	if resp, _ := get("/assets/js/app.js"); resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("app.js Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/nope", "/assets/missing.js", "/index.html"} {
		resp, body := get(path)
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, "no such path") {
			t.Errorf("GET %s = %d %s %s, want the JSON 404", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	if r := s.call(t, "GET", "/v1/events?pageSize=1", nil); r.Code != http.StatusOK {
		t.Errorf("the API under /v1/ = %d", r.Code)
	}
	if r := s.call(t, "GET", "/healthz", nil); r.Code != http.StatusOK {
		t.Errorf("/healthz = %d", r.Code)
	}
}

// apiTotal is the number of events the API lists for a filter.
func apiTotal(t *testing.T, s *system, filter string) int {
	t.Helper()
	r := s.callAs(t, "", "", "GET", "/v1/events?pageSize=1&filter="+url.QueryEscape(filter), nil)
	if r.Code != http.StatusOK {
		t.Fatalf("list %q: %d %s", filter, r.Code, r.Raw)
	}
	n, _ := r.Body["totalSize"].(float64)
	return int(n)
}

// firstEventID is the newest public event's id.
func firstEventID(t *testing.T, s *system) string {
	t.Helper()
	r := s.callAs(t, "", "", "GET", "/v1/events?pageSize=1", nil)
	evs, _ := r.Body["events"].([]any)
	if len(evs) == 0 {
		t.Fatalf("no events: %s", r.Raw)
	}
	name, _ := evs[0].(map[string]any)["name"].(string)
	return lastPart(name)
}

// apiRegistrations counts an event's registrations.
func apiRegistrations(t *testing.T, s *system, event string) int {
	t.Helper()
	r := s.call(t, "GET", "/v1/events/"+event+"/registrations?pageSize=1", nil)
	n, _ := r.Body["totalSize"].(float64)
	return int(n)
}

func lastPart(name string) string {
	return name[strings.LastIndex(name, "/")+1:]
}

// registerThroughPage fills the registration form of an event with the
// required fields only, sends it, and returns the state the page reports.
func (b *browserTab) registerThroughPage(event, given, email, country string) string {
	b.t.Helper()
	b.open("#/events/" + event + "/register")
	b.typeInto("#reg-given-name", given)
	b.typeInto("#reg-family-name", "Delegate")
	b.typeInto("#reg-email", email)
	b.choose("#reg-country", country)
	b.choose("#reg-category", "MEMBER_COUNTRY_DELEGATE")
	b.click("#reg-consent")
	b.click("#reg-submit")
	b.navigated("the result", `hash.endsWith('/registered')`)
	return b.attr("#registration-result", "data-state")
}
