package service

import (
	"context"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// GRPC returns the service as the gRPC server registers it: the same
// methods, but CreateRegistration answers with the registration's record as
// the store encoded it, the fields the store does not keep appended,
// instead of encoding the registration a second time (~1 µs of a create's
// CPU, BENCHMARKS.md, tenth round). In-process callers use the Service
// itself and get ordinary messages.
func (s *Service) GRPC() registrationsv1.RegistrationServiceServer { return wire{s} }

// wire answers a create with encoded bytes: an empty message whose unknown
// fields hold them, which the server's codec sends as they are
// (platform/grpcserver), so that a client decodes the ordinary answer.
// Nothing in this process reads the answer after the handler (interceptors
// log its status, never its content).
type wire struct{ *Service }

// The fields of a created registration's answer that its stored record
// lacks (TestAnswerFieldNumbers checks them against the descriptor).
const (
	manageSecretField     protowire.Number = 13
	onlineMeetingURLField protowire.Number = 14
)

func (w wire) CreateRegistration(ctx context.Context, req *registrationsv1.CreateRegistrationRequest) (*registrationsv1.Registration, error) {
	reg, record, err := w.createRegistration(ctx, req)
	if err != nil || record == nil {
		return reg, err
	}
	return encodedAnswer(reg, record), nil
}

// encodedAnswer is reg as an answer made of record, reg's encoding as the
// store wrote it (reg then had neither a manage secret nor a meeting URL:
// only the answer carries them), and those two fields, appended to it —
// in the room the store left after it, or in a new array when it is short.
func encodedAnswer(reg *registrationsv1.Registration, record []byte) *registrationsv1.Registration {
	secret, url := reg.GetManageSecret(), reg.GetOnlineMeetingUrl()
	b := slices.Grow(record, protowire.SizeTag(manageSecretField)+protowire.SizeBytes(len(secret))+
		protowire.SizeTag(onlineMeetingURLField)+protowire.SizeBytes(len(url)))
	if secret != "" {
		b = protowire.AppendTag(b, manageSecretField, protowire.BytesType)
		b = protowire.AppendString(b, secret)
	}
	if url != "" {
		b = protowire.AppendTag(b, onlineMeetingURLField, protowire.BytesType)
		b = protowire.AppendString(b, url)
	}
	out := &registrationsv1.Registration{}
	out.ProtoReflect().SetUnknown(b)
	return out
}
