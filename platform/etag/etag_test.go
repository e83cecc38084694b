package etag

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

func sampleEvent() *eventsv1.Event {
	return &eventsv1.Event{
		Name:      "events/labor-workshop-2027",
		Title:     "Taller sobre migración laboral",
		Kind:      eventsv1.EventKind_EVENT_KIND_WORKSHOP,
		Languages: []string{"es", "en"},
		StartTime: &timestamppb.Timestamp{Seconds: 1811329200},
		Revision:  7,
		Etag:      "0123456789abcdef",
		Language:  "es",
	}
}

func sampleRegistration() *registrationsv1.Registration {
	return &registrationsv1.Registration{
		Name:               "events/labor-workshop-2027/registrations/000000000001",
		Category:           eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		NeedsVisaLetter:    true,
		AccessibilityNeeds: "wheelchair access",
		CreateTime:         &timestamppb.Timestamp{Seconds: 1795000000, Nanos: 123},
		Etag:               "fedcba9876543210",
		Participant: &registrationsv1.Participant{
			GivenName: "Ana", FamilyName: "Pérez", Email: "ana@example.org", CountryCode: "GT",
		},
	}
}

// ofClone is how Of was computed before (and how it is defined): clear
// the view fields of a copy, encode it, hash it.
func ofClone(m proto.Message) string {
	c := proto.Clone(m)
	r := c.ProtoReflect()
	for _, name := range viewFields {
		if fd := r.Descriptor().Fields().ByName(name); fd != nil {
			r.Clear(fd)
		}
	}
	b, _ := marshal.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Of drops the view fields from the encoding instead of clearing them on a
// copy: both must give the same etag, or every stored etag would change.
func TestOfMatchesClearingACopy(t *testing.T) {
	withUnknown := sampleRegistration()
	withUnknown.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 99, protowire.BytesType), "from a newer schema"))
	cases := map[string]proto.Message{
		"event":                          sampleEvent(),
		"event without etag or language": func() proto.Message { e := sampleEvent(); e.Etag, e.Language = "", ""; return e }(),
		"empty event":                    &eventsv1.Event{},
		"registration":                   sampleRegistration(),
		"registration, unknown fields":   withUnknown,
		"message without view fields":    wrapperspb.String("etag"),
	}
	for name, m := range cases {
		before := proto.Clone(m)
		if got, want := Of(m), ofClone(m); got != want {
			t.Errorf("%s: Of = %s, clearing a copy gives %s", name, got, want)
		}
		if !proto.Equal(m, before) {
			t.Errorf("%s: Of changed its argument", name)
		}
	}
}

// The etags stored with every resource were made this way: a change to how
// Of encodes (options, field order) would make them all stale.
func TestOfIsStable(t *testing.T) {
	if got := Of(sampleRegistration()); got != "962574680a588b95" {
		t.Errorf("registration etag = %s, want 962574680a588b95", got)
	}
	if got := Of(sampleEvent()); got != "a79fdd625b12bf60" {
		t.Errorf("event etag = %s, want a79fdd625b12bf60", got)
	}
}

func TestOfIgnoresOnlyViewFields(t *testing.T) {
	base := Of(sampleEvent())
	e := sampleEvent()
	e.Etag, e.Language = "something else", "en"
	if got := Of(e); got != base {
		t.Errorf("changing etag and language changed the etag: %s → %s", base, got)
	}
	e.Revision++ // the field between etag (28) and language (30) is content
	if got := Of(e); got == base {
		t.Errorf("changing the revision kept the etag %s", got)
	}
	r := sampleRegistration()
	r2 := sampleRegistration()
	r2.Participant.Email = "ana.perez@example.org"
	if Of(r) == Of(r2) {
		t.Errorf("a nested change kept the etag")
	}
}

func BenchmarkOf(b *testing.B) {
	r := sampleRegistration()
	b.ReportAllocs()
	for b.Loop() {
		Of(r)
	}
}

func BenchmarkOfClone(b *testing.B) {
	r := sampleRegistration()
	b.ReportAllocs()
	for b.Loop() {
		ofClone(r)
	}
}

// TestStamp: Stamp sets the etag that Of gives and returns exactly the
// deterministic encoding of the stamped message — by appending the etag
// where it is the last field (a registration as stored), and by encoding
// again where it is not (fields after it, a view field, unknown fields).
func TestStamp(t *testing.T) {
	stored := sampleRegistration()
	stored.Etag = ""
	withSecret := sampleRegistration()
	withSecret.ManageSecret = "s3cr3t"
	unknown := sampleRegistration()
	unknown.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 7))
	noLanguage := sampleEvent()
	noLanguage.Language = ""
	for name, m := range map[string]proto.Message{
		"registration as stored":      stored,
		"registration with an etag":   sampleRegistration(),
		"registration with a secret":  withSecret,
		"registration, unknown field": unknown,
		"event with a language":       sampleEvent(),
		"event without one":           noLanguage,
		"empty registration":          &registrationsv1.Registration{},
	} {
		want := Of(m)
		got, err := Stamp(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tag := m.ProtoReflect().Get(m.ProtoReflect().Descriptor().Fields().ByName("etag")).String(); tag != want {
			t.Errorf("%s: stamped with %q, want Of's %q", name, tag, want)
		}
		enc, err := marshal.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(enc) {
			t.Errorf("%s: Stamp returned %x, want the encoding %x", name, got, enc)
		}
	}
}

// TestStampRefusesWhatDoesNotEncode: a registration with a string that is
// not UTF-8 is an error, and keeps its etag; Of gives it none.
func TestStampRefusesWhatDoesNotEncode(t *testing.T) {
	m := sampleRegistration()
	m.AccessibilityNeeds = "wheel\xffchair"
	if b, err := Stamp(m); err == nil || b != nil {
		t.Errorf("Stamp = %x, %v; want an error", b, err)
	}
	if m.GetEtag() != "fedcba9876543210" {
		t.Errorf("the etag became %q", m.GetEtag())
	}
	if tag := Of(m); tag != "" {
		t.Errorf("Of = %q, want none", tag)
	}
}

func BenchmarkStamp(b *testing.B) {
	m := sampleRegistration()
	m.Etag = ""
	b.ReportAllocs()
	for b.Loop() {
		m.Etag = ""
		if _, err := Stamp(m); err != nil {
			b.Fatal(err)
		}
	}
}
