package service

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// TestAnswerFieldNumbers: the fields wire appends are the registration's.
func TestAnswerFieldNumbers(t *testing.T) {
	fields := (&registrationsv1.Registration{}).ProtoReflect().Descriptor().Fields()
	for name, n := range map[string]protowire.Number{"manage_secret": manageSecretField, "online_meeting_url": onlineMeetingURLField} {
		if f := fields.ByName(protoreflect.Name(name)); f == nil || protowire.Number(f.Number()) != n || f.Kind() != protoreflect.StringKind {
			t.Errorf("field %s is %v, want string number %d", name, f, n)
		}
	}
}

// TestEncodedAnswer: a client decodes the encoded answer as the registration
// itself, with and without a secret and a meeting URL.
func TestEncodedAnswer(t *testing.T) {
	base := &registrationsv1.Registration{
		Name:        "events/rcm-2026/registrations/22222223o3chhldo",
		Participant: &registrationsv1.Participant{GivenName: "Ana", FamilyName: "Pérez García", Email: "ana@example.org", CountryCode: "GT"},
		Category:    eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		State:       registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED,
		CreateTime:  timestamppb.Now(),
		Etag:        "1d85ff1c7f85f5ec",
	}
	for _, c := range []struct{ secret, url string }{{"", ""}, {"s3cr3t-of-forty-characters-or-so-0123456789", ""}, {"s3cr3t", "https://meet.example.org/rcm"}, {"", "https://meet.example.org/rcm"}} {
		record, err := proto.MarshalOptions{Deterministic: true}.Marshal(base)
		if err != nil {
			t.Fatal(err)
		}
		want := proto.CloneOf(base)
		want.ManageSecret, want.OnlineMeetingUrl = c.secret, c.url
		wire, err := proto.Marshal(encodedAnswer(want, record))
		if err != nil {
			t.Fatal(err)
		}
		got := &registrationsv1.Registration{}
		if err := proto.Unmarshal(wire, got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			t.Errorf("secret %q, url %q: decoded %v, want %v", c.secret, c.url, got, want)
		}
	}
}
