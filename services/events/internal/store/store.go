// Package store defines where the events service keeps its events.
//
// Errors are the errdefs sentinels: ErrNotFound for an unknown id,
// ErrAlreadyExists for an id taken, and whatever an update function returns.
package store

import (
	"context"

	eventsv1 "convene.dev/gen/convene/events/v1"
)

// Store holds events by id (the last segment of their resource name).
type Store interface {
	// Get returns a copy of the event.
	Get(ctx context.Context, id string) (*eventsv1.Event, error)

	// List returns every event. The events are shared and read-only: the
	// caller must clone any event it changes or hands out.
	List(ctx context.Context) ([]*eventsv1.Event, error)

	// Create stores ev under id. When requestID is not empty and a previous
	// Create carried the same requestID, that call's event is returned with
	// created false and nothing is written.
	Create(ctx context.Context, id, requestID string, ev *eventsv1.Event) (stored *eventsv1.Event, created bool, err error)

	// Update reads the event, lets fn change it, and writes the result, in
	// one transaction. If fn returns an error nothing is written.
	Update(ctx context.Context, id string, fn func(*eventsv1.Event) error) (*eventsv1.Event, error)

	// Delete removes the event if check, given the stored event, returns nil.
	Delete(ctx context.Context, id string, check func(*eventsv1.Event) error) error

	// Close releases the store.
	Close() error
}
