package service

import (
	"context"
	"strings"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/services/registrations/internal/policy"
	"convene.dev/services/registrations/internal/store"
)

// ReasonEventCancelled is the state_reason of the registrations cancelled
// because their event was cancelled or deleted.
const ReasonEventCancelled = "EVENT_CANCELLED"

// ApplyEventChange brings the registrations of one event in line with a
// change from the events feed, and records the change's sequence number,
// in one transaction: the saved copy of the event follows the change; a
// changed policy (a raised capacity) promotes from the waiting list; a
// cancelled or deleted event cancels every live registration.
func (s *Service) ApplyEventChange(ctx context.Context, ch *eventsv1.EventChange) error {
	ev := ch.GetEvent()
	eventID := strings.TrimPrefix(ev.GetName(), "events/")
	return s.store.Update(ctx, eventID, func(tx store.Tx) error {
		if err := s.applyEvent(tx, ev, ch.GetType() == eventsv1.EventChange_TYPE_DELETED, false); err != nil {
			return err
		}
		return tx.SetFeedSequence(ch.GetSequence())
	})
}

// ApplyEventSnapshot is ApplyEventChange for an event read whole, when the
// feed cannot be followed from where we are (compacted away, or the events
// database was restored from a backup): deleted says it is gone. The
// snapshot replaces our copy whatever its revision.
func (s *Service) ApplyEventSnapshot(ctx context.Context, ev *eventsv1.Event, deleted bool) error {
	return s.store.Update(ctx, strings.TrimPrefix(ev.GetName(), "events/"), func(tx store.Tx) error {
		return s.applyEvent(tx, ev, deleted, true)
	})
}

func (s *Service) applyEvent(tx store.Tx, ev *eventsv1.Event, deleted, snapshot bool) error {
	if prev := tx.Event(); prev != nil && prev.GetRevision() > ev.GetRevision() && !deleted {
		if !snapshot {
			return nil // already applied a newer state
		}
		if err := tx.ForgetEvent(); err != nil { // so that SetEvent takes the older revision
			return err
		}
	}
	if deleted {
		if err := tx.ForgetEvent(); err != nil {
			return err
		}
		return s.cancelAll(tx)
	}
	if err := tx.SetEvent(Saved(ev)); err != nil {
		return err
	}
	if ev.GetState() == eventsv1.EventState_EVENT_STATE_CANCELLED {
		return s.cancelAll(tx)
	}
	return policy.Promote(ev, tx, s.touch)
}

// cancelAll cancels every live registration of the event in tx.
func (s *Service) cancelAll(tx store.Tx) error {
	return tx.ForEach(func(reg *registrationsv1.Registration) error {
		switch reg.GetState() {
		case statePending, stateConfirmed, stateWaitlisted:
			reg.State, reg.StateReason = stateCancelled, ReasonEventCancelled
			s.touch(reg)
			return tx.Put(reg)
		}
		return nil
	})
}
