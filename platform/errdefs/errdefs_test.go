package errdefs

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func details(err error) (*errdetails.ErrorInfo, *errdetails.BadRequest) {
	var info *errdetails.ErrorInfo
	var br *errdetails.BadRequest
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.BadRequest:
			br = d
		}
	}
	return info, br
}

func TestToGRPC(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantCode   codes.Code
		wantReason string
		wantMsg    string
	}{
		{"not found wrapped", fmt.Errorf("event %q: %w", "x", ErrNotFound), codes.NotFound, "NOT_FOUND", `event "x": not found`},
		{"with reason", WithReason(fmt.Errorf("x: %w", ErrAlreadyExists), "EVENT_ALREADY_EXISTS"), codes.AlreadyExists, "EVENT_ALREADY_EXISTS", "x: already exists"},
		{"newf", Newf(ErrFailedPrecondition, "EVENT_FULL", "no seat left in %s", "events/a"), codes.FailedPrecondition, "EVENT_FULL", "no seat left in events/a"},
		{"wrapped twice keeps reason", fmt.Errorf("outer: %w", Newf(ErrAborted, "ETAG_MISMATCH", "stale")), codes.Aborted, "ETAG_MISMATCH", "outer: stale"},
		{"unknown error hides its text", errors.New("disk on fire at /var/secret"), codes.Internal, "INTERNAL", "internal error"},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "DEADLINE_EXCEEDED", "x: context deadline exceeded"},
		{"unavailable", fmt.Errorf("events: %w", ErrUnavailable), codes.Unavailable, "UNAVAILABLE", "events: unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ToGRPC(tt.err)
			st := status.Convert(got)
			if st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
				t.Errorf("ToGRPC = %v %q, want %v %q", st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
			}
			info, _ := details(got)
			if info.GetReason() != tt.wantReason || info.GetDomain() != Domain {
				t.Errorf("ErrorInfo = %v, want reason %s domain %s", info, tt.wantReason, Domain)
			}
		})
	}
	if ToGRPC(nil) != nil {
		t.Error("ToGRPC(nil) != nil")
	}
	already := status.Error(codes.PermissionDenied, "no")
	if ToGRPC(already) != already {
		t.Error("a status error was not passed through")
	}
}

func TestViolations(t *testing.T) {
	var v Violations
	if v.Err() != nil {
		t.Fatal("no violations must be no error")
	}
	v.Add("event.title", "required")
	v.Add("event.end_time", "must be after %s", "start_time")
	err := v.Err()
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("%v is not INVALID_ARGUMENT", err)
	}
	got := ToGRPC(fmt.Errorf("create: %w", err))
	if status.Code(got) != codes.InvalidArgument {
		t.Fatalf("code = %v", status.Code(got))
	}
	_, br := details(got)
	if len(br.GetFieldViolations()) != 2 || br.GetFieldViolations()[1].GetField() != "event.end_time" ||
		br.GetFieldViolations()[1].GetDescription() != "must be after start_time" {
		t.Errorf("BadRequest = %v", br)
	}
}

func TestFromGRPCRoundTrip(t *testing.T) {
	sent := ToGRPC(Newf(ErrNotFound, "EVENT_NOT_FOUND", "event x does not exist"))
	back := FromGRPC(sent)
	if !errors.Is(back, ErrNotFound) || Reason(back) != "EVENT_NOT_FOUND" {
		t.Errorf("FromGRPC = %v (reason %q)", back, Reason(back))
	}
	for _, c := range []codes.Code{codes.Unavailable, codes.DeadlineExceeded} {
		if err := FromGRPC(status.Error(c, "down")); !errors.Is(err, ErrUnavailable) {
			t.Errorf("FromGRPC(%v) = %v, want ErrUnavailable", c, err)
		}
	}
	if err := FromGRPC(status.Error(codes.DataLoss, "?")); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("FromGRPC(DataLoss) = %v", err)
	}
	plain := errors.New("plain")
	if FromGRPC(plain) != plain {
		t.Error("a non-status error must pass through")
	}
}

func TestFromGRPCCanceled(t *testing.T) {
	err := FromGRPC(status.Error(codes.Canceled, "gone"))
	if !errors.Is(err, context.Canceled) || status.Code(ToGRPC(err)) != codes.Canceled {
		t.Errorf("FromGRPC(Canceled) = %v → %v", err, ToGRPC(err))
	}
}
