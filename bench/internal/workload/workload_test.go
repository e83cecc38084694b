package workload

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/ids"
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

// TestRequestIDs checks both kinds of request id: valid for the API, of
// their version, and the v7 ones in the order they were made.
func TestRequestIDs(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-([47])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	at := time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 1000 {
		for version, id := range map[string]string{"4": RequestID(), "7": RequestIDv7(at.Add(time.Duration(i) * time.Millisecond))} {
			m := form.FindStringSubmatch(id)
			if m == nil || m[1] != version {
				t.Fatalf("%q is not a version %s UUID", id, version)
			}
			req := &registrationsv1.CreateRegistrationRequest{Parent: "events/x", Registration: Registration("g", i, Mode(i)), RequestId: id}
			if err := v.Validate(req); err != nil {
				t.Fatalf("request id %s: %v", id, err)
			}
			if version == "7" {
				if id <= prev {
					t.Fatalf("v7 id %s made after %s sorts before it", id, prev)
				}
				prev = id
			}
		}
	}
	if got := RequestIDv7(at)[:13]; got != "01a219df-6300" { // 1795730400000 ms
		t.Errorf("v7 id of %s begins %s", at, got)
	}
}

// TestAddresses checks the e-mail addresses and telephone numbers against
// their format written the slow way.
func TestAddresses(t *testing.T) {
	for i := range 20000 {
		for _, tag := range []string{"g", "a", "w7"} {
			reg := Registration(tag, i, Mode(i))
			p := reg.GetParticipant()
			h := ids.Scramble(uint32(i))
			want := fmt.Sprintf("%s.%s.%s%08x@%s.example.org", ascii.Replace(strings.ToLower(p.GetGivenName())),
				ascii.Replace(strings.ToLower(p.GetFamilyName())), tag, h, strings.ToLower(p.GetCountryCode()))
			if p.GetEmail() != want {
				t.Fatalf("registration %d/%s: e-mail %q, want %q", i, tag, p.GetEmail(), want)
			}
			if want := fmt.Sprintf("+%d %04d %04d", 500+h%60, (h>>8)%10000, (h>>3)%10000); p.GetPhone() != want {
				t.Fatalf("registration %d: phone %q, want %q", i, p.GetPhone(), want)
			}
		}
	}
}

// TestAppendJSON: what AppendJSON writes is valid JSON that protojson reads
// back as the same registration, for every shape of participant the
// workload makes, and strings that need escaping come through unchanged.
func TestAppendJSON(t *testing.T) {
	check := func(reg *registrationsv1.Registration) {
		t.Helper()
		b := AppendJSON(nil, reg)
		if !json.Valid(b) {
			t.Fatalf("not JSON: %s", b)
		}
		var got registrationsv1.Registration
		if err := protojson.Unmarshal(b, &got); err != nil {
			t.Fatalf("protojson reads %s: %v", b, err)
		}
		if !proto.Equal(&got, reg) {
			t.Fatalf("read back %v\nfrom %s\nwant %v", &got, b, reg)
		}
	}
	for i := range 20000 {
		check(Registration("h", i, Mode(i)))
		check(Registration("h", i, 0))
	}
	odd := Registration("h", 1, Mode(1))
	odd.Participant.GivenName = "Zoë \"Zo\" O'Neil\\\t\x01\u2028 Ünïcødé 日本"
	odd.AccessibilityNeeds = "line one\nline two"
	check(odd)
	odd.Participant.Gender = 9 // a number the proto does not name
	check(odd)
	check(&registrationsv1.Registration{Category: 2}) // no participant
	check(&registrationsv1.Registration{})
	if got := string(appendString(nil, "a\xffb")); got != "\"a\uFFFDb\"" {
		t.Errorf("invalid UTF-8 written as %q", got)
	}
}
