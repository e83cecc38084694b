package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/filter"
	"convene.dev/platform/paging"
)

// ListEvents implements EventServiceServer.
func (s *Service) ListEvents(ctx context.Context, req *eventsv1.ListEventsRequest) (*eventsv1.ListEventsResponse, error) {
	size, err := paging.Size(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	match, err := compileFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	order, err := parseOrder(req.GetOrderBy())
	if err != nil {
		return nil, err
	}
	query := req.GetFilter() + "\x00" + order.name
	after, err := paging.Decode(req.GetPageToken(), query)
	if err != nil {
		return nil, err
	}

	all, seq, err := s.store.List(ctx)
	if err != nil {
		return nil, err
	}
	type keyed struct {
		key string
		ev  *eventsv1.Event
	}
	var matched []keyed
	for _, ev := range all {
		if match(ev) && visible(ctx, ev) {
			matched = append(matched, keyed{order.key(ev), ev})
		}
	}
	cmp := func(a, b keyed) int { return strings.Compare(a.key, b.key) }
	if order.desc {
		cmp = func(a, b keyed) int { return strings.Compare(b.key, a.key) }
	}
	slices.SortFunc(matched, cmp)

	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(matched, keyed{key: after}, cmp)
		if start < len(matched) && matched[start].key == after {
			start++
		}
	}
	end := min(start+size, len(matched))
	resp := &eventsv1.ListEventsResponse{TotalSize: int32(len(matched)), ChangeSequence: seq}
	wanted := acceptedLanguages(ctx, req.GetLanguage())
	for _, k := range matched[start:end] {
		ev := redact(ctx, proto.CloneOf(k.ev))
		localize(ev, wanted)
		resp.Events = append(resp.Events, ev)
	}
	if end < len(matched) {
		resp.NextPageToken = paging.Encode(query, matched[end-1].key)
	}
	return resp, nil
}

// order is a sort order of ListEvents. key maps an event to a string whose
// byte order is the ascending order, ending in the unique id so that no two
// events tie.
type order struct {
	name string
	desc bool
	key  func(*eventsv1.Event) string
}

func startKey(ev *eventsv1.Event) string {
	// Unset start times sort first; others by their UTC instant (fixed width).
	t := ""
	if ev.GetStartTime() != nil {
		t = ev.GetStartTime().AsTime().UTC().Format("20060102150405.000000000")
	}
	return t + "\x00" + ev.GetName()
}

func titleKey(ev *eventsv1.Event) string {
	return filter.Fold(ev.GetTitle()) + "\x00" + ev.GetName()
}

func parseOrder(s string) (order, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return order{"start_time desc", true, startKey}, nil
	}
	desc := false
	if len(fields) == 2 {
		switch strings.ToLower(fields[1]) {
		case "desc":
			desc = true
		case "asc":
		default:
			return order{}, errdefs.Violation("order_by", "%q: the direction must be asc or desc", s)
		}
	}
	if len(fields) > 2 {
		return order{}, errdefs.Violation("order_by", "%q: order by one field: start_time or title, optionally followed by desc", s)
	}
	name := fields[0]
	if desc {
		name += " desc"
	}
	switch fields[0] {
	case "start_time":
		return order{name, desc, startKey}, nil
	case "title":
		return order{name, desc, titleKey}, nil
	}
	return order{}, errdefs.Violation("order_by", "unknown field %q: order by start_time or title", fields[0])
}

type predicate func(*eventsv1.Event) bool

// compileFilter turns a filter (see ListEventsRequest.filter) into a
// predicate; every term must hold.
func compileFilter(s string) (predicate, error) {
	terms, err := filter.Parse(s)
	if err != nil {
		return nil, err
	}
	preds := make([]predicate, 0, len(terms))
	for _, t := range terms {
		p, err := compileTerm(t)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p)
	}
	return func(ev *eventsv1.Event) bool {
		for _, p := range preds {
			if !p(ev) {
				return false
			}
		}
		return true
	}, nil
}

