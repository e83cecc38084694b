// Package validate checks requests against the rules declared in the protos
// (buf.validate options, enforced by protovalidate) and reports failures as
// errdefs field violations, which become one BadRequest detail.
package validate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"convene.dev/platform/errdefs"
)

// Validator validates protobuf messages.
type Validator struct {
	v protovalidate.Validator
}

// New returns a Validator. Rules are compiled lazily, once per message type.
func New() (*Validator, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("protovalidate: %w", err)
	}
	return &Validator{v: v}, nil
}

// Validate checks msg. Field paths in the violations are prefixed with
// prefix (e.g. "event") when it is not empty.
//
// A message-level CEL rule has no field of its own; by our convention its id
// starts with the field it is about ("end_time.after_start"), and that field
// is named in the violation.
func (v *Validator) Validate(msg proto.Message, prefix string) error {
	err := v.v.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("validate %s: %w", msg.ProtoReflect().Descriptor().FullName(), err)
	}
	var out errdefs.Violations
	for _, violation := range verr.Violations {
		p := violation.Proto
		field := protovalidate.FieldPathString(p.GetField())
		if violation.FieldDescriptor == nil && isMessageRule(p) {
			if name, _, ok := strings.Cut(p.GetRuleId(), "."); ok {
				field = join(field, name)
			}
		}
		msg := p.GetMessage()
		if msg == "" {
			msg = p.GetRuleId()
		}
		out.Add(join(prefix, field), "%s", msg)
	}
	return out.Err()
}

// isMessageRule tells a message-level CEL rule (option (buf.validate.message).cel)
// from a rule on a list item or map key, which has no field descriptor either.
func isMessageRule(v *validatepb.Violation) bool {
	els := v.GetRule().GetElements()
	return len(els) == 0 || els[0].GetFieldName() == "cel"
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}

// UnaryServerInterceptor validates every request before its handler runs.
func (v *Validator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if m, ok := req.(proto.Message); ok {
			if err := v.Validate(m, ""); err != nil {
				return nil, err
			}
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor validates the first message of every stream.
func (v *Validator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &validatingStream{ServerStream: ss, v: v})
	}
}

type validatingStream struct {
	grpc.ServerStream
	v *Validator
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		if err := s.v.Validate(pm, ""); err != nil {
			return errdefs.ToGRPC(err)
		}
	}
	return nil
}
