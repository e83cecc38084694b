package main

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// skimCodec sends requests as protobuf and reads answers without decoding
// them, only checking that each is at least min bytes long: the load
// generator shares the machine with the servers, and decoding 50 events per
// answer would cost it more CPU than the server spends making them. Every
// measurement checks a first answer decoded in full.
type skimCodec struct {
	proto encoding.CodecV2
	min   int
}

func (c skimCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c skimCodec) Unmarshal(data mem.BufferSlice, _ any) error {
	if n := data.Len(); n < c.min {
		return fmt.Errorf("answer of %d bytes, want at least %d", n, c.min)
	}
	return nil
}

// Name keeps the content type application/grpc+proto.
func (skimCodec) Name() string { return proto.Name }

// skim returns the call option that reads answers of at least min bytes
// without decoding them; with decodeAll, answers are decoded as usual.
func skim(min int, decodeAll bool) []grpc.CallOption {
	if decodeAll {
		return nil
	}
	return []grpc.CallOption{grpc.ForceCodecV2(skimCodec{proto: encoding.GetCodecV2(proto.Name), min: min})}
}
