package main

import (
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"convene.dev/bench/internal/workload"
	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// TestStateCodec checks that the create's skimming codec reads the state of
// a registration however its bytes are split, and refuses an answer that
// has none or is not protobuf.
func TestStateCodec(t *testing.T) {
	codec := stateOnly(false)
	if len(codec) != 1 {
		t.Fatalf("stateOnly(false) gave %d call options, want 1", len(codec))
	}
	if got := stateOnly(true); got != nil {
		t.Fatalf("stateOnly(true) = %v, want no options (decode in full)", got)
	}
	if forCall(codec, 0) != nil || len(forCall(codec, 5)) != 1 {
		t.Fatalf("forCall: call 0 must be decoded in full, later calls skimmed")
	}
	c := stateCodec{state: (&registrationsv1.Registration{}).ProtoReflect().Descriptor().Fields().ByName("state").Number()}
	stored := workload.Stored(workload.Registration("t", 7, eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL), "e", 7)
	for _, state := range []registrationsv1.RegistrationState{
		registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED,
		registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED,
	} {
		stored.State = state
		b, err := proto.Marshal(stored)
		if err != nil {
			t.Fatal(err)
		}
		for _, split := range []int{len(b), 1, len(b) / 2} { // one buffer, and two
			data := mem.BufferSlice{mem.SliceBuffer(b[:split])}
			if split < len(b) {
				data = append(data, mem.SliceBuffer(b[split:]))
			}
			got := &registrationsv1.Registration{}
			if err := c.Unmarshal(data, got); err != nil {
				t.Fatalf("state %s, split at %d: %v", state, split, err)
			}
			if got.GetState() != state {
				t.Fatalf("split at %d: read state %s, want %s", split, got.GetState(), state)
			}
		}
	}
	stored.State = registrationsv1.RegistrationState_REGISTRATION_STATE_UNSPECIFIED // not encoded at all
	b, _ := proto.Marshal(stored)
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &registrationsv1.Registration{}); err == nil {
		t.Error("an answer without a state was accepted")
	}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x50, 'x'})}, &registrationsv1.Registration{}); err == nil {
		t.Error("a truncated answer was accepted")
	}
}
