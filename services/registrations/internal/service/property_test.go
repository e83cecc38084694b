package service_test

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/country"
)

// The property test drives the real service (over bufconn, with the fake
// events service) through random life cycles of one hybrid event each, and
// checks it against a plain in-memory model of the rules after every step.

// rcmObservers are some RCM Observer Countries: they may register, but not
// as Member Country delegates.
var rcmObservers = []string{"AR", "CO", "EC", "JM", "PE"}

var categories = []eventsv1.ParticipantCategory{
	delegate, observer, civilSociety, expert,
	eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_OBSERVER_ORGANIZATION,
	eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_SECRETARIAT,
}

// requestIDs numbers request ids across every check: the store keeps them
// all, and one reused for another event would be refused.
var requestIDs atomic.Int64

// mreg is the model of one registration.
type mreg struct {
	name      string
	email     string
	country   string
	category  eventsv1.ParticipantCategory
	mode      eventsv1.AttendanceMode
	state     registrationsv1.RegistrationState
	reason    string
	checkedIn bool
	requestID string
	sent      *registrationsv1.Registration // what the create sent, for retries
}

// model is what the service should hold for one event.
type model struct {
	policy *eventsv1.RegistrationPolicy
	regs   []*mreg // in arrival order
}

func (m *model) clone() *model {
	c := &model{policy: proto.CloneOf(m.policy)}
	for _, r := range m.regs {
		cp := *r
		c.regs = append(c.regs, &cp)
	}
	return c
}

// tally counts CONFIRMED registrations: in all, in person, and delegates by
// country.
type tally struct {
	total, inPerson int32
	delegates       map[string]int32
	names           map[string]bool
}

func tallyOf[T any](regs []T, get func(T) (name string, st registrationsv1.RegistrationState, mode eventsv1.AttendanceMode, cat eventsv1.ParticipantCategory, cc string)) tally {
	t := tally{delegates: map[string]int32{}, names: map[string]bool{}}
	for _, r := range regs {
		name, st, mode, cat, cc := get(r)
		if st != confirmed {
			continue
		}
		t.total++
		t.names[name] = true
		if mode == inPerson {
			t.inPerson++
		}
		if cat == delegate {
			t.delegates[cc]++
		}
	}
	return t
}

func modelTally(regs []*mreg) tally {
	return tallyOf(regs, func(r *mreg) (string, registrationsv1.RegistrationState, eventsv1.AttendanceMode, eventsv1.ParticipantCategory, string) {
		return r.name, r.state, r.mode, r.category, r.country
	})
}

func serviceTally(regs []*registrationsv1.Registration) tally {
	return tallyOf(regs, func(r *registrationsv1.Registration) (string, registrationsv1.RegistrationState, eventsv1.AttendanceMode, eventsv1.ParticipantCategory, string) {
		return r.GetName(), r.GetState(), r.GetAttendanceMode(), r.GetCategory(), r.GetParticipant().GetCountryCode()
	})
}

// noSeat says why a registration does not fit in the confirmed seats, as
// the rules put it, or "" when it fits.
func noSeat(p *eventsv1.RegistrationPolicy, c tally, mode eventsv1.AttendanceMode, cat eventsv1.ParticipantCategory, cc string) string {
	switch {
	case p.GetCapacity() > 0 && c.total >= p.GetCapacity():
		return "EVENT_FULL"
	case p.GetInPersonCapacity() > 0 && mode == inPerson && c.inPerson >= p.GetInPersonCapacity():
		return "IN_PERSON_FULL"
	case p.GetDelegatesPerCountry() > 0 && cat == delegate && c.delegates[cc] >= p.GetDelegatesPerCountry():
		return "COUNTRY_QUOTA_REACHED"
	}
	return ""
}

func (m *model) noSeat(r *mreg) string {
	return noSeat(m.policy, modelTally(m.regs), r.mode, r.category, r.country)
}

// promote gives free seats to the waiting, oldest first, each that fits,
// until the event is full.
func (m *model) promote() {
	for _, r := range m.regs {
		if r.state != waitlisted {
			continue
		}
		switch m.noSeat(r) {
		case "EVENT_FULL":
			return
		case "":
			r.state, r.reason = confirmed, "PROMOTED_FROM_WAITLIST"
		}
	}
}

// place confirms r, or puts it on the waiting list; with neither it returns
// the reason of the refusal.
func (m *model) place(r *mreg) (refused string) {
	switch why := m.noSeat(r); {
	case why == "":
		r.state, r.reason = confirmed, ""
	case m.policy.GetWaitlistEnabled():
		r.state, r.reason = waitlisted, why
	default:
		return why
	}
	return ""
}

