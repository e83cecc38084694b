// Package workload makes the data that the benchmark sends: registrations of
// distinct, plausible participants (names, ministries, e-mail addresses in
// no particular order, as real ones arrive) and events modelled on the RCM's
// real ones.
package workload

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/ids"
)

var (
	givenNames = []string{"Ana", "María José", "José Luis", "Carmen", "Juan Carlos", "Rosa", "Sofía", "Miguel Ángel",
		"Lucía", "Jorge", "Elena", "Pedro", "Gabriela", "Ricardo", "Patricia", "Fernando", "Claudia", "Andrés",
		"Sarah", "John", "Emily", "Michael", "Jennifer", "David", "Marie-Claude", "Jean-François"}
	familyNames = []string{"Pérez García", "Hernández", "López Morales", "González", "Rodríguez", "Martínez Castillo",
		"Ramírez", "Flores", "Cruz Mejía", "Castillo", "Reyes", "Morales", "Ortiz", "Gutiérrez", "Chávez",
		"Smith", "Johnson", "Williams", "Brown", "Tremblay", "Gagnon", "Bonilla Zúñiga", "Quesada", "Solís"}
	// Member Countries: their delegates, and the ministry a delegate comes from.
	members  = []string{"BZ", "CA", "CR", "DO", "SV", "GT", "HN", "MX", "NI", "PA", "US"}
	ministry = []string{"Dirección General de Migración y Extranjería", "Ministerio de Relaciones Exteriores",
		"Instituto Nacional de Migración", "Ministerio de Gobernación", "Secretaría de Derechos Humanos",
		"Immigration, Refugees and Citizenship Canada", "U.S. Department of State, Bureau of Population, Refugees, and Migration"}
	observers     = []string{"AR", "CO", "EC", "JM", "PE", "SE", "ES", "FR"}
	organizations = []string{"International Organization for Migration (IOM)", "UNHCR, the UN Refugee Agency",
		"UNICEF Latin America and the Caribbean", "Red Regional de Organizaciones Civiles para las Migraciones (RROCM)",
		"Universidad de Costa Rica, Instituto de Investigaciones Sociales", "Inter-American Development Bank"}
	jobTitles = []string{"Director General", "Jefa de Departamento de Asuntos Migratorios", "Consular Officer",
		"Senior Policy Analyst", "Coordinadora de Protección", "Technical Specialist", "Viceministro", "Asesor Jurídico"}
	accessibility = []string{"Wheelchair access to the meeting room", "Interpretación en lengua de señas",
		"Vegetarian meals; seat near the exit", "Large-print documents"}
)

// ascii lowers s and drops what an e-mail local part should not hold.
var ascii = strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ñ", "n", "ç", "c", " ", ".", "-", "")

// localParts are the names as an e-mail address's local part has them,
// made once: the load generator shares the machine with the servers, and
// what it spends per call is taken from them.
var givenLocal, familyLocal = localParts(givenNames), localParts(familyNames)

func localParts(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ascii.Replace(strings.ToLower(n))
	}
	return out
}

// email is given.family.<tag><h as 8 hex digits>@<cc>.example.org.
func email(given, family uint32, tag string, h uint32, cc string) string {
	b := make([]byte, 0, 64)
	b = append(b, givenLocal[given]...)
	b = append(b, '.')
	b = append(b, familyLocal[family]...)
	b = append(b, '.')
	b = append(b, tag...)
	b = appendPadded(b, uint64(h), 16, 8)
	b = append(b, '@')
	for _, c := range []byte(cc) { // country codes are two capital letters
		b = append(b, c|0x20)
	}
	return string(append(b, ".example.org"...))
}

// phone is +<country prefix> dddd dddd.
func phone(h uint32) string {
	b := make([]byte, 0, 16)
	b = append(b, '+')
	b = strconv.AppendUint(b, uint64(500+h%60), 10)
	b = append(b, ' ')
	b = appendPadded(b, uint64((h>>8)%10000), 10, 4)
	b = append(b, ' ')
	b = appendPadded(b, uint64((h>>3)%10000), 10, 4)
	return string(b)
}

// appendPadded appends v in base, left-padded with zeros to width digits.
func appendPadded(b []byte, v uint64, base, width int) []byte {
	start := len(b)
	b = strconv.AppendUint(b, v, base)
	if pad := width - (len(b) - start); pad > 0 {
		b = append(b, make([]byte, pad)...)
		copy(b[start+pad:], b[start:len(b)-pad])
		for i := range pad {
			b[start+i] = '0'
		}
	}
	return b
}

