// Package bench_test holds benchmarks of the JSON mapping that the gateway
// does on every call: protojson, with the gateway's options (fields left out
// when empty), of a real event and of a registration.
package bench_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/services/events/demo"

	"convene.dev/bench/internal/workload"
)

// The gateway's marshaler options (gateway.New): absent, not empty.
var (
	marshal   = protojson.MarshalOptions{EmitUnpopulated: false}
	unmarshal = protojson.UnmarshalOptions{DiscardUnknown: false}
)

// biggestDemoEvent is the largest of the RCM's real events, as published.
func biggestDemoEvent(b *testing.B) *eventsv1.Event {
	b.Helper()
	events, err := demo.Events()
	if err != nil {
		b.Fatal(err)
	}
	var big *eventsv1.Event
	for _, ev := range events {
		if big == nil || proto.Size(ev) > proto.Size(big) {
			big = ev
		}
	}
	return big
}

func BenchmarkEventJSON(b *testing.B) {
	ev := biggestDemoEvent(b)
	js, err := marshal.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("event %s: %d bytes protobuf, %d bytes JSON", ev.GetName(), proto.Size(ev), len(js))
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			if _, err := marshal.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf-marshal", func(b *testing.B) { // the same event in binary, for scale
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page-of-50", func(b *testing.B) { // a ListEvents answer of 50 such events
		resp := &eventsv1.ListEventsResponse{TotalSize: 834, NextPageToken: "bmV4dA"}
		for range 50 {
			resp.Events = append(resp.Events, ev)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshal.Marshal(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRegistrationJSON(b *testing.B) {
	reg := workload.Stored(workload.Registration("j", 7, workload.Mode(7)), "bench", 7)
	reg.ManageSecret = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4"
	js, err := marshal.Marshal(reg)
	if err != nil {
		b.Fatal(err)
	}
	body, err := marshal.Marshal(workload.Registration("j", 8, workload.Mode(8)))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("marshal", func(b *testing.B) { // the gateway's answer to CreateRegistration
		b.ReportAllocs()
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			if _, err := marshal.Marshal(reg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) { // the gateway reading a CreateRegistration body
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var out registrationsv1.Registration
			if err := unmarshal.Unmarshal(body, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
