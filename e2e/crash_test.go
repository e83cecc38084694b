package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/backup"
)

// crashRounds is how many kill -9 rounds TestKill9Rounds runs: a few in
// `make test`, more with CONVENE_CRASH_ROUNDS (`make crash-test` runs 25).
func crashRounds() int {
	if n, err := strconv.Atoi(os.Getenv("CONVENE_CRASH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 4
}

// TestKill9Rounds: concurrent writers (registrations and event updates),
// one of the services killed with SIGKILL at a random moment, restarted on
// the same files. Every acknowledged write is there and equal; a write that
// was not acknowledged, retried with its request_id, exists once; bbolt's
// consistency check of the killed file is clean.
func TestKill9Rounds(t *testing.T) {
	s := startSystem(t)
	ctx := context.Background()
	s.publishedEvent(t, "crash", map[string]any{})
	events := eventsv1.NewEventServiceClient(s.eventsConn)
	regs := registrationsv1.NewRegistrationServiceClient(s.registrationsConn)

	type attempt struct {
		req *registrationsv1.CreateRegistrationRequest
		got *registrationsv1.Registration // nil: not acknowledged
	}
	var all []*attempt
	for round := range crashRounds() {
		seed := time.Now().UnixNano()
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(round)))
		victim := s.registrations
		if round%2 == 1 {
			victim = s.events
		}
		t.Logf("round %d: seed %d, killing %s", round, seed, victim.name)

		var mu sync.Mutex
		var attempts []*attempt
		var lastAckedEvent *eventsv1.Event
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					if w == 0 { // one writer updates the event
						ev := &eventsv1.Event{Name: "events/crash", Summary: fmt.Sprintf("round %d update %d", round, i)}
						got, err := events.UpdateEvent(cctx, &eventsv1.UpdateEventRequest{Event: ev, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"summary"}}})
						cancel()
						if err == nil {
							mu.Lock()
							if lastAckedEvent == nil || got.GetRevision() > lastAckedEvent.GetRevision() {
								lastAckedEvent = got
							}
							mu.Unlock()
						}
						continue
					}
					a := &attempt{req: &registrationsv1.CreateRegistrationRequest{
						Parent:    "events/crash",
						RequestId: fmt.Sprintf("%08x-0000-4000-8000-%04x%08x", round, w, i),
						Registration: &registrationsv1.Registration{
							Participant: &registrationsv1.Participant{GivenName: "P", FamilyName: "Q",
								Email: fmt.Sprintf("r%d-w%d-%d@example.org", round, w, i), CountryCode: members[(w+i)%len(members)]},
							Category: delegateCat,
						},
					}}
					got, err := regs.CreateRegistration(cctx, a.req)
					cancel()
					if err == nil {
						got.ManageSecret = ""
						a.got = got
					}
					mu.Lock()
					attempts = append(attempts, a)
					mu.Unlock()
					if err != nil {
						time.Sleep(20 * time.Millisecond) // the victim is down: don't spin
					}
				}
			}()
		}
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		victim.stop(syscall.SIGKILL)
		time.Sleep(100 * time.Millisecond)
		close(stop)
		wg.Wait()

		dbFile := filepath.Join(s.dataDir, victim.name+".db")
		if err := backup.Check(dbFile); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		victim.launch()
		s.waitHealthy(t)

		acked := 0
		for _, a := range attempts {
			if a.got == nil {
				continue
			}
			acked++
			got, err := regs.GetRegistration(ctx, &registrationsv1.GetRegistrationRequest{Name: a.got.GetName()})
			if err != nil {
				t.Errorf("round %d: acknowledged %s is gone: %v", round, a.got.GetName(), err)
				continue
			}
			got.OnlineMeetingUrl = ""
			if !proto.Equal(got, a.got) {
				t.Errorf("round %d: acknowledged %s changed:\n got %v\nwant %v", round, a.got.GetName(), got, a.got)
			}
		}
		if lastAckedEvent != nil {
			ev, err := events.GetEvent(ctx, &eventsv1.GetEventRequest{Name: "events/crash"})
			if err != nil || ev.GetRevision() < lastAckedEvent.GetRevision() ||
				(ev.GetRevision() == lastAckedEvent.GetRevision() && !proto.Equal(ev, lastAckedEvent)) {
				t.Errorf("round %d: event after restart = %v (%v), last acknowledged %v", round, ev, err, lastAckedEvent)
			}
		}
		t.Logf("round %d: %d attempts, %d acknowledged", round, len(attempts), acked)
		all = append(all, attempts...)
	}

	// Retry every attempt with its request_id: an acknowledged one returns
	// the first result, an unacknowledged one is created now or was whole.
	for _, a := range all {
		got, err := regs.CreateRegistration(ctx, a.req)
		if err != nil {
			t.Errorf("retry of %s: %v", a.req.GetRequestId(), err)
			continue
		}
		if a.got != nil && got.GetName() != a.got.GetName() {
			t.Errorf("retry of acknowledged %s returned %s, want %s", a.req.GetRequestId(), got.GetName(), a.got.GetName())
		}
	}
	// No duplicates: one registration per attempt, each e-mail once.
	seen := map[string]bool{}
	token := ""
	total := 0
	for {
		r, err := regs.ListRegistrations(ctx, &registrationsv1.ListRegistrationsRequest{Parent: "events/crash", PageSize: 100, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, reg := range r.GetRegistrations() {
			e := reg.GetParticipant().GetEmail()
			if seen[e] {
				t.Errorf("%s registered twice", e)
			}
			seen[e] = true
			total++
		}
		if token = r.GetNextPageToken(); token == "" {
			break
		}
	}
	if total != len(all) {
		t.Errorf("%d registrations for %d attempts", total, len(all))
	}
}
