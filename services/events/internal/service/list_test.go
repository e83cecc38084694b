package service_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/filter"
)

// listAll pages through ListEvents with req and returns the names in the
// order received. It checks that every page reports the same total_size,
// that no page is larger than wantPage, and that only the last page has no
// next_page_token.
func listAll(t *testing.T, e *env, req *eventsv1.ListEventsRequest, wantPage int) (names []string, total int32) {
	t.Helper()
	req.PageToken = ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		resp, err := e.client.ListEvents(context.Background(), req)
		if err != nil {
			t.Fatalf("ListEvents(%v): %v", req, err)
		}
		if pages == 0 {
			total = resp.GetTotalSize()
		} else if resp.GetTotalSize() != total {
			t.Errorf("page %d: total_size = %d, first page said %d", pages, resp.GetTotalSize(), total)
		}
		if got := len(resp.GetEvents()); got > wantPage {
			t.Errorf("page %d has %d events, want at most %d", pages, got, wantPage)
		}
		for _, ev := range resp.GetEvents() {
			names = append(names, ev.GetName())
		}
		if resp.GetNextPageToken() == "" {
			return names, total
		}
		if len(resp.GetEvents()) < wantPage {
			t.Errorf("page %d has %d events and a next page; want a full page of %d", pages, len(resp.GetEvents()), wantPage)
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// pagingFixture stores 30 events: titles that differ in case and accents,
// titles that repeat, start times that repeat, and events without a start
// time. It returns them as stored.
func pagingFixture(t *testing.T, e *env) []*eventsv1.Event {
	t.Helper()
	titles := []string{"apple", "Banana", "árbol", "Éclair", "eclair", "Zebra", "cherry", "Ñandú", "banana split", "Workshop"}
	base := time.Date(2020, 1, 1, 15, 0, 0, 0, time.UTC)
	var out []*eventsv1.Event
	for i := range 30 {
		ev := &eventsv1.Event{Title: titles[i%len(titles)]}
		if i%10 != 9 {
			start := base.Add(time.Duration(i*7%13) * 24 * time.Hour) // repeats: 13 distinct days
			ev.StartTime = timestamppb.New(start)
			ev.EndTime = timestamppb.New(start.Add(8 * time.Hour))
		}
		if i%3 == 0 {
			ev.Kind = eventsv1.EventKind_EVENT_KIND_WEBINAR
		}
		// ids not in creation order, so that no order is an accident of it
		out = append(out, e.create(t, fmt.Sprintf("ev-%02d", (i*11)%30), ev))
	}
	return out
}

func byStart(a, b *eventsv1.Event) int {
	if c := cmp.Compare(boolInt(a.GetStartTime() != nil), boolInt(b.GetStartTime() != nil)); c != 0 {
		return c // unset first
	}
	if c := a.GetStartTime().AsTime().Compare(b.GetStartTime().AsTime()); c != 0 {
		return c
	}
	return strings.Compare(a.GetName(), b.GetName())
}

func byTitle(a, b *eventsv1.Event) int {
	if c := strings.Compare(filter.Fold(a.GetTitle()), filter.Fold(b.GetTitle())); c != 0 {
		return c
	}
	return strings.Compare(a.GetName(), b.GetName())
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func desc[T any](f func(a, b T) int) func(a, b T) int { return func(a, b T) int { return f(b, a) } }

func sortedNames(events []*eventsv1.Event, order func(a, b *eventsv1.Event) int) []string {
	events = slices.Clone(events)
	slices.SortFunc(events, order)
	var names []string
	for _, ev := range events {
		names = append(names, ev.GetName())
	}
	return names
}

func TestListEventsPaging(t *testing.T) {
	e := newEnv(t)
	events := pagingFixture(t, e)
	var webinars []*eventsv1.Event
	for _, ev := range events {
		if ev.GetKind() == eventsv1.EventKind_EVENT_KIND_WEBINAR {
			webinars = append(webinars, ev)
		}
	}
	orders := []struct {
		orderBy string
		cmp     func(a, b *eventsv1.Event) int
	}{
		{"", desc(byStart)},
		{"start_time desc", desc(byStart)},
		{"start_time DESC", desc(byStart)},
		{"start_time", byStart},
		{"start_time asc", byStart},
		{"title", byTitle},
		{"  title   asc ", byTitle},
		{"title desc", desc(byTitle)},
	}
	for _, o := range orders {
		for _, size := range []int32{1, 7, 30, 100} {
			for _, f := range []struct {
				filter string
				events []*eventsv1.Event
			}{{"", events}, {"kind = WEBINAR", webinars}} {
				t.Run(fmt.Sprintf("order %q size %d filter %q", o.orderBy, size, f.filter), func(t *testing.T) {
					got, total := listAll(t, e, &eventsv1.ListEventsRequest{OrderBy: o.orderBy, PageSize: size, Filter: f.filter}, int(size))
					want := sortedNames(f.events, o.cmp)
					if !slices.Equal(got, want) {
						t.Errorf("names =\n%q\nwant\n%q", got, want)
					}
					if int(total) != len(want) {
						t.Errorf("total_size = %d, want %d", total, len(want))
					}
				})
			}
		}
	}
}

// The title order ignores case and accents.
func TestListEventsTitleOrder(t *testing.T) {
	e := newEnv(t)
	for i, title := range []string{"Zebra", "éclair", "Apple", "banana", "Ángel", "cherry"} {
		e.create(t, fmt.Sprintf("e%d", i), &eventsv1.Event{Title: title})
	}
	resp, err := e.client.ListEvents(context.Background(), &eventsv1.ListEventsRequest{OrderBy: "title"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range resp.GetEvents() {
		got = append(got, ev.GetTitle())
	}
	if want := []string{"Ángel", "Apple", "banana", "cherry", "éclair", "Zebra"}; !slices.Equal(got, want) {
		t.Errorf("titles = %q, want %q", got, want)
	}
}

func TestListEventsPageSize(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for i := range 105 {
		e.create(t, fmt.Sprintf("ev-%03d", i), &eventsv1.Event{Title: fmt.Sprintf("Event %d", i)})
	}
	for _, tt := range []struct {
		size, want int32
	}{{0, 25}, {1, 1}, {100, 100}, {101, 100}, {1000, 100}} {
		resp, err := e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: tt.size})
		if err != nil {
			t.Fatalf("page_size %d: %v", tt.size, err)
		}
		if got := int32(len(resp.GetEvents())); got != tt.want {
			t.Errorf("page_size %d: got %d events, want %d", tt.size, got, tt.want)
		}
		if resp.GetTotalSize() != 105 || resp.GetNextPageToken() == "" {
			t.Errorf("page_size %d: total_size %d, next_page_token %q; want 105 and a token", tt.size, resp.GetTotalSize(), resp.GetNextPageToken())
		}
	}
	_, err := e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: -1})
	wantInvalid(t, err, "page_size")

	// The page size may change from page to page.
	first, err := e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: 3, PageToken: first.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(second.GetEvents()); got != 3 || second.GetNextPageToken() == "" {
		t.Errorf("second page: %d events, token %q; want 3 and a token", got, second.GetNextPageToken())
	}
	third, err := e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: 100, PageToken: second.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(third.GetEvents()); got != 2 || third.GetNextPageToken() != "" {
		t.Errorf("last page: %d events, token %q; want 2 and no token", got, third.GetNextPageToken())
	}
}

func TestListEventsEmpty(t *testing.T) {
	e := newEnv(t)
	resp, err := e.client.ListEvents(context.Background(), &eventsv1.ListEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetEvents()) != 0 || resp.GetTotalSize() != 0 || resp.GetNextPageToken() != "" {
		t.Errorf("ListEvents on no events = %v", resp)
	}
}

// Paging goes on from where it stopped when events come and go between
// pages: no event is skipped or repeated because of it.
func TestListEventsPagingWhileChanging(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for i := range 10 {
		e.create(t, fmt.Sprintf("ev-%02d", i), &eventsv1.Event{Title: fmt.Sprintf("Event %02d", i)})
	}
	req := &eventsv1.ListEventsRequest{PageSize: 4, OrderBy: "title"}
	page1, err := e.client.ListEvents(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// Delete the last event seen, and add one before the cursor and one after.
	if _, err := e.client.DeleteEvent(ctx, &eventsv1.DeleteEventRequest{Name: "events/ev-03"}); err != nil {
		t.Fatal(err)
	}
	e.create(t, "early", &eventsv1.Event{Title: "Event 00a"})
	e.create(t, "late", &eventsv1.Event{Title: "Event 05a"})
	req.PageToken = page1.GetNextPageToken()
	page2, err := e.client.ListEvents(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range page2.GetEvents() {
		got = append(got, ev.GetName())
	}
	if want := []string{"events/ev-04", "events/ev-05", "events/late", "events/ev-06"}; !slices.Equal(got, want) {
		t.Errorf("second page = %q, want %q", got, want)
	}
}

func TestListEventsBadPageToken(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for i := range 5 {
		e.create(t, fmt.Sprintf("ev-%d", i), &eventsv1.Event{Title: "T", Kind: eventsv1.EventKind_EVENT_KIND_WORKSHOP})
	}
	first, err := e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: 2, Filter: "kind = WORKSHOP"})
	if err != nil {
		t.Fatal(err)
	}
	tok := first.GetNextPageToken()
	if tok == "" {
		t.Fatal("no next_page_token")
	}
	for _, tt := range []struct {
		name string
		req  *eventsv1.ListEventsRequest
	}{
		{"another filter", &eventsv1.ListEventsRequest{PageToken: tok, Filter: "kind = WEBINAR"}},
		{"no filter", &eventsv1.ListEventsRequest{PageToken: tok}},
		{"another order", &eventsv1.ListEventsRequest{PageToken: tok, Filter: "kind = WORKSHOP", OrderBy: "title"}},
		{"garbage", &eventsv1.ListEventsRequest{PageToken: "!!not a token!!"}},
		{"base64 of garbage", &eventsv1.ListEventsRequest{PageToken: "aGVsbG8gd29ybGQ"}},
		{"truncated", &eventsv1.ListEventsRequest{PageToken: tok[:len(tok)/2], Filter: "kind = WORKSHOP"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.ListEvents(ctx, tt.req)
			wantInvalid(t, err, "page_token")
		})
	}
	_, err = e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{PageToken: strings.Repeat("a", 1025)})
	wantInvalid(t, err, "page_token")

	// The token still works with its own query, the page size aside.
	next, err := e.client.ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: 10, PageToken: tok, Filter: "kind = WORKSHOP"})
	if err != nil || len(next.GetEvents()) != 3 {
		t.Errorf("ListEvents with the token = %d events, %v; want 3", len(next.GetEvents()), err)
	}
}

