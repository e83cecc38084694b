package boltstore_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/cputime"
	"convene.dev/platform/etag"
	"convene.dev/platform/ids"
	"convene.dev/services/registrations/internal/policy"
	"convene.dev/services/registrations/internal/store"
	"convene.dev/services/registrations/internal/store/boltstore"
)

// benchEvent takes every registration: hybrid, published, open for a year,
// no limits (the rules run all the same).
func benchEvent() *eventsv1.Event {
	now := time.Now()
	return &eventsv1.Event{
		Name:           "events/bench",
		State:          eventsv1.EventState_EVENT_STATE_PUBLISHED,
		AttendanceMode: eventsv1.AttendanceMode_ATTENDANCE_MODE_HYBRID,
		StartTime:      timestamppb.New(now.Add(365 * 24 * time.Hour)),
		EndTime:        timestamppb.New(now.Add(366 * 24 * time.Hour)),
		RegistrationPolicy: &eventsv1.RegistrationPolicy{
			WaitlistEnabled: true,
		},
		Revision: 1,
	}
}

var benchCountries = []string{"BZ", "CA", "CR", "DO", "SV", "GT", "HN", "MX", "NI", "PA", "US", "AR", "CO", "EC", "JM", "PE"}

// benchReg is the i-th registration as the service hands it to the store,
// about as large as a real one.
func benchReg(tag string, i int) *registrationsv1.Registration {
	h := ids.Scramble(uint32(i))
	cc := benchCountries[h%uint32(len(benchCountries))]
	now := timestamppb.Now()
	return &registrationsv1.Registration{
		Participant: &registrationsv1.Participant{
			GivenName:         "María José",
			FamilyName:        "Pérez García",
			Email:             fmt.Sprintf("maria.jose.perez.%s%08x@migracion.example.org", tag, h),
			Phone:             "+502 2411 2411",
			Organization:      "Dirección General de Migración y Extranjería",
			JobTitle:          "Jefa de Departamento de Asuntos Migratorios",
			CountryCode:       cc,
			Gender:            registrationsv1.Gender(1 + (h>>8)%4),
			PreferredLanguage: "es",
		},
		// Every category, both ways of attending: the counters hold as many
		// keys as a real event's.
		Category:       eventsv1.ParticipantCategory(1 + (h>>12)%6),
		AttendanceMode: eventsv1.AttendanceMode(1 + (h>>16)%2),
		CreateTime:     now,
		UpdateTime:     now,
	}
}

