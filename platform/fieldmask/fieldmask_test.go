package fieldmask

import (
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	"convene.dev/platform/errdefs"
)

// errdetails.BadRequest serves as a test message: it has a repeated message
// field; ErrorInfo has strings and a map.
func TestApply(t *testing.T) {
	dst := &errdetails.ErrorInfo{Reason: "OLD", Domain: "keep", Metadata: map[string]string{"a": "1"}}
	src := &errdetails.ErrorInfo{Reason: "NEW", Domain: "ignored", Metadata: map[string]string{"b": "2"}}
	paths, err := Paths(dst, []string{"reason", "metadata"}, nil, []string{"domain"})
	if err != nil {
		t.Fatal(err)
	}
	Apply(dst, src, paths)
	want := &errdetails.ErrorInfo{Reason: "NEW", Domain: "keep", Metadata: map[string]string{"b": "2"}}
	if !proto.Equal(dst, want) {
		t.Errorf("got %v, want %v", dst, want)
	}
	src.Metadata["b"] = "changed"
	if dst.Metadata["b"] != "2" {
		t.Error("dst shares its map with src")
	}
	// A field unset in src is cleared.
	Apply(dst, &errdetails.ErrorInfo{}, []string{"reason"})
	if dst.Reason != "" {
		t.Errorf("reason = %q, want cleared", dst.Reason)
	}
}

func TestApplyNested(t *testing.T) {
	dst := &errdetails.Help{Links: []*errdetails.Help_Link{{Url: "a"}}}
	Apply(dst, &errdetails.Help{}, []string{"links"})
	if len(dst.Links) != 0 {
		t.Errorf("links = %v, want none", dst.Links)
	}
	q := &errdetails.QuotaFailure{}
	if _, err := Paths(q, []string{"violations.subject"}, nil, nil); err == nil {
		t.Error("a path through a repeated field was accepted")
	}
}

func TestPaths(t *testing.T) {
	msg := &errdetails.ErrorInfo{}
	writable := []string{"reason", "metadata"}
	tests := []struct {
		in      []string
		want    int
		wantErr bool
	}{
		{nil, 2, false},
		{[]string{"*"}, 2, false},
		{[]string{"reason"}, 1, false},
		{[]string{"nope"}, 0, true},
		{[]string{"domain"}, 0, true},
		{[]string{"reason", "*"}, 0, true},
	}
	for _, tt := range tests {
		got, err := Paths(msg, tt.in, writable, []string{"domain"})
		if (err != nil) != tt.wantErr {
			t.Errorf("Paths(%v) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Paths(%v) error %v is not INVALID_ARGUMENT", tt.in, err)
		}
		if err == nil && len(got) != tt.want {
			t.Errorf("Paths(%v) = %v, want %d paths", tt.in, got, tt.want)
		}
	}
}