// filterFixture stores six events in three states.
func filterFixture(t *testing.T, e *env) {
	t.Helper()
	evs := []struct {
		id    string
		ev    *eventsv1.Event
		state eventsv1.EventState
	}{
		{"workshop-cr", &eventsv1.Event{
			Title:          "Workshop on Labor Migration",
			Kind:           eventsv1.EventKind_EVENT_KIND_WORKSHOP,
			AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON,
			Location:       &eventsv1.Location{City: "San José", CountryCode: "CR"},
			Topics:         []string{"labor migration", "fair recruitment"},
			StartTime:      ts("2019-09-18T15:00:00Z"), EndTime: ts("2019-09-18T23:00:00Z"),
			Translations: map[string]*eventsv1.LocalizedText{"es": {Title: "Taller sobre migración laboral"}},
		}, eventsv1.EventState_EVENT_STATE_PUBLISHED},
		{"webinar-mx", &eventsv1.Event{
			Title:          "Webinar: Women in Migration",
			Kind:           eventsv1.EventKind_EVENT_KIND_WEBINAR,
			AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL,
			Location:       &eventsv1.Location{CountryCode: "MX"},
			Topics:         []string{"gender"},
			StartTime:      ts("2021-06-16T14:00:00Z"), EndTime: ts("2021-06-16T22:00:00Z"),
			Translations: map[string]*eventsv1.LocalizedText{"es": {
				Title:   "Seminario web: mujeres en la migración",
				Summary: "Resultados del II Congreso Regional",
			}},
		}, eventsv1.EventState_EVENT_STATE_DRAFT},
		{"conference-cr", &eventsv1.Event{
			Title:          "XXV Regional Conference on Migration",
			Kind:           eventsv1.EventKind_EVENT_KIND_CONFERENCE,
			AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL,
			Location:       &eventsv1.Location{City: "San José", CountryCode: "CR"},
			Topics:         []string{"Migration Governance", "regional cooperation"},
			StartTime:      ts("2020-12-01T15:00:00Z"), EndTime: ts("2020-12-04T23:00:00Z"),
			Translations: map[string]*eventsv1.LocalizedText{"es": {Title: "XXV Conferencia Regional sobre Migración"}},
		}, eventsv1.EventState_EVENT_STATE_PUBLISHED},
		{"forum-gt", &eventsv1.Event{
			Title:          "Diaspora Forum on Remittances",
			Kind:           eventsv1.EventKind_EVENT_KIND_FORUM,
			AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID,
			Location:       &eventsv1.Location{CountryCode: "GT"},
			Topics:         []string{"diaspora", "remittances"},
			StartTime:      ts("2021-11-17T15:00:00Z"), EndTime: ts("2021-11-17T23:00:00Z"),
		}, eventsv1.EventState_EVENT_STATE_CANCELLED},
		{"planning", &eventsv1.Event{
			Title: "Planning meeting",
			Kind:  eventsv1.EventKind_EVENT_KIND_MEETING,
		}, eventsv1.EventState_EVENT_STATE_DRAFT},
		{"training-pa", &eventsv1.Event{
			Title:              "Training on Protection",
			Kind:               eventsv1.EventKind_EVENT_KIND_TRAINING,
			AttendanceMode:     eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON,
			Location:           &eventsv1.Location{CountryCode: "PA"},
			Topics:             []string{"protection"},
			GeneralObjective:   "Strengthen the capacities of officials.",
			SpecificObjectives: []string{"Train front-line staff on referral mechanisms."},
			StartTime:          ts("2018-10-17T14:00:00Z"), EndTime: ts("2018-10-17T22:00:00Z"),
			Translations: map[string]*eventsv1.LocalizedText{"es": {
				SpecificObjectives: []string{"Capacitar al personal de primera línea sobre mecanismos de referencia."},
			}},
		}, eventsv1.EventState_EVENT_STATE_PUBLISHED},
	}
	for _, x := range evs {
		e.create(t, x.id, x.ev)
		switch x.state {
		case eventsv1.EventState_EVENT_STATE_PUBLISHED:
			e.publish(t, "events/"+x.id)
		case eventsv1.EventState_EVENT_STATE_CANCELLED:
			e.cancel(t, "events/"+x.id, "")
		}
	}
}

