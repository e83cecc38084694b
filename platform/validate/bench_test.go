package validate

import (
	"testing"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// BenchmarkCreateRegistrationRequest is the validation every create pays:
// the request as the load generator of `make bench` sends it.
func BenchmarkCreateRegistrationRequest(b *testing.B) {
	v, err := New()
	if err != nil {
		b.Fatal(err)
	}
	req := &registrationsv1.CreateRegistrationRequest{
		Parent:    "events/rcm-vice-ministerial-2026",
		RequestId: "00000000-0000-4000-8000-00000000002a",
		Registration: &registrationsv1.Registration{
			Participant: &registrationsv1.Participant{
				GivenName:         "María José",
				FamilyName:        "Pérez García",
				Email:             "maria.jose.perez.9e3779b1@migracion.example.org",
				Phone:             "+502 2411 2411",
				Organization:      "Dirección General de Migración y Extranjería",
				JobTitle:          "Jefa de Departamento de Asuntos Migratorios",
				CountryCode:       "GT",
				Gender:            registrationsv1.Gender_GENDER_FEMALE,
				PreferredLanguage: "es",
			},
			Category:       eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
			AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL,
		},
	}
	if err := v.Validate(req, ""); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(req, ""); err != nil {
			b.Fatal(err)
		}
	}
}