// Registration returns the i-th registration of a stream (tag keeps streams
// apart: two streams never share an e-mail address). mode is the
// attendance mode to ask for (unspecified: the event's).
func Registration(tag string, i int, mode eventsv1.AttendanceMode) *registrationsv1.Registration {
	n := uint32(i)
	h := ids.Scramble(n)
	gi, fi := h%uint32(len(givenNames)), (h>>8)%uint32(len(familyNames))
	given, family := givenNames[gi], familyNames[fi]
	var category eventsv1.ParticipantCategory
	var cc, org string
	switch k := (h >> 16) % 20; {
	case k < 8: // 40 %: Member Country delegates
		category = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE
		cc, org = members[h%uint32(len(members))], ministry[(h>>4)%uint32(len(ministry))]
	case k < 11:
		category = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_COUNTRY
		cc, org = observers[h%uint32(len(observers))], "Ministry of Foreign Affairs"
	case k < 15:
		category = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_ORGANIZATION
		cc, org = members[h%uint32(len(members))], organizations[(h>>4)%uint32(len(organizations))]
	case k < 18:
		category = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_CIVIL_SOCIETY
		cc, org = members[h%uint32(len(members))], organizations[3]
	case k < 19:
		category = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_INVITED_EXPERT
		cc, org = members[h%uint32(len(members))], organizations[4]
	default:
		category = eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_SECRETARIAT
		cc, org = "CR", "RCM Technical Secretariat"
	}
	lang := "es"
	if cc == "US" || cc == "CA" || cc == "BZ" || cc == "JM" {
		lang = "en"
	}
	reg := &registrationsv1.Registration{
		Participant: &registrationsv1.Participant{
			GivenName:         given,
			FamilyName:        family,
			Email:             email(gi, fi, tag, h, cc),
			Phone:             phone(h),
			Organization:      org,
			JobTitle:          jobTitles[(h>>12)%uint32(len(jobTitles))],
			CountryCode:       cc,
			Gender:            registrationsv1.Gender(1 + (h>>20)%4),
			PreferredLanguage: lang,
		},
		Category:        category,
		AttendanceMode:  mode,
		NeedsVisaLetter: (h>>24)%5 == 0,
	}
	if (h>>27)%20 == 0 {
		reg.AccessibilityNeeds = accessibility[(h>>5)%uint32(len(accessibility))]
	}
	return reg
}

// Mode returns the attendance mode the i-th participant asks for at a
// hybrid event: about two thirds in person.
func Mode(i int) eventsv1.AttendanceMode {
	if ids.Scramble(uint32(i)+0x9e3779b9)%3 == 0 {
		return eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL
	}
	return eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
}

// Stored returns reg as the registrations service stores it (name, state,
// times, etag filled in): what a durable record weighs.
func Stored(reg *registrationsv1.Registration, eventID string, seq int) *registrationsv1.Registration {
	r := proto.CloneOf(reg)
	now := timestamppb.Now()
	r.Name = fmt.Sprintf("events/%s/registrations/%016x", eventID, seq)
	r.State = registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED
	r.CreateTime, r.UpdateTime = now, now
	r.Etag = "0123456789abcdef"
	if r.AttendanceMode == eventsv1.AttendanceMode_ATTENDANCE_MODE_UNSPECIFIED {
		r.AttendanceMode = eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
	}
	return r
}

// RequestID returns a random UUID (version 4) for a request_id.
func RequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return uuid(b, 4)
}

