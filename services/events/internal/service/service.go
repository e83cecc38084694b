// Package service implements the gRPC EventService over a store.Store.
package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/etag"
	"convene.dev/platform/fieldmask"
	"convene.dev/platform/ids"
	"convene.dev/platform/validate"
	"convene.dev/services/events/internal/store"
)

// Service implements eventsv1.EventServiceServer.
type Service struct {
	eventsv1.UnimplementedEventServiceServer

	store     store.Store
	validator *validate.Validator
	now       func() time.Time
	stop      <-chan struct{}
	publicURL string // the web page's address, for links in calendars
	matches   matchCache
}

// New returns a Service. now is time.Now outside tests; when stop is closed
// (the process is shutting down) open WatchEventChanges streams end.
func New(s store.Store, v *validate.Validator, now func() time.Time, stop <-chan struct{}) *Service {
	return &Service{store: s, validator: v, now: now, stop: stop}
}

// Fields of Event that only the server sets.
var outputOnly = []string{"name", "state", "cancel_reason", "create_time", "update_time", "publish_time", "etag", "revision", "language"}

// Fields that UpdateEvent writes when the mask is empty.
var writable = []string{
	"title", "kind", "attendance_mode", "summary", "general_objective", "specific_objectives",
	"methodology", "expected_participants", "location", "online_meeting_url", "start_time",
	"end_time", "time_zone", "dates_approximate", "sessions", "organizer", "topics", "languages",
	"default_language", "translations", "registration_policy",
}

const namePrefix = "events/"

// parseName returns the id of an event name; the request validator has
// already checked its syntax.
func parseName(name string) string { return strings.TrimPrefix(name, namePrefix) }

// GetEvent implements EventServiceServer.
func (s *Service) GetEvent(ctx context.Context, req *eventsv1.GetEventRequest) (*eventsv1.Event, error) {
	ev, err := s.store.Get(ctx, parseName(req.GetName()))
	if err == nil && !visible(ctx, ev) {
		err = fmt.Errorf("event %q: %w", req.GetName(), errdefs.ErrNotFound) // a draft does not exist for the public
	}
	if err != nil {
		return nil, eventErr(err, req.GetName())
	}
	ev = redact(ctx, ev)
	localize(ev, acceptedLanguages(ctx, req.GetLanguage()))
	return ev, nil
}

// CreateEvent implements EventServiceServer.
func (s *Service) CreateEvent(ctx context.Context, req *eventsv1.CreateEventRequest) (*eventsv1.Event, error) {
	if req.GetEvent() == nil {
		return nil, errdefs.Violation("event", "required")
	}
	ev := proto.CloneOf(req.GetEvent())
	if err := checkEvent(ev, "event"); err != nil {
		return nil, err
	}
	id := req.GetEventId()
	if id == "" {
		id = ids.Random()
	}
	now := timestamppb.New(s.now())
	ev.Name = namePrefix + id
	ev.State = eventsv1.EventState_EVENT_STATE_DRAFT
	ev.CancelReason = ""
	ev.CreateTime, ev.UpdateTime, ev.PublishTime = now, now, nil
	ev.Revision = 1
	ev.Language = ""
	ev.Etag = etag.Of(ev)
	stored, _, err := s.store.Create(ctx, id, req.GetRequestId(), ev)
	if err != nil {
		return nil, eventErr(err, ev.Name)
	}
	return written(stored), nil
}

// UpdateEvent implements EventServiceServer.
func (s *Service) UpdateEvent(ctx context.Context, req *eventsv1.UpdateEventRequest) (*eventsv1.Event, error) {
	patch := req.GetEvent()
	if patch == nil {
		return nil, errdefs.Violation("event", "required")
	}
	if !validName(patch.GetName()) {
		return nil, errdefs.Violation("event.name", "must be events/{event}, got %q", patch.GetName())
	}
	paths, err := fieldmask.Paths(patch, req.GetUpdateMask().GetPaths(), writable, outputOnly)
	if err != nil {
		return nil, err
	}
	ev, err := s.store.Update(ctx, parseName(patch.GetName()), eventsv1.EventChange_TYPE_UPDATED, func(ev *eventsv1.Event) error {
		if err := checkEtag(patch.GetEtag(), ev); err != nil {
			return err
		}
		fieldmask.Apply(ev, patch, paths)
		if err := s.validator.Validate(ev, "event"); err != nil {
			return err
		}
		if err := checkEvent(ev, "event"); err != nil {
			return err
		}
		s.touch(ev)
		return nil
	})
	return written(ev), eventErr(err, patch.GetName())
}

