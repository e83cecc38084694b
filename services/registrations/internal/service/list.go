package service

import (
	"context"
	"strings"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/filter"
	"convene.dev/platform/paging"
)

// ListRegistrations implements RegistrationServiceServer.
func (s *Service) ListRegistrations(ctx context.Context, req *registrationsv1.ListRegistrationsRequest) (*registrationsv1.ListRegistrationsResponse, error) {
	size, err := paging.Size(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	match, err := compileFilter(req.GetFilter(), delegationFilter(ctx))
	if err != nil {
		return nil, err
	}
	desc, err := parseOrder(req.GetOrderBy())
	if err != nil {
		return nil, err
	}
	query := req.GetParent() + "\x00" + req.GetFilter() + "\x00" + req.GetOrderBy()
	after, err := paging.Decode(req.GetPageToken(), query)
	if err != nil {
		return nil, err
	}
	eventID := strings.TrimPrefix(req.GetParent(), "events/")
	// One more than a page tells whether there is a next one.
	page, total, err := s.store.List(ctx, eventID, after, size+1, desc, match)
	if err != nil {
		return nil, err
	}
	resp := &registrationsv1.ListRegistrationsResponse{TotalSize: int32(total)}
	if len(page) > size {
		page = page[:size]
		_, last := splitName(page[size-1].GetName())
		resp.NextPageToken = paging.Encode(query, last)
	}
	resp.Registrations = page
	return resp, nil
}

// parseOrder reads ListRegistrationsRequest.order_by: create_time, oldest
// first by default.
func parseOrder(s string) (desc bool, err error) {
	switch strings.Join(strings.Fields(strings.ToLower(s)), " ") {
	case "", "create_time", "create_time asc":
		return false, nil
	case "create_time desc":
		return true, nil
	}
	return false, errdefs.Violation("order_by", "%q: order by create_time or create_time desc", s)
}

type predicate func(*registrationsv1.Registration) bool

// compileFilter turns a filter (see ListRegistrationsRequest.filter) into a
// predicate; every term must hold. A focal point's delegation, when not
// empty, is one more condition that the caller cannot lift.
func compileFilter(s, delegation string) (predicate, error) {
	terms, err := filter.Parse(s)
	if err != nil {
		return nil, err
	}
	var preds []predicate
	if delegation != "" {
		preds = append(preds, func(r *registrationsv1.Registration) bool { return r.GetParticipant().GetCountryCode() == delegation })
	}
	for _, t := range terms {
		if t.Op != filter.OpEq && t.Op != filter.OpNe {
			if t.Field == "" {
				return nil, filter.Errorf(t, "free text is not supported here; filter on state, category, attendance_mode or participant.country_code")
			}
			return nil, filter.Errorf(t, "%s takes = or !=", t.Field)
		}
		var p predicate
		switch t.Field {
		case "state":
			p, err = enumTerm(t, "REGISTRATION_STATE_", registrationsv1.RegistrationState_value,
				func(r *registrationsv1.Registration) int32 { return int32(r.GetState()) })
		case "category":
			p, err = enumTerm(t, "PARTICIPANT_CATEGORY_", eventsv1.ParticipantCategory_value,
				func(r *registrationsv1.Registration) int32 { return int32(r.GetCategory()) })
		case "attendance_mode":
			p, err = enumTerm(t, "ATTENDANCE_MODE_", eventsv1.AttendanceMode_value,
				func(r *registrationsv1.Registration) int32 { return int32(r.GetAttendanceMode()) })
		case "participant.country_code":
			want := strings.ToUpper(t.Value)
			p = func(r *registrationsv1.Registration) bool { return r.GetParticipant().GetCountryCode() == want }
		default:
			return nil, filter.Errorf(t, "unknown field %q; filter on state, category, attendance_mode or participant.country_code", t.Field)
		}
		if err != nil {
			return nil, err
		}
		if t.Op == filter.OpNe {
			inner := p
			p = func(r *registrationsv1.Registration) bool { return !inner(r) }
		}
		preds = append(preds, p)
	}
	return func(r *registrationsv1.Registration) bool {
		for _, p := range preds {
			if !p(r) {
				return false
			}
		}
		return true
	}, nil
}

func enumTerm(t filter.Term, prefix string, values map[string]int32, get func(*registrationsv1.Registration) int32) (predicate, error) {
	want, err := filter.EnumValue(t, prefix, values)
	if err != nil {
		return nil, err
	}
	return func(r *registrationsv1.Registration) bool { return get(r) == want }, nil
}