// benchCreateFn is what the service's CreateRegistration runs in the
// store's transaction: save the event copy, promote, admit, name, insert,
// keep the secret's hash.
func benchCreateFn(ev *eventsv1.Event, reg *registrationsv1.Registration) func(store.Tx) (*registrationsv1.Registration, error) {
	return func(tx store.Tx) (*registrationsv1.Registration, error) {
		if err := tx.SetEvent(ev); err != nil {
			return nil, err
		}
		if err := policy.Promote(ev, tx, func(*registrationsv1.Registration) {}); err != nil {
			return nil, err
		}
		r := proto.CloneOf(reg)
		if err := policy.Admit(ev, r, tx.Counts()); err != nil {
			return nil, err
		}
		name, err := tx.NewName()
		if err != nil {
			return nil, err
		}
		r.Name = name
		r.Etag = etag.Of(r)
		_, err = tx.Insert(r, "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
		return r, err
	}
}

func benchOpen(b *testing.B) *boltstore.Store {
	b.Helper()
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "registrations.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchPreload stores n registrations for ev, 10,000 to a transaction.
func benchPreload(b *testing.B, s *boltstore.Store, ev *eventsv1.Event, n int) {
	b.Helper()
	for done := 0; done < n; done += 10000 {
		err := s.Update(ctx, "bench", func(tx store.Tx) error {
			for i := done; i < min(done+10000, n); i++ {
				if _, err := benchCreateFn(ev, benchReg("p", i))(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreate is Store.Create as CreateRegistration calls it, durable
// (fsync on every commit), with a request id:
//   - serial: one caller, so one transaction and one fsync per create — the
//     single-writer limit;
//   - parallel: 64 callers whose creates the store's group commit shares out
//     over transactions, on an event that already holds some registrations.
//
// cpu-ns/op (parallel runs) is the process's CPU time per create, every
// thread: what decides how many creates two cores make, where ns/op is
// mostly the wait for the disk.
func BenchmarkCreate(b *testing.B) {
	ev := benchEvent()
	b.Run("serial", func(b *testing.B) {
		s := benchOpen(b)
		i := 0
		for b.Loop() {
			i++
			if _, _, err := s.Create(ctx, "bench", fmt.Sprintf("00000000-0000-4000-8000-%012d", i), benchCreateFn(ev, benchReg("c", i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, stored := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("parallel64/stored=%d", stored), func(b *testing.B) {
			s := benchOpen(b)
			benchPreload(b, s, ev, stored)
			var seq atomic.Int64
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0))) // 64 callers in all
			b.ResetTimer()
			cpu := cputime.Start(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(seq.Add(1))
					if _, _, err := s.Create(ctx, "bench", fmt.Sprintf("00000000-0000-4000-8000-%012d", i), benchCreateFn(ev, benchReg("c", i))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			cpu.Report(b)
		})
	}
}

// BenchmarkInsertInTx is the work of one registration inside a transaction
// that holds a thousand (one fsync per thousand, as regpreload writes): what
// the store and the rules cost on the CPU per registration, apart from the
// disk. Compare with BenchmarkCreate, where each create also opens the
// event's buckets and decodes and re-encodes its counters.
func BenchmarkInsertInTx(b *testing.B) {
	ev := benchEvent()
	s := benchOpen(b)
	const perTx = 1000
	i := 0
	for b.Loop() {
		err := s.Update(ctx, "bench", func(tx store.Tx) error {
			for range perTx {
				i++
				if _, err := benchCreateFn(ev, benchReg("t", i))(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perTx), "ns/insert")
}

// BenchmarkEvent is Store.Event, which CreateRegistration calls for the
// event's saved copy (to admit a registration, and to add the meeting link
// to the answer), on an event with a thousand registrations of every kind.
func BenchmarkEvent(b *testing.B) {
	ev := benchEvent()
	s := benchOpen(b)
	benchPreload(b, s, ev, 1000)
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.Event(ctx, "bench")
		if err != nil || got == nil {
			b.Fatal(got, err)
		}
	}
}

// BenchmarkTotalsByState is a scrape of the registrations-by-state gauge
// on a database that holds the saved copies of 10,000 events (as the
// events feed leaves them), a hundred with registrations: the first, which
// reads every event's counters, and those after it.
func BenchmarkTotalsByState(b *testing.B) {
	ev := benchEvent()
	path := filepath.Join(b.TempDir(), "registrations.db")
	s, err := boltstore.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		id := fmt.Sprintf("ev%05d", i)
		e := proto.CloneOf(ev)
		e.Name = "events/" + id
		if err := s.Update(ctx, id, func(tx store.Tx) error {
			if err := tx.SetEvent(e); err != nil {
				return err
			}
			if i%100 != 0 {
				return nil
			}
			_, err := benchCreateFn(e, benchReg(id, i))(tx)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	scrape := func(b *testing.B, s *boltstore.Store) {
		totals, err := s.TotalsByState(ctx)
		if err != nil || totals["CONFIRMED"] != 100 {
			b.Fatal(totals, err)
		}
	}
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s, err := boltstore.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			scrape(b, s)
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
	})
	b.Run("then", func(b *testing.B) {
		s, err := boltstore.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		scrape(b, s)
		b.ReportAllocs()
		for b.Loop() {
			scrape(b, s)
		}
	})
}