func TestListEventsFilter(t *testing.T) {
	e := newEnv(t)
	filterFixture(t, e)
	all := []string{"conference-cr", "forum-gt", "planning", "training-pa", "webinar-mx", "workshop-cr"}
	tests := []struct {
		filter string
		want   []string // ids, sorted
	}{
		{"", all},
		{"state = PUBLISHED", []string{"conference-cr", "training-pa", "workshop-cr"}},
		{"state = published", []string{"conference-cr", "training-pa", "workshop-cr"}},
		{"state=EVENT_STATE_DRAFT", []string{"planning", "webinar-mx"}},
		{"state = CANCELLED", []string{"forum-gt"}},
		{"state != DRAFT", []string{"conference-cr", "forum-gt", "training-pa", "workshop-cr"}},
		{"kind = WORKSHOP", []string{"workshop-cr"}},
		{"kind = EVENT_KIND_WORKSHOP", []string{"workshop-cr"}},
		{"kind = round_table", nil},
		{"kind != WORKSHOP", []string{"conference-cr", "forum-gt", "planning", "training-pa", "webinar-mx"}},
		{"attendance_mode = VIRTUAL", []string{"conference-cr", "webinar-mx"}},
		{"attendance_mode = ATTENDANCE_MODE_HYBRID", []string{"forum-gt"}},
		{"attendance_mode != IN_PERSON", []string{"conference-cr", "forum-gt", "planning", "webinar-mx"}},
		{"location.country_code = CR", []string{"conference-cr", "workshop-cr"}},
		{"location.country_code = cr", []string{"conference-cr", "workshop-cr"}},
		{`location.country_code = "PA"`, []string{"training-pa"}},
		{"location.country_code != CR", []string{"forum-gt", "planning", "training-pa", "webinar-mx"}},
		{`topics = "labor migration"`, []string{"workshop-cr"}},
		{`topics = "migration governance"`, []string{"conference-cr"}},
		{`topics = "Labor  Migration"`, []string{"workshop-cr"}},
		{"topics = protection", []string{"training-pa"}},
		{"topics = labor", nil},
		{`start_time >= "2020-01-01T00:00:00Z"`, []string{"conference-cr", "forum-gt", "webinar-mx"}},
		{"start_time >= 2020-01-01T00:00:00Z", []string{"conference-cr", "forum-gt", "webinar-mx"}},
		{`start_time < "2020-01-01T00:00:00Z"`, []string{"training-pa", "workshop-cr"}},
		{`start_time <= "2019-09-18T15:00:00Z"`, []string{"training-pa", "workshop-cr"}},
		{`start_time > "2019-09-18T15:00:00Z"`, []string{"conference-cr", "forum-gt", "webinar-mx"}},
		{`start_time = "2020-12-01T10:00:00-05:00"`, []string{"conference-cr"}},
		{`start_time >= "2020-12-01T10:00:00-05:00"`, []string{"conference-cr", "forum-gt", "webinar-mx"}},
		{`start_time >= "2020-12-01T10:00:00.000000001-05:00"`, []string{"forum-gt", "webinar-mx"}},
		{`end_time < "2020-12-04T23:00:00Z"`, []string{"training-pa", "workshop-cr"}},
		{`start_time >= "2019-01-01T00:00:00Z" AND start_time < "2021-01-01T00:00:00Z"`, []string{"conference-cr", "workshop-cr"}},
		{"migracion", []string{"conference-cr", "webinar-mx", "workshop-cr"}},
		{"MIGRACIÓN", []string{"conference-cr", "webinar-mx", "workshop-cr"}},
		{"Migration", []string{"conference-cr", "webinar-mx", "workshop-cr"}},
		{`"conferencia regional"`, []string{"conference-cr"}},
		{"conferencia AND regional", []string{"conference-cr"}},
		{`"regional zebra"`, nil},
		{"congreso", []string{"webinar-mx"}},
		{"OFFICIALS", []string{"training-pa"}},
		{"front-line", []string{"training-pa"}},
		{"linea", []string{"training-pa"}},
		{"referencia", []string{"training-pa"}},
		{"remittances", []string{"forum-gt"}},
		{"San", nil}, // the city is not searched
		{"state = PUBLISHED AND location.country_code = CR", []string{"conference-cr", "workshop-cr"}},
		{`kind = CONFERENCE AND "migración" AND start_time >= "2020-01-01T00:00:00Z"`, []string{"conference-cr"}},
		{"state = PUBLISHED AND kind = WEBINAR", nil},
		{"state != CANCELLED AND attendance_mode = VIRTUAL AND migration", []string{"conference-cr", "webinar-mx"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			resp, err := e.client.ListEvents(context.Background(), &eventsv1.ListEventsRequest{Filter: tt.filter})
			if err != nil {
				t.Fatalf("ListEvents(filter %q): %v", tt.filter, err)
			}
			var got []string
			for _, ev := range resp.GetEvents() {
				got = append(got, strings.TrimPrefix(ev.GetName(), "events/"))
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("filter %q matched %q, want %q", tt.filter, got, tt.want)
			}
			if int(resp.GetTotalSize()) != len(tt.want) {
				t.Errorf("filter %q: total_size = %d, want %d", tt.filter, resp.GetTotalSize(), len(tt.want))
			}
		})
	}
}

