package main

import (
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
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

// stateCodec reads, of a created registration, only its state: the load
// generator counts the creates that were waitlisted, and decoding the whole
// registration cost it 1–2 µs a call (BenchmarkCreateCall; ~2 µs in the
// profile of a run), CPU that the servers on the same machine then lack.
// The create made before the measurements (call 0) is decoded in full.
type stateCodec struct {
	encoding.CodecV2 // protobuf's: Marshal, Name, and answers of other types
	state            protowire.Number
}

func (c stateCodec) Unmarshal(data mem.BufferSlice, v any) error {
	reg, ok := v.(*registrationsv1.Registration)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData()
	} else {
		b = data.Materialize()
	}
	found := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("reading a registration: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == c.state && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return fmt.Errorf("reading a registration's state: %w", protowire.ParseError(m))
			}
			reg.State, found = registrationsv1.RegistrationState(v), true
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return fmt.Errorf("reading a registration: %w", protowire.ParseError(m))
		}
		b = b[m:]
	}
	if !found {
		return errors.New("a created registration without a state")
	}
	return nil
}

// stateOnly returns the call option that reads only a created
// registration's state; with decodeAll, answers are decoded as usual.
func stateOnly(decodeAll bool) []grpc.CallOption {
	if decodeAll {
		return nil
	}
	state := (&registrationsv1.Registration{}).ProtoReflect().Descriptor().Fields().ByName("state").Number()
	return []grpc.CallOption{grpc.ForceCodecV2(stateCodec{CodecV2: encoding.GetCodecV2(proto.Name), state: state})}
}

// forCall returns the options of create call i: none for call 0, the
// create made before the measurements, whose answer is decoded in full.
func forCall(opts []grpc.CallOption, i int64) []grpc.CallOption {
	if i == 0 {
		return nil
	}
	return opts
}
