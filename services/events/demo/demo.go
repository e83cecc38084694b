// Package demo holds the Regional Conference on Migration's real events (from
// its public events page) as demo data, and loads them into the service.
package demo

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/validate"
)

//go:embed rcm-events.json
var data []byte

// Events returns the demo events, as published events to create.
func Events() ([]*eventsv1.Event, error) {
	var file struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("demo data: %w", err)
	}
	out := make([]*eventsv1.Event, 0, len(file.Events))
	for i, raw := range file.Events {
		ev := &eventsv1.Event{}
		if err := protojson.Unmarshal(raw, ev); err != nil {
			return nil, fmt.Errorf("demo event %d: %w", i, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// Load creates and publishes every demo event that does not exist yet, and
// returns how many it added. Loading twice adds nothing the second time.
func Load(ctx context.Context, svc eventsv1.EventServiceServer, v *validate.Validator) (int, error) {
	events, err := Events()
	if err != nil {
		return 0, err
	}
	added := 0
	for _, ev := range events {
		_, err := svc.GetEvent(ctx, &eventsv1.GetEventRequest{Name: ev.GetName()})
		if err == nil {
			continue
		}
		if !errors.Is(err, errdefs.ErrNotFound) {
			return added, err
		}
		req := &eventsv1.CreateEventRequest{Event: ev, EventId: strings.TrimPrefix(ev.GetName(), "events/")}
		if err := v.Validate(req, ""); err != nil {
			return added, fmt.Errorf("demo event %s: %w", ev.GetName(), err)
		}
		if _, err := svc.CreateEvent(ctx, req); err != nil {
			return added, fmt.Errorf("demo event %s: %w", ev.GetName(), err)
		}
		if _, err := svc.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: ev.GetName()}); err != nil {
			return added, fmt.Errorf("publish demo event %s: %w", ev.GetName(), err)
		}
		added++
	}
	return added, nil
}
