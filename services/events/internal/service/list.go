package service

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/filter"
	"convene.dev/platform/paging"
	"convene.dev/services/events/internal/store"
)

// ListEvents implements EventServiceServer.
func (s *Service) ListEvents(ctx context.Context, req *eventsv1.ListEventsRequest) (*eventsv1.ListEventsResponse, error) {
	resp, page, err := s.listPage(ctx, req)
	if err != nil {
		return nil, err
	}
	wanted := acceptedLanguages(ctx, req.GetLanguage())
	for _, e := range page {
		ev := redact(ctx, proto.CloneOf(e.Event))
		localize(ev, wanted)
		resp.Events = append(resp.Events, ev)
	}
	return resp, nil
}

// listPage finds the page that req asks for: the answer without its
// events, and the entries of the events, in order.
func (s *Service) listPage(ctx context.Context, req *eventsv1.ListEventsRequest) (*eventsv1.ListEventsResponse, []*store.Entry, error) {
	size, err := paging.Size(req.GetPageSize())
	if err != nil {
		return nil, nil, err
	}
	match, err := compileFilter(req.GetFilter())
	if err != nil {
		return nil, nil, err
	}
	order, err := parseOrder(req.GetOrderBy())
	if err != nil {
		return nil, nil, err
	}
	query := req.GetFilter() + "\x00" + order.name
	after, err := paging.Decode(req.GetPageToken(), query)
	if err != nil {
		return nil, nil, err
	}

	idx, err := s.store.Index(ctx)
	if err != nil {
		return nil, nil, err
	}
	matched := s.matches.get(idx, req.GetFilter(), order.byTitle, seesDrafts(ctx), func() []*store.Entry {
		entries := idx.ByStart
		if order.byTitle {
			entries = idx.ByTitle
		}
		var out []*store.Entry
		for _, e := range entries {
			if match(e) && visible(ctx, e.Event) {
				out = append(out, e)
			}
		}
		return out
	})
	key := order.key
	// One pass in the order asked: keep the page after the token's key,
	// and note whether more follow.
	resp := &eventsv1.ListEventsResponse{ChangeSequence: idx.Sequence, TotalSize: int32(len(matched))}
	page := make([]*store.Entry, 0, min(size, len(matched)))
	more := false
	for i := range matched {
		e := matched[i]
		if order.desc {
			e = matched[len(matched)-1-i]
		}
		k := key(e)
		if after != "" && (!order.desc && k <= after || order.desc && k >= after) {
			continue
		}
		if len(page) < size {
			page = append(page, e)
		} else {
			more = true
			break
		}
	}
	if more {
		resp.NextPageToken = paging.Encode(query, key(page[len(page)-1]))
	}
	return resp, page, nil
}

// order is a sort order of ListEvents. key maps an event to a string whose
// byte order is the ascending order, ending in the unique id so that no two
// events tie.
type order struct {
	name    string
	desc    bool
	byTitle bool
	key     func(*store.Entry) string
}

func startKey(e *store.Entry) string { return e.StartKey }

func titleKey(e *store.Entry) string { return e.TitleKey }

func parseOrder(s string) (order, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return order{"start_time desc", true, false, startKey}, nil
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
		return order{name, desc, false, startKey}, nil
	case "title":
		return order{name, desc, true, titleKey}, nil
	}
	return order{}, errdefs.Violation("order_by", "unknown field %q: order by start_time or title", fields[0])
}

type predicate func(*store.Entry) bool

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
	return func(e *store.Entry) bool {
		for _, p := range preds {
			if !p(e) {
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
		return negate(t.Op == filter.OpNe, func(e *store.Entry) bool { return e.Event.GetLocation().GetCountryCode() == want }), nil
	case "topics":
		if t.Op != filter.OpEq {
			return nil, filter.Errorf(t, "topics takes =")
		}
		want := filter.Fold(t.Value)
		return func(e *store.Entry) bool {
			return slices.ContainsFunc(e.Event.GetTopics(), func(topic string) bool { return filter.Fold(topic) == want })
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
	return func(e *store.Entry) bool { return !p(e) }
}

func enumTerm(t filter.Term, prefix string, values map[string]int32, get func(*eventsv1.Event) int32) (predicate, error) {
	want, err := filter.EnumValue(t, prefix, values)
	if err != nil {
		return nil, err
	}
	return negate(t.Op == filter.OpNe, func(e *store.Entry) bool { return get(e.Event) == want }), nil
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
	return func(e *store.Entry) bool {
		x, ok := get(e.Event)
		return ok && cmp(x)
	}, nil
}

// freeText matches events whose title, summary or objectives, in any
// language, contain every word of text (case and accents ignored).
func freeText(text string) predicate {
	words := strings.Fields(filter.Fold(text))
	return func(e *store.Entry) bool {
		for _, w := range words {
			if !strings.Contains(e.Text, w) {
				return false
			}
		}
		return true
	}
}

// matchCache keeps, for the current index, the entries that recent filters
// matched (in the index's order): a list then costs a page, not a scan of
// every event. A new index (any change) empties it.
type matchCache struct {
	mu  sync.Mutex
	idx *store.Index
	m   map[matchKey][]*store.Entry
}

type matchKey struct {
	filter              string
	byTitle, privileged bool
}

// matchCacheSize bounds how many filters are kept per index.
const matchCacheSize = 256

func (c *matchCache) get(idx *store.Index, filter string, byTitle, privileged bool, compute func() []*store.Entry) []*store.Entry {
	k := matchKey{filter, byTitle, privileged}
	c.mu.Lock()
	if c.idx == idx {
		if m, ok := c.m[k]; ok {
			c.mu.Unlock()
			return m
		}
	}
	c.mu.Unlock()
	m := compute()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idx != idx || len(c.m) >= matchCacheSize {
		c.idx, c.m = idx, map[matchKey][]*store.Entry{}
	}
	c.m[k] = m
	return m
}