func (m *model) emailInUse(email string) bool {
	for _, r := range m.regs {
		if r.state != cancelled && strings.EqualFold(strings.TrimSpace(r.email), strings.TrimSpace(email)) {
			return true
		}
	}
	return false
}

// outcome is what a call should return: success, or a code and reason.
type outcome struct {
	code   codes.Code
	reason string
}

var ok = outcome{code: codes.OK}

func fails(code codes.Code, reason string) outcome { return outcome{code, reason} }

func checkOutcome(t *rapid.T, what string, err error, want outcome) {
	t.Helper()
	if want.code == codes.OK {
		if err != nil {
			t.Fatalf("%s: %v, want success", what, err)
		}
		return
	}
	if status.Code(err) != want.code || reasonOf(err) != want.reason {
		t.Fatalf("%s: error %v (reason %q), want %s %s", what, err, reasonOf(err), want.code, want.reason)
	}
}

func TestLifecycleProperties(t *testing.T) {
	e := newEnv(t)
	var events atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		id := fmt.Sprintf("prop-%d", events.Add(1))
		name := "events/" + id
		m := &model{policy: &eventsv1.RegistrationPolicy{
			// (rapid favours the first values: limits are mostly on.)
			Capacity:            rapid.SampledFrom([]int32{3, 5, 1, 2, 4, 0}).Draw(rt, "capacity"),
			InPersonCapacity:    rapid.SampledFrom([]int32{2, 1, 3, 0}).Draw(rt, "in_person_capacity"),
			DelegatesPerCountry: rapid.SampledFrom([]int32{1, 2, 0}).Draw(rt, "delegates_per_country"),
			RequiresApproval:    rapid.Bool().Draw(rt, "requires_approval"),
			WaitlistEnabled:     rapid.Bool().Draw(rt, "waitlist_enabled"),
		}}
		e.events.put(&eventsv1.Event{
			Name: name, Title: "Property " + id, State: published, AttendanceMode: hybrid,
			StartTime: at(30 * day), EndTime: at(31 * day), RegistrationPolicy: proto.CloneOf(m.policy),
		})
		emails := 0
		ranPromotion := false // whether the last step ran the promotion
		before := tally{names: map[string]bool{}}

		// pick draws one of the model's registrations; with none yet, the
		// step does nothing.
		pick := func(t *rapid.T) (int, *mreg, bool) {
			if len(m.regs) == 0 {
				return 0, nil, false
			}
			i := rapid.IntRange(0, len(m.regs)-1).Draw(t, "registration")
			return i, m.regs[i], true
		}
		// decide runs a change of one registration on a copy of the model,
		// which becomes the model when the change succeeds.
		decide := func(t *rapid.T, what string, err error, next *model, want outcome, promotes bool) {
			t.Helper()
			checkOutcome(t, what, err, want)
			if err == nil {
				m.regs = next.regs
				ranPromotion = promotes
			}
		}

		// check runs after every step.
		check := func(t *rapid.T) {
			regs, _ := e.list(t, &registrationsv1.ListRegistrationsRequest{Parent: name, PageSize: 100})

			// The model's states are the service's.
			if len(regs) != len(m.regs) {
				t.Fatalf("%d registrations listed, the model has %d", len(regs), len(m.regs))
			}
			for i, got := range regs {
				w := m.regs[i]
				if got.GetName() != w.name || got.GetState() != w.state || got.GetStateReason() != w.reason || (got.GetCheckInTime() != nil) != w.checkedIn {
					t.Fatalf("registration %d: %s %v (%q) checked in %v; the model says %s %v (%q) checked in %v",
						i, got.GetName(), got.GetState(), got.GetStateReason(), got.GetCheckInTime() != nil,
						w.name, w.state, w.reason, w.checkedIn)
				}
			}

			// The limits hold: never more CONFIRMED than a limit, unless
			// the limit was lowered below those already confirmed; then
			// nobody new is confirmed until there are fewer.
			p, now := m.policy, serviceTally(regs)
			var fresh []string // confirmed in this step
			freshInPerson, freshDelegates := false, map[string]bool{}
			for _, r := range regs {
				if r.GetState() == confirmed && !before.names[r.GetName()] {
					fresh = append(fresh, r.GetName())
					freshInPerson = freshInPerson || r.GetAttendanceMode() == inPerson
					if r.GetCategory() == delegate {
						freshDelegates[r.GetParticipant().GetCountryCode()] = true
					}
				}
			}
			if c := p.GetCapacity(); c > 0 && now.total > c && (len(fresh) > 0 || now.total > before.total) {
				t.Fatalf("%d confirmed of capacity %d (before this step %d; newly confirmed %v)", now.total, c, before.total, fresh)
			}
			if c := p.GetInPersonCapacity(); c > 0 && now.inPerson > c && (freshInPerson || now.inPerson > before.inPerson) {
				t.Fatalf("%d confirmed in person of %d (before this step %d)", now.inPerson, c, before.inPerson)
			}
			if q := p.GetDelegatesPerCountry(); q > 0 {
				for cc, n := range now.delegates {
					if n > q && (freshDelegates[cc] || n > before.delegates[cc]) {
						t.Fatalf("%d confirmed delegates of %s, quota %d (before this step %d)", n, cc, q, before.delegates[cc])
					}
				}
			}

			// After a change that ran the promotion, nobody waits who
			// would fit.
			if ranPromotion {
				for _, r := range regs {
					if r.GetState() == waitlisted {
						if why := noSeat(p, now, r.GetAttendanceMode(), r.GetCategory(), r.GetParticipant().GetCountryCode()); why == "" {
							t.Fatalf("%s waits though it fits (%d confirmed, %d in person, delegates %v; policy %v)",
								r.GetName(), now.total, now.inPerson, now.delegates, p)
						}
					}
				}
			}
			before = now

			// The store's counters are a full recount.
			assertCountsOf(t, e, id, regs)
			if t.Failed() {
				t.FailNow()
			}
		}

		actions := map[string]func(*rapid.T){
			"create": func(t *rapid.T) {
				ranPromotion = false
				r := &mreg{
					country:  rapid.SampledFrom(append(slices.Clone(country.RCMMembers), rcmObservers...)).Draw(t, "country"),
					category: rapid.SampledFrom(categories).Draw(t, "category"),
					mode:     rapid.SampledFrom([]eventsv1.AttendanceMode{inPerson, virtual, 0}).Draw(t, "attendance_mode"),
				}
				if len(m.regs) > 0 && rapid.IntRange(0, 4).Draw(t, "reuse e-mail") == 0 {
					// Someone registers again: the same address, maybe in capitals.
					r.email = m.regs[rapid.IntRange(0, len(m.regs)-1).Draw(t, "e-mail of")].email
					if rapid.Bool().Draw(t, "capitals") {
						r.email = strings.ToUpper(r.email)
					}
				} else {
					emails++
					r.email = fmt.Sprintf("p%d@example.org", emails)
				}
				if rapid.Bool().Draw(t, "with request_id") {
					r.requestID = fmt.Sprintf("00000000-0000-4000-8000-%012d", requestIDs.Add(1))
				}
				reg := as(participant(r.email), r.country, r.category, r.mode)
				got, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
					Parent: name, Registration: reg, RequestId: r.requestID})
				if r.mode == 0 {
					r.mode = inPerson // a hybrid event's default
				}

				next := m.clone()
				want := ok
				switch {
				case r.category == delegate && !slices.Contains(country.RCMMembers, r.country):
					want = fails(codes.InvalidArgument, "INVALID_ARGUMENT")
				default:
					next.promote() // those waiting first
					if next.policy.GetRequiresApproval() {
						r.state = pending
					} else if why := next.place(r); why != "" {
						want = fails(codes.FailedPrecondition, why)
						break
					}
					if next.emailInUse(r.email) {
						want = fails(codes.AlreadyExists, "EMAIL_ALREADY_REGISTERED")
					}
				}
				checkOutcome(t, fmt.Sprintf("create %s %s %s %s", r.email, r.country, r.category, r.mode), err, want)
				if err != nil {
					return
				}
				r.name, r.sent = got.GetName(), reg
				if got.GetState() != r.state || got.GetStateReason() != r.reason || got.GetAttendanceMode() != r.mode {
					t.Fatalf("created %s %v (%q) %v, want %v (%q) %v", r.name, got.GetState(), got.GetStateReason(), got.GetAttendanceMode(), r.state, r.reason, r.mode)
				}
				next.regs = append(next.regs, r)
				m.regs, ranPromotion = next.regs, true
			},

			"retry": func(t *rapid.T) {
				ranPromotion = false
				var with []*mreg
				for _, r := range m.regs {
					if r.requestID != "" {
						with = append(with, r)
					}
				}
				if len(with) == 0 {
					return
				}
				r := rapid.SampledFrom(with).Draw(t, "retried")
				got, err := e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
					Parent: name, Registration: r.sent, RequestId: r.requestID})
				if err != nil {
					t.Fatalf("retry of %s: %v", r.name, err)
				}
				if got.GetName() != r.name || got.GetManageSecret() != "" {
					t.Fatalf("retry returned %s (secret %q), want %s without the secret", got.GetName(), got.GetManageSecret(), r.name)
				}
				// The same request id with someone else's data is refused:
				// it is no key to another person's registration.
				emails++
				_, err = e.client.CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
					Parent: name, Registration: participant(fmt.Sprintf("p%d@example.org", emails)), RequestId: r.requestID})
				checkOutcome(t, "retry with another body", err, fails(codes.AlreadyExists, "REQUEST_ID_REUSED"))
			},

			"approve": func(t *rapid.T) {
				ranPromotion = false
				i, r, found := pick(t)
				if !found {
					return
				}
				next, want := m.clone(), ok
				if r.state != pending {
					want = fails(codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
				} else {
					next.promote()
					if why := next.place(next.regs[i]); why != "" {
						want = fails(codes.FailedPrecondition, why)
					}
					next.promote()
				}
				_, err := e.client.ApproveRegistration(ctx, &registrationsv1.ApproveRegistrationRequest{Name: r.name})
				decide(t, "approve "+r.name, err, next, want, true)
			},

			"reject": func(t *rapid.T) {
				ranPromotion = false
				i, r, found := pick(t)
				if !found {
					return
				}
				next, want := m.clone(), ok
				switch r.state {
				case pending, waitlisted, confirmed:
					next.regs[i].state, next.regs[i].reason = rejected, "not eligible"
					next.promote()
				default:
					want = fails(codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
				}
				_, err := e.client.RejectRegistration(ctx, &registrationsv1.RejectRegistrationRequest{Name: r.name, Reason: "not eligible"})
				decide(t, "reject "+r.name, err, next, want, true)
			},

			"cancel": func(t *rapid.T) {
				ranPromotion = false
				i, r, found := pick(t)
				if !found {
					return
				}
				next, want := m.clone(), ok
				switch r.state {
				case pending, waitlisted, confirmed:
					next.regs[i].state, next.regs[i].reason = cancelled, "cannot travel"
					next.promote()
				default:
					want = fails(codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
				}
				_, err := e.client.CancelRegistration(ctx, &registrationsv1.CancelRegistrationRequest{Name: r.name, Reason: "cannot travel"})
				decide(t, "cancel "+r.name, err, next, want, true)
			},

			"check in": func(t *rapid.T) {
				ranPromotion = false
				i, r, found := pick(t)
				if !found {
					return
				}
				next, want := m.clone(), ok
				switch {
				case r.state == confirmed && r.checkedIn:
					want = fails(codes.FailedPrecondition, "ALREADY_CHECKED_IN")
				case r.state == confirmed:
					next.regs[i].checkedIn = true
				default:
					want = fails(codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
				}
				_, err := e.client.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: r.name})
				decide(t, "check in "+r.name, err, next, want, false)
			},

			"change policy": func(t *rapid.T) {
				ranPromotion = false
				var change func(p *eventsv1.RegistrationPolicy)
				switch what := rapid.SampledFrom([]string{"capacity", "in_person_capacity", "delegates_per_country", "waitlist_enabled", "requires_approval"}).Draw(t, "change"); what {
				case "capacity":
					n := rapid.Int32Range(0, 6).Draw(t, "new capacity")
					change = func(p *eventsv1.RegistrationPolicy) { p.Capacity = n }
				case "in_person_capacity":
					n := rapid.Int32Range(0, 4).Draw(t, "new in_person_capacity")
					change = func(p *eventsv1.RegistrationPolicy) { p.InPersonCapacity = n }
				case "delegates_per_country":
					n := rapid.Int32Range(0, 3).Draw(t, "new delegates_per_country")
					change = func(p *eventsv1.RegistrationPolicy) { p.DelegatesPerCountry = n }
				case "waitlist_enabled":
					change = func(p *eventsv1.RegistrationPolicy) { p.WaitlistEnabled = !p.WaitlistEnabled }
				case "requires_approval":
					change = func(p *eventsv1.RegistrationPolicy) { p.RequiresApproval = !p.RequiresApproval }
				}
				change(m.policy)
				e.setPolicy(t, name, change)
			},
		}

		// Registrations come in more often than anything else happens to
		// them, so that events fill up and waiting lists form.
		// (rapid draws small indexes more often: create comes first.)
		var deck []string
		for _, w := range []struct {
			action string
			weight int
		}{{"create", 6}, {"approve", 2}, {"cancel", 2}, {"change policy", 2}, {"reject", 1}, {"check in", 1}, {"retry", 1}} {
			if actions[w.action] == nil {
				rt.Fatalf("no action %q", w.action)
			}
			for range w.weight {
				deck = append(deck, w.action)
			}
		}
		// A loop of our own rather than t.Repeat (30 steps on average): about
		// half as many reach every state and keep the test to a few seconds
		// under -race.
		check(rt)
		for range rapid.IntRange(5, 30).Draw(rt, "steps") {
			actions[rapid.SampledFrom(deck).Draw(rt, "action")](rt)
			check(rt)
		}
	})
}

// reasonOf returns the reason of the error's ErrorInfo, or "".
func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