func TestListEventsBadRequest(t *testing.T) {
	e := newEnv(t)
	filterFixture(t, e)
	filters := []string{
		"colour = red",           // unknown field
		"location.city = Panama", // a field that is not filterable
		"state = OPEN",           // unknown enum value
		"state = UNSPECIFIED",    // the zero value
		"kind = 3",               // enum by number
		"attendance_mode = ONLINE",
		"kind > WORKSHOP",
		"state < PUBLISHED",
		`start_time >= "yesterday"`,
		`start_time >= "2020-01-01"`,
		"start_time >= 2020-01-01T00:00:00",
		"topics > x",
		"topics != x",
		"location.country_code > CR",
		"state =",
		"= DRAFT",
		"state = DRAFT AND",
		"AND state = DRAFT",
		"state = DRAFT OR kind = WORKSHOP",
		"state = DRAFT and kind = WORKSHOP",
		"(state = DRAFT)",
		`"unterminated`,
		"state ! DRAFT",
		"state == DRAFT",
		strings.Repeat("x", 1025),
	}
	for _, f := range filters {
		t.Run("filter "+f[:min(len(f), 40)], func(t *testing.T) {
			_, err := e.client.ListEvents(context.Background(), &eventsv1.ListEventsRequest{Filter: f})
			wantInvalid(t, err, "filter")
		})
	}
	for _, o := range []string{"name", "TITLE", "-title", "title sideways", "title desc extra", "start_time,title", "create_time desc"} {
		t.Run("order_by "+o, func(t *testing.T) {
			_, err := e.client.ListEvents(context.Background(), &eventsv1.ListEventsRequest{OrderBy: o})
			wantCode(t, err, codes.InvalidArgument, "INVALID_ARGUMENT")
			wantInvalid(t, err, "order_by")
		})
	}
}