func compileTerm(t filter.Term) (predicate, error) {
	switch t.Field {
	case "":
		return freeText(t.Value), nil
	case "state":
		return enumTerm(t, "EVENT_STATE_", eventsv1.EventState_value, func(ev *eventsv1.Event) int32 { return int32(ev.GetState()) })
	case "kind":
		return enumTerm(t, "EVENT_KIND_", eventsv1.EventKind_value, func(ev *eventsv1.Event) int32 { return int32(ev.GetKind()) })
	case "attendance_mode":
		return enumTerm(t, "ATTENDANCE_MODE_", eventsv1.AttendanceMode_value, func(ev *eventsv1.Event) int32 { return int32(ev.GetAttendanceMode()) })
	case "location.country_code":
		if t.Op != filter.OpEq && t.Op != filter.OpNe {
			return nil, filter.Errorf(t, "location.country_code takes = or !=")
		}
		want := strings.ToUpper(t.Value)
		return negate(t.Op == filter.OpNe, func(ev *eventsv1.Event) bool { return ev.GetLocation().GetCountryCode() == want }), nil
	case "topics":
		if t.Op != filter.OpEq {
			return nil, filter.Errorf(t, "topics takes =")
		}
		want := filter.Fold(t.Value)
		return func(ev *eventsv1.Event) bool {
			return slices.ContainsFunc(ev.GetTopics(), func(topic string) bool { return filter.Fold(topic) == want })
		}, nil
	case "start_time", "end_time":
		return timeTerm(t)
	}
	return nil, filter.Errorf(t, "unknown field %q; filter on state, kind, attendance_mode, location.country_code, topics, start_time, end_time or free text", t.Field)
}

func negate(not bool, p predicate) predicate {
	if !not {
		return p
	}
	return func(ev *eventsv1.Event) bool { return !p(ev) }
}

func enumTerm(t filter.Term, prefix string, values map[string]int32, get func(*eventsv1.Event) int32) (predicate, error) {
	want, err := filter.EnumValue(t, prefix, values)
	if err != nil {
		return nil, err
	}
	return negate(t.Op == filter.OpNe, func(ev *eventsv1.Event) bool { return get(ev) == want }), nil
}

func timeTerm(t filter.Term) (predicate, error) {
	at, err := time.Parse(time.RFC3339Nano, t.Value)
	if err != nil {
		return nil, filter.Errorf(t, "%s compares with an RFC 3339 time such as \"2020-01-01T00:00:00Z\"", t.Field)
	}
	get := func(ev *eventsv1.Event) (time.Time, bool) {
		ts := ev.GetStartTime()
		if t.Field == "end_time" {
			ts = ev.GetEndTime()
		}
		return ts.AsTime(), ts != nil
	}
	var cmp func(time.Time) bool
	switch t.Op {
	case filter.OpLt:
		cmp = func(x time.Time) bool { return x.Before(at) }
	case filter.OpLe:
		cmp = func(x time.Time) bool { return !x.After(at) }
	case filter.OpGt:
		cmp = func(x time.Time) bool { return x.After(at) }
	case filter.OpGe:
		cmp = func(x time.Time) bool { return !x.Before(at) }
	case filter.OpEq:
		cmp = func(x time.Time) bool { return x.Equal(at) }
	case filter.OpNe:
		cmp = func(x time.Time) bool { return !x.Equal(at) }
	default:
		return nil, filter.Errorf(t, "unsupported operator %q", t.Op)
	}
	return func(ev *eventsv1.Event) bool {
		x, ok := get(ev)
		return ok && cmp(x)
	}, nil
}

// freeText matches events whose title, summary or objectives, in any
// language, contain every word of text (case and accents ignored).
func freeText(text string) predicate {
	words := strings.Fields(filter.Fold(text))
	return func(ev *eventsv1.Event) bool {
		hay := searchText(ev)
		for _, w := range words {
			if !strings.Contains(hay, w) {
				return false
			}
		}
		return true
	}
}

func searchText(ev *eventsv1.Event) string {
	parts := []string{ev.GetTitle(), ev.GetSummary(), ev.GetGeneralObjective()}
	parts = append(parts, ev.GetSpecificObjectives()...)
	for _, tr := range ev.GetTranslations() {
		parts = append(parts, tr.GetTitle(), tr.GetSummary(), tr.GetGeneralObjective())
		parts = append(parts, tr.GetSpecificObjectives()...)
	}
	return filter.Fold(strings.Join(parts, " \x00 "))
}
