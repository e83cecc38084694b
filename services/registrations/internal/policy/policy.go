// Package policy holds the admission rules of registrations: given an event's
// registration policy and its counters, which state a registration gets.
// The functions are pure; the store runs them inside its write transaction.
package policy

import (
	"slices"
	"time"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/services/registrations/internal/store"
)

const (
	confirmed = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	inPerson  = eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
	delegate  = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE
)

// CheckOpen returns a FAILED_PRECONDITION error unless ev takes registrations
// at now: published, and within its registration window (which closes when
// the event starts, unless the policy says otherwise).
func CheckOpen(ev *eventsv1.Event, now time.Time) error {
	switch ev.GetState() {
	case eventsv1.EventState_EVENT_STATE_PUBLISHED:
	case eventsv1.EventState_EVENT_STATE_CANCELLED:
		return errdefs.Newf(errdefs.ErrFailedPrecondition, "EVENT_CANCELLED", "event %s is cancelled", ev.GetName())
	default:
		return errdefs.Newf(errdefs.ErrFailedPrecondition, "EVENT_NOT_PUBLISHED", "event %s is not published", ev.GetName())
	}
	p := ev.GetRegistrationPolicy()
	if opens := p.GetOpensTime(); opens != nil && now.Before(opens.AsTime()) {
		return errdefs.Newf(errdefs.ErrFailedPrecondition, "REGISTRATION_NOT_OPEN",
			"registration for %s opens at %s", ev.GetName(), opens.AsTime().Format(time.RFC3339))
	}
	closes := p.GetClosesTime()
	if closes == nil {
		closes = ev.GetStartTime()
	}
	if closes != nil && !now.Before(closes.AsTime()) {
		return errdefs.Newf(errdefs.ErrFailedPrecondition, "REGISTRATION_CLOSED",
			"registration for %s closed at %s", ev.GetName(), closes.AsTime().Format(time.RFC3339))
	}
	return nil
}

// CheckCategory returns a FAILED_PRECONDITION error when the event does not
// take registrations of the category.
func CheckCategory(ev *eventsv1.Event, c eventsv1.ParticipantCategory) error {
	allowed := ev.GetRegistrationPolicy().GetAllowedCategories()
	if len(allowed) > 0 && !slices.Contains(allowed, c) {
		return errdefs.Newf(errdefs.ErrFailedPrecondition, "CATEGORY_NOT_ALLOWED",
			"event %s does not take registrations of category %s", ev.GetName(), c)
	}
	return nil
}

// NoSeat says why reg does not fit in the confirmed seats, as an error
// reason (EVENT_FULL, IN_PERSON_FULL, COUNTRY_QUOTA_REACHED), or "" when it
// fits.
func NoSeat(p *eventsv1.RegistrationPolicy, reg *registrationsv1.Registration, counts *store.Counts) string {
	c := counts.State(confirmed)
	switch {
	case p.GetCapacity() > 0 && c.Total >= p.GetCapacity():
		return "EVENT_FULL"
	case p.GetInPersonCapacity() > 0 && reg.GetAttendanceMode() == inPerson && c.ByMode[inPerson.String()] >= p.GetInPersonCapacity():
		return "IN_PERSON_FULL"
	case p.GetDelegatesPerCountry() > 0 && reg.GetCategory() == delegate &&
		c.Delegates[reg.GetParticipant().GetCountryCode()] >= p.GetDelegatesPerCountry():
		return "COUNTRY_QUOTA_REACHED"
	}
	return ""
}

// Admit sets the state of a new registration: PENDING_APPROVAL when the
// event requires approval, otherwise as Place decides.
func Admit(ev *eventsv1.Event, reg *registrationsv1.Registration, counts *store.Counts) error {
	if ev.GetRegistrationPolicy().GetRequiresApproval() {
		reg.State = registrationsv1.RegistrationState_REGISTRATION_STATE_PENDING_APPROVAL
		return nil
	}
	return Place(ev.GetName(), ev.GetRegistrationPolicy(), reg, counts)
}

// Place gives a registration a seat (CONFIRMED) when one is free, else a
// place on the waiting list (WAITLISTED, with the reason) when the event
// keeps one; with neither it returns a FAILED_PRECONDITION error whose
// reason says what is full.
func Place(event string, p *eventsv1.RegistrationPolicy, reg *registrationsv1.Registration, counts *store.Counts) error {
	reason := NoSeat(p, reg, counts)
	switch {
	case reason == "":
		reg.State, reg.StateReason = confirmed, ""
	case p.GetWaitlistEnabled():
		reg.State = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED
		reg.StateReason = reason
	default:
		return errdefs.Newf(errdefs.ErrFailedPrecondition, reason, "%s has no seat left (%s) and no waiting list", event, reason)
	}
	return nil
}

// Promote gives free seats to WAITLISTED registrations, oldest first, each
// that fits (a registration held back by its country's quota or the
// in-person seats does not block a younger one that fits). touch stamps a
// promoted registration before it is written. It stops as soon as the
// event's capacity is reached. Run it in the transaction of every change
// that may free a seat.
//
// A waiting list once settled stays so until a registration changes or a
// new copy of the event is saved (store.Tx.WaitlistSettled): a create, which
// runs Promote too, frees no seat, and must not read the whole waiting
// list — thousands, when a quota holds many back — to find that out.
func Promote(ev *eventsv1.Event, tx store.Tx, touch func(*registrationsv1.Registration)) error {
	if tx.WaitlistSettled(ev.GetRevision()) {
		return nil
	}
	if err := promote(ev, tx, touch); err != nil {
		return err
	}
	tx.SettleWaitlist(ev.GetRevision())
	return nil
}

func promote(ev *eventsv1.Event, tx store.Tx, touch func(*registrationsv1.Registration)) error {
	p := ev.GetRegistrationPolicy()
	return tx.Waitlist(func(reg *registrationsv1.Registration) (bool, error) {
		switch NoSeat(p, reg, tx.Counts()) {
		case "EVENT_FULL":
			return false, nil
		case "":
			reg.State = confirmed
			reg.StateReason = "PROMOTED_FROM_WAITLIST"
			touch(reg)
			if err := tx.Put(reg); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}
