// Package service implements the gRPC RegistrationService: the life cycle of
// a registration (create, approve, reject, cancel, check in), the waiting
// list, and reading it all back (get, list, stats, CSV export).
package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/auth"
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
	statePending    = registrationsv1.RegistrationState_REGISTRATION_STATE_PENDING_APPROVAL
	stateConfirmed  = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	stateWaitlisted = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED
	stateRejected   = registrationsv1.RegistrationState_REGISTRATION_STATE_REJECTED
	stateCancelled  = registrationsv1.RegistrationState_REGISTRATION_STATE_CANCELLED
)

// splitName splits events/{event}/registrations/{registration}; the request
// validator has checked its syntax.
func splitName(name string) (eventID, id string) {
	rest, ok := strings.CutPrefix(name, "events/")
	eventID, id, ok2 := strings.Cut(rest, "/registrations/")
	if !ok || !ok2 || eventID == "" || strings.Contains(eventID, "/") || strings.Contains(id, "/") {
		return "", ""
	}
	return eventID, id
}

// eventOf returns the event from the events service. When that service
// cannot answer and fallback is set, the copy saved with the event's
// registrations serves instead, so that a participant can cancel and an
// organiser decide while the events service is down.
func (s *Service) eventOf(ctx context.Context, eventID string, fallback bool) (*eventsv1.Event, error) {
	name := "events/" + eventID
	ev, err := s.events.GetEvent(ctx, name)
	switch {
	case err == nil:
		return ev, nil
	case errors.Is(err, errdefs.ErrNotFound):
		return nil, errdefs.Newf(errdefs.ErrNotFound, "EVENT_NOT_FOUND", "event %s does not exist", name)
	case fallback && errors.Is(err, errdefs.ErrUnavailable):
		saved, serr := s.store.Event(ctx, eventID)
		if serr == nil && saved != nil {
			return saved, nil
		}
	}
	return nil, err
}

// Saved is the part of an event that the registrations service keeps (a
// preload writes the same).
func Saved(ev *eventsv1.Event) *eventsv1.Event {
	return &eventsv1.Event{
		Name:               ev.GetName(),
		State:              ev.GetState(),
		AttendanceMode:     ev.GetAttendanceMode(),
		StartTime:          ev.GetStartTime(),
		EndTime:            ev.GetEndTime(),
		RegistrationPolicy: ev.GetRegistrationPolicy(),
		UpdateTime:         ev.GetUpdateTime(),
		Etag:               ev.GetEtag(),
		Revision:           ev.GetRevision(),
		OnlineMeetingUrl:   ev.GetOnlineMeetingUrl(), // for confirmed participants
	}
}

// touch stamps a changed registration with its update time and new etag.
func (s *Service) touch(reg *registrationsv1.Registration) {
	reg.UpdateTime = timestamppb.New(s.now())
	reg.Etag = etag.Of(reg)
}

// CreateRegistration implements RegistrationServiceServer.
func (s *Service) CreateRegistration(ctx context.Context, req *registrationsv1.CreateRegistrationRequest) (*registrationsv1.Registration, error) {
	reg, _, err := s.createRegistration(ctx, req)
	return reg, err
}

