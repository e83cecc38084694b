// Command regpreload fills a registrations database with many registrations
// for one event, for benchmarks (`make bench`): the registrations are written
// through the store, as the service writes them (the admission rules decide
// their state; names, e-mail index, counters, secret hashes), but many to a
// transaction, so that a million take seconds rather than hours. The service
// must not be running on the file.
//
//	regpreload -db registrations.db -event event.json -n 1000000
//
// event.json is the event as the events service returns it to an organizer
// (protojson); its copy is saved with the registrations, so that the service
// admits registrations without asking the events service. -feed-sequence
// records the events feed position as applied, so that the service does not
// replay the feed on start.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/auth"
	"convene.dev/platform/ids"
	"convene.dev/services/registrations/internal/policy"
	"convene.dev/services/registrations/internal/service"
	"convene.dev/services/registrations/internal/store"
	"convene.dev/services/registrations/internal/store/boltstore"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "regpreload:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("regpreload", flag.ContinueOnError)
	dbPath := fs.String("db", "", "registrations database file (created if missing)")
	eventFile := fs.String("event", "", "the event, as protojson (GetEvent's answer to an organizer)")
	n := fs.Int("n", 1000, "how many registrations to add")
	perTx := fs.Int("tx", 50000, "registrations per transaction")
	feedSeq := fs.Int64("feed-sequence", 0, "record this events feed position as applied (0: leave it)")
	tag := fs.String("tag", "p", "keeps the e-mail addresses of different runs apart")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbPath == "" || *eventFile == "" {
		return fmt.Errorf("-db and -event are required")
	}
	raw, err := os.ReadFile(*eventFile)
	if err != nil {
		return err
	}
	ev := &eventsv1.Event{}
	if err := protojson.Unmarshal(raw, ev); err != nil {
		return fmt.Errorf("%s: %w", *eventFile, err)
	}
	eventID := strings.TrimPrefix(ev.GetName(), "events/")

	begin := time.Now()
	st, err := boltstore.Open(*dbPath)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	for done := 0; done < *n; {
		batch := min(*perTx, *n-done)
		from := done
		err := st.Update(ctx, eventID, func(tx store.Tx) error {
			if err := tx.SetEvent(service.Saved(ev)); err != nil {
				return err
			}
			for i := from; i < from+batch; i++ {
				if err := insert(tx, ev, *tag, i); err != nil {
					return fmt.Errorf("registration %d: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		done += batch
		fmt.Fprintf(os.Stderr, "regpreload: %d/%d registrations (%s)\n", done, *n, time.Since(begin).Round(time.Millisecond))
	}
	if *feedSeq > 0 {
		if err := st.SetFeedSequence(ctx, *feedSeq); err != nil {
			return err
		}
	}
	if err := st.Close(); err != nil {
		return err
	}
	info, err := os.Stat(*dbPath)
	if err != nil {
		return err
	}
	fmt.Printf("regpreload: %d registrations for %s in %s; %s is %d MiB\n",
		*n, ev.GetName(), time.Since(begin).Round(time.Millisecond), *dbPath, info.Size()>>20)
	return nil
}

// insert adds the i-th participant as CreateRegistration would: the rules
// decide the state, the name comes from the store, the etag and the secret
// hash follow.
func insert(tx store.Tx, ev *eventsv1.Event, tag string, i int) error {
	reg := participant(tag, i)
	now := timestamppb.Now()
	reg.CreateTime, reg.UpdateTime = now, now
	if err := policy.Admit(ev, reg, tx.Counts()); err != nil {
		return err
	}
	name, err := tx.NewName()
	if err != nil {
		return err
	}
	reg.Name = name
	secret := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(tag), uint64(i)))
	_, err = tx.Insert(reg, auth.HashToken(hex.EncodeToString(secret[:16])))
	return err
}

var (
	givenNames  = []string{"Ana", "María José", "José Luis", "Carmen", "Juan Carlos", "Rosa", "Sofía", "Miguel Ángel", "Lucía", "Jorge", "Elena", "Pedro", "Gabriela", "Ricardo", "Patricia", "Fernando", "Sarah", "John", "Emily", "Michael"}
	familyNames = []string{"Pérez García", "Hernández", "López Morales", "González", "Rodríguez", "Martínez Castillo", "Ramírez", "Flores", "Cruz Mejía", "Castillo", "Reyes", "Smith", "Johnson", "Tremblay", "Bonilla Zúñiga", "Quesada"}
	members     = []string{"BZ", "CA", "CR", "DO", "SV", "GT", "HN", "MX", "NI", "PA", "US"}
	orgs        = []string{"Dirección General de Migración y Extranjería", "Ministerio de Relaciones Exteriores", "Instituto Nacional de Migración", "International Organization for Migration (IOM)", "Red Regional de Organizaciones Civiles para las Migraciones (RROCM)"}
	jobTitles   = []string{"Director General", "Jefa de Departamento de Asuntos Migratorios", "Consular Officer", "Senior Policy Analyst", "Coordinadora de Protección", "Technical Specialist"}
	categories  = []eventsv1.ParticipantCategory{
		eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE,
		eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_ORGANIZATION,
		eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_CIVIL_SOCIETY,
		eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_INVITED_EXPERT,
	}
	asciiOf = strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "Á", "a", " ", ".")
)

// participant returns the i-th registration request (a few hundred bytes
// stored, like the benchmark's own).
func participant(tag string, i int) *registrationsv1.Registration {
	h := ids.Scramble(uint32(i))
	given, family := givenNames[h%uint32(len(givenNames))], familyNames[(h>>8)%uint32(len(familyNames))]
	cc := members[(h>>4)%uint32(len(members))]
	mode := eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
	if h%3 == 0 {
		mode = eventsv1.AttendanceMode_ATTENDANCE_MODE_VIRTUAL
	}
	return &registrationsv1.Registration{
		Participant: &registrationsv1.Participant{
			GivenName:         given,
			FamilyName:        family,
			Email:             fmt.Sprintf("%s.%s.%s%08x@%s.example.org", asciiOf.Replace(strings.ToLower(given)), asciiOf.Replace(strings.ToLower(family)), tag, h, strings.ToLower(cc)),
			Phone:             fmt.Sprintf("+%d %04d %04d", 500+h%60, (h>>8)%10000, (h>>3)%10000),
			Organization:      orgs[(h>>12)%uint32(len(orgs))],
			JobTitle:          jobTitles[(h>>16)%uint32(len(jobTitles))],
			CountryCode:       cc,
			Gender:            registrationsv1.Gender(1 + (h>>20)%4),
			PreferredLanguage: "es",
		},
		Category:        categories[(h>>24)%uint32(len(categories))],
		AttendanceMode:  mode,
		NeedsVisaLetter: (h>>28)%5 == 0,
	}
}
