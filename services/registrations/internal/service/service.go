// Package service implements the gRPC RegistrationService.
package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/country"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/etag"
	"convene.dev/services/registrations/internal/policy"
	"convene.dev/services/registrations/internal/store"
)

// Events is what the service needs of the events service.
type Events interface {
	GetEvent(ctx context.Context, name string) (*eventsv1.Event, error)
}

// Service implements registrationsv1.RegistrationServiceServer.
type Service struct {
	registrationsv1.UnimplementedRegistrationServiceServer

	store  store.Store
	events Events
	now    func() time.Time
}

// New returns a Service. now is time.Now outside tests.
func New(s store.Store, events Events, now func() time.Time) *Service {
	return &Service{store: s, events: events, now: now}
}

const (
	stateConfirmed  = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	stateCancelled  = registrationsv1.RegistrationState_REGISTRATION_STATE_CANCELLED
	statePending    = registrationsv1.RegistrationState_REGISTRATION_STATE_PENDING_APPROVAL
	stateWaitlisted = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED
)

// splitName splits events/{event}/registrations/{registration}; the request
// validator has checked its syntax.
func splitName(name string) (eventID, id string) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 {
		return "", ""
	}
	return parts[1], parts[3]
}

// CreateRegistration implements RegistrationServiceServer.
func (s *Service) CreateRegistration(ctx context.Context, req *registrationsv1.CreateRegistrationRequest) (*registrationsv1.Registration, error) {
	reg := proto.CloneOf(req.GetRegistration())
	if err := checkParticipant(reg); err != nil {
		return nil, err
	}
	ev, err := s.events.GetEvent(ctx, req.GetParent())
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, errdefs.Newf(errdefs.ErrNotFound, "EVENT_NOT_FOUND", "event %s does not exist", req.GetParent())
		}
		return nil, err
	}
	now := s.now()
	if err := policy.CheckOpen(ev, now); err != nil {
		return nil, err
	}
	if err := policy.CheckCategory(ev, reg.GetCategory()); err != nil {
		return nil, err
	}
	if err := resolveAttendance(ev, reg); err != nil {
		return nil, err
	}

	// Only the server sets these.
	reg.Name, reg.State, reg.StateReason, reg.CheckInTime, reg.Etag = "", 0, "", nil, ""
	reg.Participant.Email = strings.TrimSpace(reg.GetParticipant().GetEmail())
	reg.CreateTime = timestamppb.New(now)
	reg.UpdateTime = reg.CreateTime

	eventID := strings.TrimPrefix(req.GetParent(), "events/")
	stored, _, err := s.store.Create(ctx, eventID, req.GetRequestId(), reg, func(r *registrationsv1.Registration, counts *store.Counts) error {
		if err := policy.Admit(ev, r, counts); err != nil {
			return err
		}
		r.Etag = etag.Of(r)
		return nil
	})
	return stored, err
}

// checkParticipant checks what the proto rules cannot: a real country, and
// a Member Country for a Member Country delegate.
func checkParticipant(reg *registrationsv1.Registration) error {
	var v errdefs.Violations
	cc := reg.GetParticipant().GetCountryCode()
	switch {
	case !country.Valid(cc):
		v.Add("registration.participant.country_code", "%q is not an ISO 3166-1 alpha-2 country code", cc)
	case reg.GetCategory() == eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE && !isMember(cc):
		v.Add("registration.participant.country_code", "%s is not an RCM Member Country (%s); register as an observer country",
			cc, strings.Join(country.RCMMembers, ", "))
	}
	return v.Err()
}

func isMember(cc string) bool {
	for _, m := range country.RCMMembers {
		if m == cc {
			return true
		}
	}
	return false
}

// resolveAttendance sets how the participant attends: their choice for a
// hybrid event (in person by default), the event's own mode otherwise.
func resolveAttendance(ev *eventsv1.Event, reg *registrationsv1.Registration) error {
	mode, want := ev.GetAttendanceMode(), reg.GetAttendanceMode()
	switch {
	case mode == eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID:
		if want == eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID {
			return errdefs.Violation("registration.attendance_mode", "choose IN_PERSON or VIRTUAL for a hybrid event")
		}
		if want == eventsv1.AttendanceMode_ATTENDANCE_MODE_UNSPECIFIED {
			reg.AttendanceMode = eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
		}
	case want != eventsv1.AttendanceMode_ATTENDANCE_MODE_UNSPECIFIED && want != mode:
		return errdefs.Violation("registration.attendance_mode", "the event is %s only", strings.TrimPrefix(mode.String(), "ATTENDANCE_MODE_"))
	default:
		reg.AttendanceMode = mode
	}
	return nil
}

// GetRegistration implements RegistrationServiceServer.
func (s *Service) GetRegistration(ctx context.Context, req *registrationsv1.GetRegistrationRequest) (*registrationsv1.Registration, error) {
	eventID, id := splitName(req.GetName())
	reg, err := s.store.Get(ctx, eventID, id)
	return reg, registrationErr(err, req.GetName())
}

// CancelRegistration implements RegistrationServiceServer.
func (s *Service) CancelRegistration(ctx context.Context, req *registrationsv1.CancelRegistrationRequest) (*registrationsv1.Registration, error) {
	eventID, id := splitName(req.GetName())
	reg, err := s.store.Update(ctx, eventID, id, func(reg *registrationsv1.Registration, _ *store.Counts) error {
		if err := etag.Check(req.GetEtag(), reg.GetEtag(), reg.GetName()); err != nil {
			return err
		}
		switch reg.GetState() {
		case statePending, stateConfirmed, stateWaitlisted:
		default:
			return errdefs.Newf(errdefs.ErrFailedPrecondition, "INVALID_STATE_TRANSITION",
				"a %s registration cannot be cancelled", strings.TrimPrefix(reg.GetState().String(), "REGISTRATION_STATE_"))
		}
		reg.State = stateCancelled
		reg.StateReason = req.GetReason()
		reg.UpdateTime = timestamppb.New(s.now())
		reg.Etag = etag.Of(reg)
		return nil
	})
	return reg, registrationErr(err, req.GetName())
}

// registrationErr gives a not-found error its reason.
func registrationErr(err error, name string) error {
	if err != nil && errdefs.Reason(err) == "" && errors.Is(err, errdefs.ErrNotFound) {
		return errdefs.WithReason(err, "REGISTRATION_NOT_FOUND", "name", name)
	}
	return err
}
