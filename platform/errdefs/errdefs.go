// Package errdefs defines the errors that Convene's layers return to each
// other and the one place where they become gRPC statuses (AIP-193).
//
// Stores and services return the sentinel errors below, wrapped with %w and
// optionally given a stable reason with WithReason; the gRPC server's
// interceptor calls ToGRPC once on the way out. Handlers never build statuses
// themselves.
package errdefs

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// Domain is the ErrorInfo domain of every Convene error.
const Domain = "convene.dev"

// The kinds of failure. Compare with errors.Is.
var (
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrAborted            = errors.New("aborted")
	ErrPermissionDenied   = errors.New("permission denied")
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrUnavailable        = errors.New("unavailable")
	ErrResourceExhausted  = errors.New("resource exhausted")
	ErrOutOfRange         = errors.New("out of range")
)

var kinds = []struct {
	err    error
	code   codes.Code
	reason string
}{
	{ErrInvalidArgument, codes.InvalidArgument, "INVALID_ARGUMENT"},
	{ErrNotFound, codes.NotFound, "NOT_FOUND"},
	{ErrAlreadyExists, codes.AlreadyExists, "ALREADY_EXISTS"},
	{ErrFailedPrecondition, codes.FailedPrecondition, "FAILED_PRECONDITION"},
	{ErrAborted, codes.Aborted, "ABORTED"},
	{ErrPermissionDenied, codes.PermissionDenied, "PERMISSION_DENIED"},
	{ErrUnauthenticated, codes.Unauthenticated, "UNAUTHENTICATED"},
	{ErrUnavailable, codes.Unavailable, "UNAVAILABLE"},
	{ErrResourceExhausted, codes.ResourceExhausted, "RESOURCE_EXHAUSTED"},
	{ErrOutOfRange, codes.OutOfRange, "OUT_OF_RANGE"},
}

// reasonError gives an error a stable UPPER_SNAKE reason and metadata for the
// ErrorInfo detail.
type reasonError struct {
	err      error
	reason   string
	metadata map[string]string
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

// WithReason attaches a stable reason (e.g. "EVENT_NOT_FOUND") and optional
// metadata key/value pairs to err.
func WithReason(err error, reason string, keyvals ...string) error {
	if err == nil {
		return nil
	}
	md := make(map[string]string, len(keyvals)/2)
	for i := 0; i+1 < len(keyvals); i += 2 {
		md[keyvals[i]] = keyvals[i+1]
	}
	return &reasonError{err: err, reason: reason, metadata: md}
}

// Newf returns an error of the given kind with a reason and a message; the
// message alone is what clients see.
func Newf(kind error, reason, format string, args ...any) error {
	return WithReason(&kindError{msg: fmt.Sprintf(format, args...), kind: kind}, reason)
}

// kindError is an error of a kind whose text is its message only.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// Reason returns the reason attached to err, or "".
func Reason(err error) string {
	var re *reasonError
	if errors.As(err, &re) {
		return re.reason
	}
	return ""
}

// FieldViolation names one invalid field of a request.
type FieldViolation struct {
	Field       string // the field path, e.g. "event.title"
	Description string
}

// ViolationsError is an INVALID_ARGUMENT error listing each bad field.
type ViolationsError struct {
	Violations []FieldViolation
}

func (e *ViolationsError) Error() string {
	if len(e.Violations) == 0 {
		return "invalid argument"
	}
	v := e.Violations[0]
	msg := fmt.Sprintf("invalid %s: %s", v.Field, v.Description)
	if n := len(e.Violations) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// Is makes errors.Is(err, ErrInvalidArgument) true.
func (e *ViolationsError) Is(target error) bool { return target == ErrInvalidArgument }

// Violation is a shorthand for a ViolationsError with one field.
func Violation(field, format string, args ...any) error {
	return &ViolationsError{Violations: []FieldViolation{{Field: field, Description: fmt.Sprintf(format, args...)}}}
}

// Violations collects field violations; Err returns nil when there are none.
type Violations []FieldViolation

// Add records a violation.
func (v *Violations) Add(field, format string, args ...any) {
	*v = append(*v, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Err returns the collected violations as an error, or nil.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	return &ViolationsError{Violations: v}
}

// ToGRPC converts err to a gRPC status error with an ErrorInfo detail and,
// for invalid arguments, a BadRequest detail. A status error passes through
// unchanged; an error of no known kind becomes INTERNAL without its text,
// so that internals never leak to clients.
func ToGRPC(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code, reason := codes.Internal, "INTERNAL"
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		code, reason = codes.DeadlineExceeded, "DEADLINE_EXCEEDED"
	case errors.Is(err, context.Canceled):
		code, reason = codes.Canceled, "CANCELLED"
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			code, reason = k.code, k.reason
			break
		}
	}
	msg := err.Error()
	if code == codes.Internal {
		msg = "internal error"
	}
	var md map[string]string
	var re *reasonError
	if errors.As(err, &re) {
		reason, md = re.reason, re.metadata
	}
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: md}}
	var ve *ViolationsError
	if errors.As(err, &ve) {
		br := &errdetails.BadRequest{}
		for _, v := range ve.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
				Field: v.Field, Description: v.Description,
			})
		}
		details = append(details, br)
	}
	withDetails, derr := st.WithDetails(details...)
	if derr != nil {
		return st.Err()
	}
	return withDetails.Err()
}

// FromGRPC turns a status received from another Convene service back into a
// wrapped sentinel, keeping its reason, so that it can travel through this
// service's layers and be mapped again by ToGRPC.
func FromGRPC(err error) error {
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return err
	}
	var kind error
	switch st.Code() {
	case codes.DeadlineExceeded, codes.Unavailable:
		kind = ErrUnavailable
	case codes.Canceled:
		kind = context.Canceled // our caller gave up; not an internal error
	default:
		for _, k := range kinds {
			if k.code == st.Code() {
				kind = k.err
			}
		}
	}
	if kind == nil {
		return fmt.Errorf("%s: %s", st.Code(), st.Message())
	}
	reason := ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	wrapped := fmt.Errorf("%s: %w", st.Message(), kind)
	if reason == "" {
		return wrapped
	}
	return WithReason(wrapped, reason)
}
