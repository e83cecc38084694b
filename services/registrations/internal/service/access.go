package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/auth"
	"convene.dev/platform/errdefs"
)

// AccessTable says who may call each method of the RegistrationService.
// Where a rule is Own, the service limits non-organizers further, in
// authorize: a focal point to their own delegation's registrations, the
// public to the one registration whose secret they present.
func AccessTable() auth.Table {
	const p = "/convene.registrations.v1.RegistrationService/"
	anyone := auth.Rule{Roles: []auth.Role{auth.Public}}
	own := auth.Rule{Roles: []auth.Role{auth.Public}, Own: true}
	delegation := auth.Rule{Roles: []auth.Role{auth.Organizer, auth.FocalPoint}, Own: true}
	return auth.Table{
		p + "CreateRegistration":   anyone,
		p + "GetRegistration":      own,        // organizer; focal point of its delegation; the registrant with the secret
		p + "CancelRegistration":   own,        // organizer; the registrant with the secret
		p + "ListRegistrations":    delegation, // a focal point sees their delegation only
		p + "ApproveRegistration":  delegation,
		p + "RejectRegistration":   delegation,
		p + "CheckInRegistration":  delegation,
		p + "ExportRegistrations":  delegation,
		p + "GetRegistrationStats": anyone, // seats left for everyone; the breakdowns for organizers
		p + "BackupDatabase":       {Roles: []auth.Role{auth.Organizer}},
	}
}

// access is what a caller may do with one registration.
type access int

const (
	accessRead   access = iota // read it
	accessCancel               // cancel it
	accessDecide               // approve, reject, check in
)

// authorize checks that the caller may act on the registration, before
// saying whether it exists: a caller who may not see it gets
// PERMISSION_DENIED (or UNAUTHENTICATED) whether it exists or not.
// It returns whether the caller acts as the registrant (with the secret).
func (s *Service) authorize(ctx context.Context, eventID, id string, what access) (registrant bool, err error) {
	p := auth.FromContext(ctx)
	if p.IsOrganizer() {
		return false, nil
	}
	denied := errdefs.Newf(errdefs.ErrPermissionDenied, "PERMISSION_DENIED", "you may not act on this registration")
	if p.Secret != "" && what != accessDecide {
		hash, err := s.store.SecretHash(ctx, eventID, id)
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return false, err
		}
		if err == nil && auth.CheckSecret(p.Secret, hash) {
			return true, nil
		}
		return false, denied
	}
	if p.Role == auth.FocalPoint && what != accessCancel {
		reg, err := s.store.Get(ctx, eventID, id)
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return false, err
		}
		if err == nil && reg.GetParticipant().GetCountryCode() == p.Country {
			return false, nil
		}
		return false, denied
	}
	if p.Role == auth.Public {
		return false, errdefs.Newf(errdefs.ErrUnauthenticated, "AUTHENTICATION_REQUIRED",
			"send a bearer token, or the registration's secret in the X-Registration-Secret header")
	}
	return false, denied
}

// delegationFilter returns the country a focal point is limited to, or "".
func delegationFilter(ctx context.Context) string {
	if p := auth.FromContext(ctx); p.Role == auth.FocalPoint {
		return p.Country
	}
	return ""
}

// newSecret returns a registrant's manage secret: 32 random bytes, URL-safe.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// present prepares a registration for the caller: the online meeting link
// for a confirmed participant reading their own registration, or for an
// organizer.
func (s *Service) present(ctx context.Context, reg *registrationsv1.Registration, registrant bool) *registrationsv1.Registration {
	if reg == nil || reg.GetState() != stateConfirmed || !(registrant || auth.FromContext(ctx).IsOrganizer()) {
		return reg
	}
	eventID, _ := splitName(reg.GetName())
	if ev, err := s.store.Event(ctx, eventID); err == nil && ev != nil {
		reg.OnlineMeetingUrl = ev.GetOnlineMeetingUrl()
	}
	return reg
}

// visibleEvent reports whether the caller may know of the event: a draft
// exists for organizers only (the service reads drafts with its own
// identity; it must not show them to its callers).
func visibleEvent(ctx context.Context, ev *eventsv1.Event) bool {
	return ev.GetState() != eventsv1.EventState_EVENT_STATE_DRAFT || auth.FromContext(ctx).IsOrganizer()
}
