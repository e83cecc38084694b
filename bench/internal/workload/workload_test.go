package workload

import (
	"testing"

	"buf.build/go/protovalidate"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// TestRegistrationsAreValid checks that what the benchmark sends passes the
// API's own validation rules.
func TestRegistrationsAreValid(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		req := &registrationsv1.CreateRegistrationRequest{Parent: "events/x", Registration: Registration("g", i, Mode(i)), RequestId: RequestID()}
		if err := v.Validate(req); err != nil {
			t.Fatalf("registration %d (%s): %v", i, req.GetRegistration().GetParticipant().GetEmail(), err)
		}
	}
}
