package service

import (
	"context"
	"maps"
	"slices"
	"strings"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/auth"
	"convene.dev/platform/country"
	"convene.dev/platform/errdefs"
	"convene.dev/services/registrations/internal/store"
)

// GetRegistrationStats implements RegistrationServiceServer. The counters
// come from the store as they are, kept in step with every write; the seats
// left need the event's policy.
func (s *Service) GetRegistrationStats(ctx context.Context, req *registrationsv1.GetRegistrationStatsRequest) (*registrationsv1.RegistrationStats, error) {
	eventID := strings.TrimSuffix(strings.TrimPrefix(req.GetName(), "events/"), "/registrationStats")
	ev, err := s.eventOf(ctx, eventID, true)
	if err != nil {
		return nil, err
	}
	if !visibleEvent(ctx, ev) {
		return nil, errdefs.Newf(errdefs.ErrNotFound, "EVENT_NOT_FOUND", "event %s does not exist", ev.GetName())
	}
	counts, err := s.store.Counts(ctx, eventID)
	if err != nil {
		return nil, err
	}
	out := stats(req.GetName(), ev.GetRegistrationPolicy(), counts)
	if !auth.FromContext(ctx).IsOrganizer() {
		out.States = nil // the seats left are public; who registered is not
	}
	return out, nil
}

func stats(name string, p *eventsv1.RegistrationPolicy, counts *store.Counts) *registrationsv1.RegistrationStats {
	out := &registrationsv1.RegistrationStats{Name: name}
	for _, st := range slices.Sorted(maps.Keys(counts.ByState)) {
		t := counts.ByState[st]
		if t.Total == 0 {
			continue
		}
		out.States = append(out.States, &registrationsv1.StateCounts{
			State:            registrationsv1.RegistrationState(registrationsv1.RegistrationState_value[st]),
			Total:            t.Total,
			ByCountry:        t.ByCountry,
			ByCategory:       t.ByCategory,
			ByAttendanceMode: t.ByMode,
			ByGender:         t.ByGender,
		})
	}
	slices.SortFunc(out.States, func(a, b *registrationsv1.StateCounts) int { return int(a.GetState() - b.GetState()) })
	confirmed := counts.State(stateConfirmed)
	if c := p.GetCapacity(); c > 0 {
		left := max(c-confirmed.Total, 0)
		out.SeatsLeft = &left
	}
	if c := p.GetInPersonCapacity(); c > 0 {
		left := max(c-confirmed.ByMode[eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON.String()], 0)
		out.InPersonSeatsLeft = &left
	}
	if q := p.GetDelegatesPerCountry(); q > 0 {
		out.DelegateSeatsLeftByCountry = map[string]int32{}
		for _, cc := range country.RCMMembers {
			out.DelegateSeatsLeftByCountry[cc] = max(q-confirmed.Delegates[cc], 0)
		}
	}
	return out
}
