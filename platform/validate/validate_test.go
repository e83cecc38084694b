package validate

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
)

func fields(t *testing.T, err error) []string {
	t.Helper()
	var ve *errdefs.ViolationsError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a ViolationsError", err)
	}
	var out []string
	for _, v := range ve.Violations {
		out = append(out, v.Field)
	}
	return out
}

func TestFieldPaths(t *testing.T) {
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ev := &eventsv1.Event{
		Title:     "ok",
		Topics:    []string{"fine", ""},
		Languages: []string{"EN"},
		StartTime: &timestamppb.Timestamp{Seconds: 2000},
		EndTime:   &timestamppb.Timestamp{Seconds: 1000},
		RegistrationPolicy: &eventsv1.RegistrationPolicy{
			AllowedCategories: []eventsv1.ParticipantCategory{0},
		},
	}
	got := fields(t, v.Validate(ev, "event"))
	for _, want := range []string{
		"event.topics[1]", "event.languages[0]", "event.end_time",
		"event.registration_policy.allowed_categories[0]",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("violations %v lack %s", got, want)
		}
	}
	if err := v.Validate(&eventsv1.Event{Title: "fine"}, ""); err != nil {
		t.Errorf("a valid event: %v", err)
	}
}
