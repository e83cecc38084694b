package main

import (
	"google.golang.org/protobuf/encoding/protojson"
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	protobuf "google.golang.org/protobuf/proto"

	"convene.dev/bench/internal/workload"
	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// BenchmarkCreateCall is the load generator's own work per create besides
// gRPC: making the registration, and reading the answer in full or only
// its state (what the measurements do after their first call).
func BenchmarkCreateCall(b *testing.B) {
	stored := workload.Stored(workload.Registration("t", 7, eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL), "e", 7)
	stored.ManageSecret = "0123456789abcdef0123456789abcdef0123456789ab"
	raw, err := protobuf.Marshal(stored)
	if err != nil {
		b.Fatal(err)
	}
	answer := mem.BufferSlice{mem.SliceBuffer(raw)}
	full := encoding.GetCodecV2(proto.Name)
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
	}{
		{"AnswerInFull", full},
		{"AnswerStateOnly", stateCodec{CodecV2: full, state: (&registrationsv1.Registration{}).ProtoReflect().Descriptor().Fields().ByName("state").Number()}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.codec.Unmarshal(answer, &registrationsv1.Registration{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Registration", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			workload.Registration("g", i, workload.Mode(i))
		}
	})
	// The body of a create through the gateway, both ways.
	reg := workload.Registration("h", 7, workload.Mode(7))
	b.Run("GatewayBodyProtojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := protojson.Marshal(reg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GatewayBodyAppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			workload.AppendJSON(make([]byte, 0, 512), reg)
		}
	})
}
