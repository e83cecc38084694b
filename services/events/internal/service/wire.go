package service

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/services/events/internal/store"
)

// GRPC returns the service as the gRPC server registers it: the same
// methods, but GetEvent and ListEvents answer with events encoded once per
// change and kind of caller instead of copying, redacting, translating and
// encoding every event on every call (see BENCHMARKS.md). In-process
// callers use the Service itself and get ordinary messages.
func (s *Service) GRPC() eventsv1.EventServiceServer { return wire{s} }

// wire answers reads with encodings kept in each event's index entry.
//
// The answer it returns is an empty message whose unknown fields hold the
// encoded fields: protobuf writes unknown fields as they are, so the
// bytes on the wire are exactly those of the ordinary answer, and a client
// decodes an ordinary message. Nothing in this process reads the answer
// after the handler (interceptors log its status, never its content).
type wire struct{ *Service }

// variant is what an encoding of an event depends on besides the event.
type variant struct {
	redacted bool   // online_meeting_url left out (the public)
	language string // the language of the text fields
}

// encoded returns e's event as the caller sees it, in the first of wanted
// languages it has, encoded.
func (s *Service) encoded(ctx context.Context, e *store.Entry, wanted []string) ([]byte, error) {
	v := variant{
		redacted: !seesDrafts(ctx) && e.Event.GetOnlineMeetingUrl() != "",
		language: chooseLanguage(e.Event, wanted),
	}
	if b, ok := e.Memo.Load(v); ok {
		return b.([]byte), nil
	}
	ev := proto.CloneOf(e.Event)
	if v.redacted {
		ev.OnlineMeetingUrl = ""
	}
	translate(ev, v.language)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.Event.GetName(), err)
	}
	// Two calls may encode the same variant at once; they agree, and the
	// first stored is kept. Shared by every answer from now on, so its
	// capacity is clipped: an append to one answer's unknown fields must
	// copy, never write into the spare room of this array.
	got, _ := e.Memo.LoadOrStore(v, slices.Clip(b))
	return got.([]byte), nil
}

// eventsField is the number of ListEventsResponse.events (a test checks it
// against the descriptor).
const eventsField protowire.Number = 1

// GetEvent implements EventServiceServer.
func (w wire) GetEvent(ctx context.Context, req *eventsv1.GetEventRequest) (*eventsv1.Event, error) {
	e, err := w.store.Lookup(ctx, parseName(req.GetName()))
	if err == nil && !visible(ctx, e.Event) {
		err = fmt.Errorf("event %q: %w", req.GetName(), errdefs.ErrNotFound) // a draft does not exist for the public
	}
	if err != nil {
		return nil, eventErr(err, req.GetName())
	}
	b, err := w.encoded(ctx, e, acceptedLanguages(ctx, req.GetLanguage()))
	if err != nil {
		return nil, err
	}
	out := &eventsv1.Event{}
	out.ProtoReflect().SetUnknown(b)
	return out, nil
}

// ListEvents implements EventServiceServer.
func (w wire) ListEvents(ctx context.Context, req *eventsv1.ListEventsRequest) (*eventsv1.ListEventsResponse, error) {
	resp, page, err := w.listPage(ctx, req)
	if err != nil {
		return nil, err
	}
	wanted := acceptedLanguages(ctx, req.GetLanguage())
	encs := make([][]byte, len(page))
	n := 0
	for i, e := range page {
		if encs[i], err = w.encoded(ctx, e, wanted); err != nil {
			return nil, err
		}
		n += protowire.SizeTag(eventsField) + protowire.SizeBytes(len(encs[i]))
	}
	rest, err := proto.Marshal(resp) // the fields besides the events
	if err != nil {
		return nil, fmt.Errorf("encode the list: %w", err)
	}
	b := make([]byte, 0, n+len(rest))
	for _, enc := range encs {
		b = protowire.AppendTag(b, eventsField, protowire.BytesType)
		b = protowire.AppendBytes(b, enc)
	}
	b = append(b, rest...)
	out := &eventsv1.ListEventsResponse{}
	out.ProtoReflect().SetUnknown(b)
	return out, nil
}
