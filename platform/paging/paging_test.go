package paging

import (
	"errors"
	"testing"

	"convene.dev/platform/errdefs"
)

func TestSize(t *testing.T) {
	tests := []struct {
		in      int32
		want    int
		wantErr bool
	}{
		{0, Default, false}, {1, 1, false}, {100, 100, false}, {101, Max, false}, {-1, 0, true},
	}
	for _, tt := range tests {
		got, err := Size(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Size(%d) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Size(%d) error %v is not INVALID_ARGUMENT", tt.in, err)
		}
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tok := Encode("kind = WORKSHOP|start_time desc", "key\x00with/odd+bytes")
	got, err := Decode(tok, "kind = WORKSHOP|start_time desc")
	if err != nil || got != "key\x00with/odd+bytes" {
		t.Fatalf("Decode = %q, %v", got, err)
	}
	for _, c := range []byte(tok) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			t.Fatalf("token %q is not URL-safe", tok)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode("q1", "k")
	for name, tok := range map[string]string{
		"garbage":     "!!!",
		"not json":    "aGVsbG8",
		"other query": good,
		"empty key":   Encode("q2", ""),
	} {
		if _, err := Decode(tok, "q2"); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: Decode error = %v, want INVALID_ARGUMENT", name, err)
		}
	}
	if got, err := Decode("", "q"); err != nil || got != "" {
		t.Errorf("empty token: %q, %v", got, err)
	}
}