// RequestIDv7 returns a time-ordered UUID (version 7, RFC 9562): the Unix
// time in milliseconds, then random bits. Ids made later sort later (the
// web page's form makes such ids; bench measures creates with both kinds).
func RequestIDv7(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	ms := uint64(now.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	return uuid(b, 7)
}

// uuid sets b's version and variant bits and formats it.
func uuid(b [16]byte, version byte) string {
	b[6] = b[6]&0x0f | version<<4
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Kinds are the event kinds the generated events cycle through, so that a
// filter on one kind matches one event in len(Kinds).
var Kinds = []eventsv1.EventKind{
	eventsv1.EventKind_EVENT_KIND_WORKSHOP, eventsv1.EventKind_EVENT_KIND_WEBINAR, eventsv1.EventKind_EVENT_KIND_TRAINING,
	eventsv1.EventKind_EVENT_KIND_MEETING, eventsv1.EventKind_EVENT_KIND_CONFERENCE, eventsv1.EventKind_EVENT_KIND_CONGRESS,
	eventsv1.EventKind_EVENT_KIND_FORUM, eventsv1.EventKind_EVENT_KIND_ROUND_TABLE, eventsv1.EventKind_EVENT_KIND_SEMINAR,
	eventsv1.EventKind_EVENT_KIND_TECHNICAL_EXCHANGE, eventsv1.EventKind_EVENT_KIND_DIALOGUE, eventsv1.EventKind_EVENT_KIND_OTHER,
}

// Event returns the i-th generated event, to create (no name, no
// server-set fields): a copy of one of the RCM's real events (templates),
// its kind taken in turn from Kinds, starting in the future so that it
// takes registrations.
func Event(templates []*eventsv1.Event, i int, now time.Time) (id string, ev *eventsv1.Event) {
	t := templates[i%len(templates)]
	ev = proto.CloneOf(t)
	base := strings.TrimPrefix(t.GetName(), "events/")
	if len(base) > 50 {
		base = strings.TrimRight(base[:50], "-")
	}
	id = fmt.Sprintf("%s-%d", base, i)
	ev.Name, ev.State, ev.Etag, ev.Revision = "", 0, "", 0
	ev.CreateTime, ev.UpdateTime, ev.PublishTime = nil, nil, nil
	ev.Kind = Kinds[i%len(Kinds)]
	// The whole programme moves into the future, keeping its shape.
	start := now.Truncate(time.Hour).Add(time.Duration(30+i%700) * 24 * time.Hour)
	shift := func(ts *timestamppb.Timestamp, d time.Duration) *timestamppb.Timestamp {
		if ts == nil {
			return nil
		}
		return timestamppb.New(ts.AsTime().Add(d))
	}
	if t.GetStartTime() == nil {
		ev.StartTime = timestamppb.New(start)
		ev.EndTime = timestamppb.New(start.Add(8 * time.Hour))
	} else {
		d := start.Sub(t.GetStartTime().AsTime())
		ev.StartTime, ev.EndTime = shift(t.GetStartTime(), d), shift(t.GetEndTime(), d)
		for _, s := range ev.GetSessions() {
			s.StartTime, s.EndTime = shift(s.GetStartTime(), d), shift(s.GetEndTime(), d)
		}
	}
	if p := ev.GetRegistrationPolicy(); p != nil {
		p.OpensTime, p.ClosesTime = nil, nil
	}
	// Online and hybrid events have a meeting link, which the public never
	// sees (the events service leaves it out of their answers).
	if m := ev.GetAttendanceMode(); m == eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL || m == eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID {
		ev.OnlineMeetingUrl = "https://meet.example.org/" + id
	}
	return id, ev
}

// OpenEvent returns an event that takes every registration the benchmark
// sends: hybrid, published soon, starting in 90 days, every category
// allowed, a waiting list, and with the given capacity, room and quota
// (0: no limit).
func OpenEvent(title string, capacity, inPerson, perCountry int32, now time.Time) *eventsv1.Event {
	start := now.Truncate(time.Hour).Add(90 * 24 * time.Hour)
	return &eventsv1.Event{
		Title:            title,
		Kind:             eventsv1.EventKind_EVENT_KIND_CONFERENCE,
		AttendanceMode:   eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID,
		Summary:          "Annual meeting of the Regional Conference on Migration: working groups, the Regional Consultation Group on Migration and the Vice-Ministerial meeting.",
		Location:         &eventsv1.Location{Venue: "Centro de Convenciones", City: "San José", CountryCode: "CR"},
		OnlineMeetingUrl: "https://meet.example.org/rcm-bench",
		StartTime:        timestamppb.New(start),
		EndTime:          timestamppb.New(start.Add(3 * 24 * time.Hour)),
		TimeZone:         "America/Costa_Rica",
		Organizer:        "RCM Technical Secretariat",
		Topics:           []string{"regional cooperation", "labour migration"},
		Languages:        []string{"es", "en"},
		RegistrationPolicy: &eventsv1.RegistrationPolicy{
			Capacity:            capacity,
			InPersonCapacity:    inPerson,
			DelegatesPerCountry: perCountry,
			WaitlistEnabled:     true,
			AllowedCategories: []eventsv1.ParticipantCategory{
				eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
				eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_COUNTRY,
				eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_ORGANIZATION,
				eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_CIVIL_SOCIETY,
				eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_INVITED_EXPERT,
				eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_SECRETARIAT,
			},
		},
	}
}
