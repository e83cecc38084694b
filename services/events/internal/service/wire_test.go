package service_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	eventsv1 "convene.dev/gen/convene/events/v1"
)

// The gRPC face answers GetEvent and ListEvents with encodings kept per
// change; it must answer exactly what the Service itself answers, for every
// kind of caller, language and page, also after events change.
func TestEncodedAnswersEqualTheServicesOwn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var names []string
	for i := range 7 {
		ev := fullEvent()
		ev.Title = fmt.Sprintf("Workshop %d", i)
		switch i % 3 {
		case 0: // no link, no translation
			ev.OnlineMeetingUrl = ""
			ev.Translations = nil
		case 1: // written in Spanish, translated into English
			ev.DefaultLanguage = "es"
			ev.Translations = map[string]*eventsv1.LocalizedText{"en": {Title: fmt.Sprintf("Workshop %d (en)", i)}}
		}
		created := e.create(t, fmt.Sprintf("wire-%d", i), ev)
		if i != 6 { // one draft, which only organizers see
			e.publish(t, created.GetName())
		}
		names = append(names, created.GetName())
	}

	languages := []struct {
		field, header string
	}{{}, {field: "es"}, {field: "en"}, {field: "fr"}, {header: "es-MX,es;q=0.9"}, {header: "fr, en;q=0.5"}}
	callers := []struct {
		name          string
		got, want     eventsv1.EventServiceClient
		draftsVisible bool
	}{
		{"organizer", e.client, e.plain, true},
		{"public", e.public, e.plainPublic, false},
	}
	check := func(round string) {
		t.Helper()
		for _, c := range callers {
			for _, l := range languages {
				cctx := ctx
				if l.header != "" {
					cctx = metadata.AppendToOutgoingContext(ctx, "accept-language", l.header)
				}
				what := fmt.Sprintf("%s, %s, language %q, Accept-Language %q", round, c.name, l.field, l.header)
				for _, name := range names {
					got, gerr := c.got.GetEvent(cctx, &eventsv1.GetEventRequest{Name: name, Language: l.field})
					want, werr := c.want.GetEvent(cctx, &eventsv1.GetEventRequest{Name: name, Language: l.field})
					if fmt.Sprint(gerr) != fmt.Sprint(werr) || !proto.Equal(got, want) {
						t.Fatalf("%s: GetEvent(%s) = %v, %v; the service says %v, %v", what, name, got, gerr, want, werr)
					}
				}
				token, pages, seen := "", 0, 0
				for {
					req := &eventsv1.ListEventsRequest{PageSize: 2, PageToken: token, Language: l.field, OrderBy: "title desc"}
					got, gerr := c.got.ListEvents(cctx, req)
					want, werr := c.want.ListEvents(cctx, req)
					if gerr != nil || werr != nil || !proto.Equal(got, want) {
						t.Fatalf("%s: ListEvents page %d = %v, %v; the service says %v, %v", what, pages, got, gerr, want, werr)
					}
					if len(got.ProtoReflect().GetUnknown()) != 0 {
						t.Fatalf("%s: the client decoded unknown fields", what)
					}
					seen += len(got.GetEvents())
					pages++
					if token = got.GetNextPageToken(); token == "" {
						break
					}
				}
				if want := 6 + map[bool]int{true: 1}[c.draftsVisible]; seen != want {
					t.Fatalf("%s: listed %d events, want %d", what, seen, want)
				}
			}
		}
	}
	check("first reads")
	check("the same again, from the encodings")
	e.cancel(t, names[1], "postponed")
	if _, err := e.client.UpdateEvent(ctx, &eventsv1.UpdateEventRequest{Event: &eventsv1.Event{Name: names[2], Title: "Renamed"}}); err != nil {
		t.Fatal(err)
	}
	check("after a cancel and an update")
}

func TestEventsFieldNumber(t *testing.T) {
	fd := (&eventsv1.ListEventsResponse{}).ProtoReflect().Descriptor().Fields().ByName("events")
	if fd.Number() != 1 || fd.Cardinality() != protoreflect.Repeated {
		t.Fatalf("ListEventsResponse.events is %d (%v); wire.go writes it as 1", fd.Number(), fd.Cardinality())
	}
}
