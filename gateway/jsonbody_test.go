package gateway

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// TestBodyJSON: the one-pass decoder fills what JSONPb's fills, for a whole
// request (body: "*") and for one message field (body: "registration"),
// and keeps its answers for an empty body and for other targets.
func TestBodyJSON(t *testing.T) {
	m := bodyJSON{&runtime.JSONPb{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false}}}
	const reg = `{"participant": {"givenName": "Ana", "familyName": "Pérez", "email": "ana@example.org", "countryCode": "GT"}, "category": "PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE"}`

	var field, viaJSONPb registrationsv1.CreateRegistrationRequest
	if err := m.NewDecoder(strings.NewReader(reg)).Decode(&field.Registration); err != nil {
		t.Fatal(err)
	}
	if err := m.JSONPb.NewDecoder(strings.NewReader(reg)).Decode(&viaJSONPb.Registration); err != nil {
		t.Fatal(err)
	}
	if got, want := protojson.Format(&field), protojson.Format(&viaJSONPb); got != want {
		t.Errorf("field decoded as %s, JSONPb makes %s", got, want)
	}

	var whole registrationsv1.CancelRegistrationRequest
	if err := m.NewDecoder(strings.NewReader(`{"name": "events/x/registrations/1", "reason": "ill"}`)).Decode(&whole); err != nil {
		t.Fatal(err)
	}
	if whole.GetName() != "events/x/registrations/1" {
		t.Errorf("whole request decoded as %v", &whole)
	}

	var empty registrationsv1.CreateRegistrationRequest
	if err := m.NewDecoder(strings.NewReader(" \n")).Decode(&empty.Registration); !errors.Is(err, io.EOF) || empty.Registration == nil {
		t.Errorf("empty body: %v (registration %v), want io.EOF and an empty registration, as JSONPb", err, empty.Registration)
	}

	for _, bad := range []string{`{"participant": `, `{"nosuchField": 1}`, `{"participant": {}} trailing`} {
		var r registrationsv1.CreateRegistrationRequest
		if err := m.NewDecoder(strings.NewReader(bad)).Decode(&r.Registration); err == nil {
			t.Errorf("%q decoded without an error", bad)
		}
	}

	var other map[string]any // not a message: JSONPb's decoder
	if err := m.NewDecoder(strings.NewReader(`{"a": 1}`)).Decode(&other); err != nil || other["a"] != 1.0 {
		t.Errorf("a map decoded as %v, %v", other, err)
	}
}

// BenchmarkBodyJSON decodes a registration's body as the generated
// CreateRegistration handler does, with JSONPb's decoder and with bodyJSON's.
func BenchmarkBodyJSON(b *testing.B) {
	const reg = `{"participant": {"givenName": "Ana", "familyName": "Pérez", "email": "ana@example.org", "countryCode": "GT", "organization": "Ministerio de Relaciones Exteriores", "jobTitle": "Directora"}, "category": "PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE", "attendanceMode": "ATTENDANCE_MODE_IN_PERSON", "accessibilityNeeds": "none"}`
	jsonpb := &runtime.JSONPb{}
	for name, m := range map[string]runtime.Marshaler{"JSONPb": jsonpb, "bodyJSON": bodyJSON{jsonpb}} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r registrationsv1.CreateRegistrationRequest
				if err := m.NewDecoder(strings.NewReader(reg)).Decode(&r.Registration); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
