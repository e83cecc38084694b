package grpcserver

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// codec is gRPC's protobuf codec, except for answers that a handler encoded
// ahead of time: a message that has no field set but holds unknown fields
// (a handler put the encoding of its answer there, see the events
// service's wire.go) is sent as those bytes, without copying them into a
// pooled buffer that gRPC zeroes first. Protobuf writes unknown fields as
// they are, so the bytes are the same either way; only the copy is saved.
//
// The bytes handed over must not change afterwards; mem.SliceBuffer is
// never returned to a pool.
type codec struct{ proto encoding.CodecV2 }

func newCodec() encoding.CodecV2 {
	return codec{proto: encoding.GetCodecV2("proto")}
}

func (c codec) Name() string { return c.proto.Name() }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(proto.Message); ok {
		if b := preEncoded(m.ProtoReflect()); b != nil {
			return mem.BufferSlice{mem.SliceBuffer(b)}, nil
		}
	}
	out, err := c.proto.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("grpcserver codec: %w", err)
	}
	return out, nil
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

// preEncoded returns m's unknown fields if m has nothing else.
func preEncoded(m protoreflect.Message) []byte {
	b := m.GetUnknown()
	if len(b) == 0 {
		return nil
	}
	known := false
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
		known = true
		return false
	})
	if known {
		return nil
	}
	return b
}
