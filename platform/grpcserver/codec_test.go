package grpcserver

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

func TestCodecSendsPreEncodedAnswersAsTheyAre(t *testing.T) {
	c := newCodec()
	want := &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_SERVING}
	enc, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	pre := &grpc_health_v1.HealthCheckResponse{}
	pre.ProtoReflect().SetUnknown(enc)

	out, err := c.Marshal(pre)
	if err != nil {
		t.Fatal(err)
	}
	got := out.Materialize()
	if !bytes.Equal(got, enc) {
		t.Fatalf("pre-encoded answer sent as %x, want %x", got, enc)
	}
	if len(out) != 1 || &out[0].ReadOnlyData()[0] != &enc[0] {
		t.Error("the pre-encoded bytes were copied")
	}
	var back grpc_health_v1.HealthCheckResponse
	if err := c.Unmarshal(out, &back); err != nil || !proto.Equal(&back, want) {
		t.Fatalf("decoded %v, %v; want %v", &back, err, want)
	}

	// A message with a field set, and unknown fields besides, is encoded
	// whole, as protobuf does.
	mixed := &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_NOT_SERVING}
	mixed.ProtoReflect().SetUnknown(enc)
	out, err = c.Marshal(mixed)
	if err != nil {
		t.Fatal(err)
	}
	std, _ := proto.Marshal(mixed)
	if !bytes.Equal(out.Materialize(), std) {
		t.Fatalf("a mixed message was sent as %x, want %x", out.Materialize(), std)
	}
	if _, err := c.Marshal("not a message"); err == nil {
		t.Error("Marshal of a string succeeded")
	}
}

// BenchmarkPreEncoded is the check that every answer with unknown fields
// goes through: is there anything else in it?
func BenchmarkPreEncoded(b *testing.B) {
	enc, err := proto.Marshal(&grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_SERVING})
	if err != nil {
		b.Fatal(err)
	}
	pre := &grpc_health_v1.HealthCheckResponse{}
	pre.ProtoReflect().SetUnknown(enc)
	for b.Loop() {
		if preEncoded(pre) == nil {
			b.Fatal("not taken for pre-encoded")
		}
	}
}