// createRegistration is CreateRegistration, and, when the call made the
// registration, its record as the store encoded it (store.Tx.Insert): the
// answer is that, and the manage secret and meeting URL, which the store
// does not keep (see wire).
func (s *Service) createRegistration(ctx context.Context, req *registrationsv1.CreateRegistrationRequest) (*registrationsv1.Registration, []byte, error) {
	eventID := strings.TrimPrefix(req.GetParent(), "events/")
	// The request was decoded for this call alone: its registration is
	// filled in and stored as it is, not copied first (a reflective deep
	// copy, ~1 µs). Of what a retry is compared with (retried), two fields
	// change before the comparison: the attendance mode, kept as sent, and
	// the e-mail address, trimmed, which retried trims too.
	reg := req.GetRegistration()
	sentMode := reg.GetAttendanceMode()
	if err := checkParticipant(reg); err != nil {
		return nil, nil, err
	}
	now := s.now()
	ev, fresh, err := s.admissible(ctx, eventID, reg, now)
	if err != nil {
		// A retry returns the first result, even once the window has closed
		// or while the events service is down. (When the event takes the
		// registration, the write's own transaction finds the request id:
		// no read of it here on the way of every create.)
		if rid := req.GetRequestId(); rid != "" {
			prev, perr := s.store.Request(ctx, rid)
			if perr == nil {
				reg, err := s.retried(ctx, req, sentMode, prev)
				return reg, nil, err
			}
			if !errors.Is(perr, errdefs.ErrNotFound) {
				return nil, nil, perr
			}
		}
		return nil, nil, err
	}

	// Only the server sets these.
	reg.Name, reg.State, reg.StateReason, reg.CheckInTime, reg.Etag = "", 0, "", nil, ""
	reg.ManageSecret, reg.OnlineMeetingUrl = "", ""
	reg.Participant.Email = strings.TrimSpace(reg.GetParticipant().GetEmail())
	reg.CreateTime = timestamppb.New(now)
	reg.UpdateTime = reg.CreateTime

	secret := newSecret() // returned once; only its hash is kept
	secretHash := auth.HashToken(secret)
	var record []byte // the stored registration's, once made
	create := func(ev *eventsv1.Event, fresh bool) (*registrationsv1.Registration, error) {
		// The store's own copy goes back as it is (SetEvent finds it saved
		// already); one from the events service is cut to the part kept,
		// here and not on the committer, which every create waits for.
		saved := ev
		if fresh {
			saved = Saved(ev)
		}
		stored, created, err := s.store.Create(ctx, eventID, req.GetRequestId(), func(tx store.Tx) (*registrationsv1.Registration, error) {
			if err := tx.SetEvent(saved); err != nil {
				return nil, err
			}
			// Seats freed since the last change (a raised capacity) go to
			// those already waiting before a newcomer is considered.
			if err := policy.Promote(ev, tx, s.touch); err != nil {
				return nil, err
			}
			// The function may run again (and create may, with a newer
			// event): first undo what a run sets. Not a copy of reg: this is
			// the committer's time, which every create waits on.
			reg.Name, reg.State, reg.StateReason, reg.Etag = "", 0, "", ""
			if err := policy.Admit(ev, reg, tx.Counts()); err != nil {
				return nil, err
			}
			name, err := tx.NewName()
			if err != nil {
				return nil, err
			}
			reg.Name = name
			if record, err = tx.Insert(reg, secretHash); err != nil { // it sets the etag
				return nil, err
			}
			return reg, nil
		})
		if err != nil {
			return nil, err
		}
		if !created { // a concurrent call with the same request_id won
			record = nil
			return s.retried(ctx, req, sentMode, stored)
		}
		// What is set on the registration from here on is not in its record:
		// the gRPC answer appends it to the record (encodedAnswer, wire.go),
		// which must then know of any field added here or in present.
		stored.ManageSecret = secret
		return s.present(ctx, stored, true), nil
	}
	stored, err := create(ev, fresh)
	if errors.Is(err, errdefs.ErrFailedPrecondition) && !fresh {
		// Refused for want of a seat on the strength of our copy of the
		// event: ask the events service, whose capacity may have been raised
		// a moment ago, before saying no.
		if latest, gerr := s.eventOf(ctx, eventID, false); gerr == nil && latest.GetRevision() > ev.GetRevision() {
			stored, err = create(latest, true)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return stored, record, nil
}

// retried answers a CreateRegistration whose request_id already made prev:
// with prev when the request is the same one again, and ALREADY_EXISTS
// when the id comes with another event or another person — a request id is
// not a key to someone else's registration. sentMode is the attendance
// mode the request asked for.
func (s *Service) retried(ctx context.Context, req *registrationsv1.CreateRegistrationRequest, sentMode eventsv1.AttendanceMode, prev *registrationsv1.Registration) (*registrationsv1.Registration, error) {
	sent := req.GetRegistration()
	same := strings.HasPrefix(prev.GetName(), req.GetParent()+"/") &&
		sent.GetCategory() == prev.GetCategory() &&
		(sentMode == 0 || sentMode == prev.GetAttendanceMode()) &&
		sent.GetNeedsVisaLetter() == prev.GetNeedsVisaLetter() &&
		sent.GetAccessibilityNeeds() == prev.GetAccessibilityNeeds()
	p, q := sent.GetParticipant(), prev.GetParticipant()
	same = same && strings.EqualFold(strings.TrimSpace(p.GetEmail()), q.GetEmail()) &&
		p.GetGivenName() == q.GetGivenName() && p.GetFamilyName() == q.GetFamilyName() &&
		p.GetCountryCode() == q.GetCountryCode() && p.GetPhone() == q.GetPhone() &&
		p.GetOrganization() == q.GetOrganization() && p.GetJobTitle() == q.GetJobTitle() &&
		p.GetGender() == q.GetGender() && p.GetPreferredLanguage() == q.GetPreferredLanguage()
	if !same {
		return nil, errdefs.Newf(errdefs.ErrAlreadyExists, "REQUEST_ID_REUSED",
			"request_id %s was already used for another registration; use a new one", req.GetRequestId())
	}
	return s.present(ctx, prev, false), nil
}

// admissible returns the event if it takes reg at now, and whether it came
// fresh from the events service. The copy of the event that the events feed
// keeps here answers on the hot path; the events service is asked when
// there is no copy yet, and before any refusal, so that a copy a moment
// behind (an event published a millisecond ago) never turns a participant
// away.
func (s *Service) admissible(ctx context.Context, eventID string, reg *registrationsv1.Registration, now time.Time) (ev *eventsv1.Event, fresh bool, err error) {
	check := func(ev *eventsv1.Event) (eventsv1.AttendanceMode, error) {
		if err := policy.CheckOpen(ev, now); err != nil {
			return 0, err
		}
		if err := policy.CheckCategory(ev, reg.GetCategory()); err != nil {
			return 0, err
		}
		return attendance(ev, reg)
	}
	if local, err := s.store.Event(ctx, eventID); err == nil && local != nil {
		if mode, err := check(local); err == nil && visibleEvent(ctx, local) {
			reg.AttendanceMode = mode
			return local, false, nil
		}
	}
	ev, err = s.eventOf(ctx, eventID, false)
	if err != nil {
		return nil, false, err
	}
	if !visibleEvent(ctx, ev) {
		return nil, false, errdefs.Newf(errdefs.ErrNotFound, "EVENT_NOT_FOUND", "event %s does not exist", ev.GetName())
	}
	mode, err := check(ev)
	if err != nil {
		return nil, false, err
	}
	reg.AttendanceMode = mode
	return ev, true, nil
}

// checkParticipant checks what the proto rules cannot: a real country, and
// a Member Country for a Member Country delegate.
func checkParticipant(reg *registrationsv1.Registration) error {
	var v errdefs.Violations
	cc := reg.GetParticipant().GetCountryCode()
	switch {
	case !country.Valid(cc):
		v.Add("registration.participant.country_code", "%q is not an ISO 3166-1 alpha-2 country code", cc)
	case reg.GetCategory() == eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE && !slices.Contains(country.RCMMembers, cc):
		v.Add("registration.participant.country_code", "%s is not an RCM Member Country (%s); register as an observer country",
			cc, strings.Join(country.RCMMembers, ", "))
	}
	return v.Err()
}

// attendance returns how the participant attends: their choice for a
// hybrid event (in person by default), the event's own mode otherwise.
func attendance(ev *eventsv1.Event, reg *registrationsv1.Registration) (eventsv1.AttendanceMode, error) {
	mode, want := ev.GetAttendanceMode(), reg.GetAttendanceMode()
	switch {
	case mode == eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID:
		switch want {
		case eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID:
			return 0, errdefs.Violation("registration.attendance_mode", "choose IN_PERSON or VIRTUAL for a hybrid event")
		case eventsv1.AttendanceMode_ATTENDANCE_MODE_UNSPECIFIED:
			return eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON, nil
		}
		return want, nil
	case want != eventsv1.AttendanceMode_ATTENDANCE_MODE_UNSPECIFIED && want != mode:
		return 0, errdefs.Violation("registration.attendance_mode", "the event is %s only", strings.TrimPrefix(mode.String(), "ATTENDANCE_MODE_"))
	}
	return mode, nil
}

// GetRegistration implements RegistrationServiceServer.
func (s *Service) GetRegistration(ctx context.Context, req *registrationsv1.GetRegistrationRequest) (*registrationsv1.Registration, error) {
	eventID, id := splitName(req.GetName())
	registrant, err := s.authorize(ctx, eventID, id, accessRead)
	if err != nil {
		return nil, err
	}
	reg, err := s.store.Get(ctx, eventID, id)
	return s.present(ctx, reg, registrant), registrationErr(err, req.GetName())
}

// transition changes one registration in one transaction: check decides
// from its current state (and may change it), then the registration is
// stamped, written, and freed seats are offered to the waiting list.
func (s *Service) transition(ctx context.Context, name, wantEtag string, what access, needEvent bool, change func(ev *eventsv1.Event, reg *registrationsv1.Registration, tx store.Tx) error) (*registrationsv1.Registration, error) {
	eventID, id := splitName(name)
	registrant, err := s.authorize(ctx, eventID, id, what)
	if err != nil {
		return nil, err
	}
	var ev *eventsv1.Event
	if needEvent {
		var err error
		if ev, err = s.eventOf(ctx, eventID, true); err != nil {
			return nil, err
		}
	}
	var out *registrationsv1.Registration
	err = s.store.Update(ctx, eventID, func(tx store.Tx) error {
		reg, err := tx.Get(id)
		if err != nil {
			return err
		}
		if err := etag.Check(wantEtag, reg.GetEtag(), reg.GetName()); err != nil {
			return err
		}
		if err := change(ev, reg, tx); err != nil {
			return err
		}
		s.touch(reg)
		if err := tx.Put(reg); err != nil {
			return err
		}
		if ev != nil {
			if err := tx.SetEvent(Saved(ev)); err != nil {
				return err
			}
			if err := policy.Promote(ev, tx, s.touch); err != nil {
				return err
			}
			// The registration itself may have been promoted just now.
			if reg, err = tx.Get(id); err != nil {
				return err
			}
		}
		out = reg
		return nil
	})
	return s.present(ctx, out, registrant), registrationErr(err, name)
}

func invalidTransition(reg *registrationsv1.Registration, action string) error {
	return errdefs.Newf(errdefs.ErrFailedPrecondition, "INVALID_STATE_TRANSITION",
		"a %s registration cannot be %s", strings.TrimPrefix(reg.GetState().String(), "REGISTRATION_STATE_"), action)
}

// CancelRegistration implements RegistrationServiceServer.
func (s *Service) CancelRegistration(ctx context.Context, req *registrationsv1.CancelRegistrationRequest) (*registrationsv1.Registration, error) {
	return s.transition(ctx, req.GetName(), req.GetEtag(), accessCancel, true, func(_ *eventsv1.Event, reg *registrationsv1.Registration, _ store.Tx) error {
		switch reg.GetState() {
		case statePending, stateConfirmed, stateWaitlisted:
		default:
			return invalidTransition(reg, "cancelled")
		}
		reg.State, reg.StateReason = stateCancelled, req.GetReason()
		return nil
	})
}

// ApproveRegistration implements RegistrationServiceServer.
func (s *Service) ApproveRegistration(ctx context.Context, req *registrationsv1.ApproveRegistrationRequest) (*registrationsv1.Registration, error) {
	return s.transition(ctx, req.GetName(), req.GetEtag(), accessDecide, true, func(ev *eventsv1.Event, reg *registrationsv1.Registration, tx store.Tx) error {
		if reg.GetState() != statePending {
			return invalidTransition(reg, "approved")
		}
		// Those already waiting keep their place in the queue.
		if err := policy.Promote(ev, tx, s.touch); err != nil {
			return err
		}
		return policy.Place(ev.GetName(), ev.GetRegistrationPolicy(), reg, tx.Counts())
	})
}

// RejectRegistration implements RegistrationServiceServer.
func (s *Service) RejectRegistration(ctx context.Context, req *registrationsv1.RejectRegistrationRequest) (*registrationsv1.Registration, error) {
	return s.transition(ctx, req.GetName(), req.GetEtag(), accessDecide, true, func(_ *eventsv1.Event, reg *registrationsv1.Registration, _ store.Tx) error {
		switch reg.GetState() {
		case statePending, stateWaitlisted, stateConfirmed:
		default:
			return invalidTransition(reg, "rejected")
		}
		reg.State, reg.StateReason = stateRejected, req.GetReason()
		return nil
	})
}

// CheckInRegistration implements RegistrationServiceServer.
func (s *Service) CheckInRegistration(ctx context.Context, req *registrationsv1.CheckInRegistrationRequest) (*registrationsv1.Registration, error) {
	return s.transition(ctx, req.GetName(), req.GetEtag(), accessDecide, false, func(_ *eventsv1.Event, reg *registrationsv1.Registration, _ store.Tx) error {
		if reg.GetState() != stateConfirmed {
			return invalidTransition(reg, "checked in")
		}
		if reg.GetCheckInTime() != nil {
			return errdefs.Newf(errdefs.ErrFailedPrecondition, "ALREADY_CHECKED_IN",
				"%s checked in at %s", reg.GetName(), reg.GetCheckInTime().AsTime().Format(time.RFC3339))
		}
		reg.CheckInTime = timestamppb.New(s.now())
		return nil
	})
}

// registrationErr gives a not-found error its reason.
func registrationErr(err error, name string) error {
	if err != nil && errdefs.Reason(err) == "" && errors.Is(err, errdefs.ErrNotFound) {
		return errdefs.WithReason(err, "REGISTRATION_NOT_FOUND", "name", name)
	}
	return err
}