// DeleteEvent implements EventServiceServer.
func (s *Service) DeleteEvent(ctx context.Context, req *eventsv1.DeleteEventRequest) (*emptypb.Empty, error) {
	err := s.store.Delete(ctx, parseName(req.GetName()), func(ev *eventsv1.Event) error {
		return checkEtag(req.GetEtag(), ev)
	})
	if err != nil {
		return nil, eventErr(err, req.GetName())
	}
	return &emptypb.Empty{}, nil
}

// PublishEvent implements EventServiceServer.
func (s *Service) PublishEvent(ctx context.Context, req *eventsv1.PublishEventRequest) (*eventsv1.Event, error) {
	ev, err := s.store.Update(ctx, parseName(req.GetName()), eventsv1.EventChange_TYPE_PUBLISHED, func(ev *eventsv1.Event) error {
		if err := checkEtag(req.GetEtag(), ev); err != nil {
			return err
		}
		if ev.GetState() != eventsv1.EventState_EVENT_STATE_DRAFT {
			return errdefs.Newf(errdefs.ErrFailedPrecondition, "INVALID_STATE_TRANSITION",
				"only a DRAFT event can be published; %s is %s", ev.GetName(), stateName(ev.GetState()))
		}
		if ev.GetStartTime() == nil || ev.GetEndTime() == nil {
			return errdefs.Newf(errdefs.ErrFailedPrecondition, "EVENT_INCOMPLETE",
				"an event needs start_time and end_time before it is published")
		}
		ev.State = eventsv1.EventState_EVENT_STATE_PUBLISHED
		ev.PublishTime = timestamppb.New(s.now())
		s.touch(ev)
		return nil
	})
	return written(ev), eventErr(err, req.GetName())
}

// CancelEvent implements EventServiceServer.
func (s *Service) CancelEvent(ctx context.Context, req *eventsv1.CancelEventRequest) (*eventsv1.Event, error) {
	ev, err := s.store.Update(ctx, parseName(req.GetName()), eventsv1.EventChange_TYPE_CANCELLED, func(ev *eventsv1.Event) error {
		if err := checkEtag(req.GetEtag(), ev); err != nil {
			return err
		}
		if ev.GetState() == eventsv1.EventState_EVENT_STATE_CANCELLED {
			return errdefs.Newf(errdefs.ErrFailedPrecondition, "INVALID_STATE_TRANSITION",
				"event %s is already cancelled", ev.GetName())
		}
		ev.State = eventsv1.EventState_EVENT_STATE_CANCELLED
		ev.CancelReason = req.GetReason()
		s.touch(ev)
		return nil
	})
	return written(ev), eventErr(err, req.GetName())
}

// written prepares the answer to a write: the event as stored, whose texts
// are in its default language, which the answer states. (It is the
// store's copy to the caller, so stating it changes nothing stored.)
func written(ev *eventsv1.Event) *eventsv1.Event {
	if ev != nil {
		ev.Language = defaultLanguage(ev)
	}
	return ev
}

// touch stamps a changed event with its revision, update time and new etag.
func (s *Service) touch(ev *eventsv1.Event) {
	ev.Revision++
	ev.UpdateTime = timestamppb.New(s.now())
	ev.Etag = etag.Of(ev)
}

func checkEtag(want string, ev *eventsv1.Event) error {
	return etag.Check(want, ev.GetEtag(), ev.GetName())
}

func validName(name string) bool {
	id, ok := strings.CutPrefix(name, namePrefix)
	return ok && validID(id)
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 63 || id[0] == '-' {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func stateName(s eventsv1.EventState) string {
	return strings.TrimPrefix(s.String(), "EVENT_STATE_")
}

// eventErr gives the store's not-found and already-exists errors their
// reasons; other errors pass unchanged.
func eventErr(err error, name string) error {
	switch {
	case err == nil || errdefs.Reason(err) != "":
		return err
	case errors.Is(err, errdefs.ErrNotFound):
		return errdefs.WithReason(err, "EVENT_NOT_FOUND", "name", name)
	case errors.Is(err, errdefs.ErrAlreadyExists):
		return errdefs.WithReason(err, "EVENT_ALREADY_EXISTS", "name", name)
	}
	return err
}
