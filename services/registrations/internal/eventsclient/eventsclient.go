// Package eventsclient is the registrations service's view of the events
// service: the one call it makes, over gRPC, with a deadline.
package eventsclient

import (
	"context"
	"time"

	"google.golang.org/grpc"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
)

// Timeout bounds every call to the events service. Calls wait for the
// connection to be ready within it (so that a start-up of both services
// side by side does not fail the first calls), and fail within it when
// the events service is down.
const Timeout = 1500 * time.Millisecond

// Client gets events from the events service.
type Client struct {
	events eventsv1.EventServiceClient
}

// New returns a Client over conn.
func New(conn grpc.ClientConnInterface) *Client {
	return &Client{events: eventsv1.NewEventServiceClient(conn)}
}

// GetEvent returns the event, or an errdefs error: ErrNotFound (with the
// events service's reason) or ErrUnavailable when the service cannot answer.
func (c *Client) GetEvent(ctx context.Context, name string) (*eventsv1.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	ev, err := c.events.GetEvent(ctx, &eventsv1.GetEventRequest{Name: name}, grpc.WaitForReady(true))
	if err != nil {
		return nil, errdefs.FromGRPC(err)
	}
	return ev, nil
}
