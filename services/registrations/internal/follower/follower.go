// Package follower keeps the registrations service in step with the events
// service by following its change feed (WatchEventChanges): each change is
// applied, with its sequence number, in one transaction of the registrations
// database, so that after a crash or a restart of either service the feed
// resumes exactly after the last change applied — none missed, none applied
// twice.
package follower

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventsv1 "convene.dev/gen/convene/events/v1"
)

// callTimeout bounds each unary call to the events service.
const callTimeout = 5 * time.Second

// Applier applies what the feed says to the registrations.
type Applier interface {
	ApplyEventChange(ctx context.Context, ch *eventsv1.EventChange) error
	ApplyEventSnapshot(ctx context.Context, ev *eventsv1.Event, deleted bool) error
}

// Progress is where the follower keeps its place in the feed.
type Progress interface {
	FeedSequence(ctx context.Context) (int64, error)
	SetFeedSequence(ctx context.Context, seq int64) error
	EventIDs(ctx context.Context) ([]string, error)
}

// Follower follows the events feed.
type Follower struct {
	events   eventsv1.EventServiceClient
	apply    Applier
	progress Progress
	log      *slog.Logger

	// MinBackoff and MaxBackoff bound the wait before reconnecting.
	MinBackoff, MaxBackoff time.Duration
}

// New returns a Follower.
func New(events eventsv1.EventServiceClient, apply Applier, progress Progress, log *slog.Logger) *Follower {
	return &Follower{events: events, apply: apply, progress: progress, log: log,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second}
}

// Run follows the feed until ctx ends, reconnecting with exponential backoff
// whenever the stream breaks.
func (f *Follower) Run(ctx context.Context) {
	backoff := f.MinBackoff
	for ctx.Err() == nil {
		applied, err := f.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if status.Code(err) == codes.OutOfRange {
			f.log.Warn("events feed compacted past our position: re-listing the events", "err", err)
			if err = f.relist(ctx); err == nil {
				backoff = f.MinBackoff
				continue
			}
		}
		if applied > 0 {
			backoff = f.MinBackoff // the stream worked for a while: start over
		}
		f.log.Warn("events feed interrupted; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, f.MaxBackoff)
	}
}

// follow streams changes from the last applied one; it returns how many it
// applied when the stream ends.
func (f *Follower) follow(ctx context.Context) (int, error) {
	after, err := f.progress.FeedSequence(ctx)
	if err != nil {
		return 0, err
	}
	stream, err := f.events.WatchEventChanges(ctx, &eventsv1.WatchEventChangesRequest{AfterSequence: after})
	if err != nil {
		return 0, err
	}
	applied := 0
	for {
		ch, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("stream closed by the events service")
			}
			return applied, err
		}
		if err := f.apply.ApplyEventChange(ctx, ch); err != nil {
			return applied, fmt.Errorf("apply change %d: %w", ch.GetSequence(), err)
		}
		applied++
	}
}

// relist applies every event as it is now, and treats the events we keep a
// copy of that are gone as deleted; then the feed resumes from the list's
// change sequence.
func (f *Follower) relist(ctx context.Context) error {
	seen := map[string]bool{}
	var seq int64
	token := ""
	for first := true; first || token != ""; first = false {
		lctx, cancel := context.WithTimeout(ctx, callTimeout)
		resp, err := f.events.ListEvents(lctx, &eventsv1.ListEventsRequest{PageSize: 100, PageToken: token, OrderBy: "start_time"})
		cancel()
		if err != nil {
			return fmt.Errorf("list events: %w", err)
		}
		if first {
			seq = resp.GetChangeSequence()
		}
		for _, ev := range resp.GetEvents() {
			seen[ev.GetName()] = true
			if err := f.apply.ApplyEventSnapshot(ctx, ev, false); err != nil {
				return err
			}
		}
		token = resp.GetNextPageToken()
	}
	ids, err := f.progress.EventIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if seen["events/"+id] {
			continue
		}
		// Not in the list: make sure it is really gone (the list is paged,
		// and an event may have moved between pages).
		gctx, cancel := context.WithTimeout(ctx, callTimeout)
		_, err := f.events.GetEvent(gctx, &eventsv1.GetEventRequest{Name: "events/" + id})
		cancel()
		switch status.Code(err) {
		case codes.NotFound:
			if err := f.apply.ApplyEventSnapshot(ctx, &eventsv1.Event{Name: "events/" + id}, true); err != nil {
				return err
			}
		case codes.OK:
		default:
			return fmt.Errorf("get event %s: %w", id, err)
		}
	}
	// Changes after seq may already be in what was applied; applying them
	// again is harmless (the copies carry revisions), and none is missed.
	return f.progress.SetFeedSequence(ctx, seq)
}
