package gateway

import (
	"bytes"
	"io"
	"reflect"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
)

// bodyJSON is grpc-gateway's JSON marshaler with a decoder that parses a
// request body once. JSONPb's decoder first copies the body's JSON value
// out with encoding/json and then parses that copy with protojson: two
// passes, a tenth of the gateway's CPU on a registration (BENCHMARKS.md).
// This one reads the body (already bounded by limitBody) and hands it to
// protojson, for the request message (body: "*") or one message field of it
// (body: "registration"); anything else goes to JSONPb's decoder.
type bodyJSON struct{ *runtime.JSONPb }

func (m bodyJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		msg, ok := v.(proto.Message)
		if !ok {
			field := reflect.ValueOf(v) // a pointer to a message field?
			if field.Kind() != reflect.Pointer || field.Elem().Kind() != reflect.Pointer || !field.Elem().Type().Implements(reflect.TypeFor[proto.Message]()) {
				return m.JSONPb.NewDecoder(r).Decode(v)
			}
			if field.Elem().IsNil() {
				field.Elem().Set(reflect.New(field.Elem().Type().Elem()))
			}
			msg = field.Elem().Interface().(proto.Message)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return io.EOF // no body: the generated handlers go on with an empty message
		}
		return m.UnmarshalOptions.Unmarshal(b, msg)
	})
}
