// Package store defines where the registrations service keeps registrations
// and the per-event counters that its admission rules read.
package store

import (
	"context"
	"maps"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// Tally counts registrations of one state.
type Tally struct {
	Total      int32            `json:"total"`
	ByCountry  map[string]int32 `json:"by_country,omitempty"`  // participant.country_code
	Delegates  map[string]int32 `json:"delegates,omitempty"`   // MEMBER_COUNTRY_DELEGATE by country: the quota's count
	ByCategory map[string]int32 `json:"by_category,omitempty"` // category enum name
	ByMode     map[string]int32 `json:"by_mode,omitempty"`     // attendance_mode enum name
	ByGender   map[string]int32 `json:"by_gender,omitempty"`   // participant.gender enum name
}

// Counts are an event's counters by registration state (enum name). The
// store keeps them in the same transaction as every registration write.
type Counts struct {
	ByState map[string]*Tally `json:"by_state"`
}

// State returns the tally of one state (a zero tally when there is none).
func (c *Counts) State(state registrationsv1.RegistrationState) *Tally {
	if t := c.ByState[state.String()]; t != nil {
		return t
	}
	return &Tally{}
}

// Clone returns a deep copy of c.
func (c *Counts) Clone() *Counts {
	out := &Counts{}
	if c.ByState != nil {
		out.ByState = make(map[string]*Tally, len(c.ByState))
	}
	for st, t := range c.ByState {
		out.ByState[st] = &Tally{
			Total: t.Total, ByCountry: maps.Clone(t.ByCountry), Delegates: maps.Clone(t.Delegates),
			ByCategory: maps.Clone(t.ByCategory), ByMode: maps.Clone(t.ByMode), ByGender: maps.Clone(t.ByGender),
		}
	}
	return out
}

// Add counts reg (delta +1) or uncounts it (delta -1).
func (c *Counts) Add(reg *registrationsv1.Registration, delta int32) {
	if c.ByState == nil {
		c.ByState = map[string]*Tally{}
	}
	st := reg.GetState().String()
	t := c.ByState[st]
	if t == nil {
		t = &Tally{}
		c.ByState[st] = t
	}
	t.Total += delta
	p := reg.GetParticipant()
	bump(&t.ByCountry, p.GetCountryCode(), delta)
	if reg.GetCategory() == eventsv1.ParticipantCategory_PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE {
		bump(&t.Delegates, p.GetCountryCode(), delta)
	}
	bump(&t.ByCategory, reg.GetCategory().String(), delta)
	bump(&t.ByMode, reg.GetAttendanceMode().String(), delta)
	bump(&t.ByGender, p.GetGender().String(), delta)
}

func bump(m *map[string]int32, key string, delta int32) {
	if *m == nil {
		*m = map[string]int32{}
	}
	if n := (*m)[key] + delta; n != 0 {
		(*m)[key] = n
	} else {
		delete(*m, key)
	}
}

// Tx is one write transaction on the registrations of one event. Every
// change goes through Insert or Put, which keep the counters, the e-mail index
// and the waiting list in step with the registrations.
type Tx interface {
	// Get returns a copy of one of the event's registrations.
	Get(id string) (*registrationsv1.Registration, error)

	// NewName returns the name for the next new registration of the event;
	// names sort in arrival order.
	NewName() (string, error)

	// Insert stamps a new registration, named by NewName, with its etag
	// (etag.Stamp) and adds it, with the hash of its manage secret ("" for
	// none), which every later Put keeps. An e-mail address already
	// registered (and not cancelled) for the event is ErrAlreadyExists.
	// record is reg as stored: its deterministic protobuf encoding, which an
	// answer may send as it is once the transaction commits. Nobody may
	// change it; an answer may append to it (in the room it may have after
	// it), once.
	Insert(reg *registrationsv1.Registration, secretHash string) (record []byte, err error)

	// Put writes a changed registration; the hash of its manage secret
	// stays as it was.
	Put(reg *registrationsv1.Registration) error

	// Counts returns the event's counters as of now in this transaction;
	// they follow every Insert and Put. Callers must not change them.
	Counts() *Counts

	// Waitlist calls fn with each WAITLISTED registration, oldest first,
	// until fn returns false or an error.
	Waitlist(fn func(*registrationsv1.Registration) (more bool, err error)) error

	// WaitlistSettled reports whether the waiting list was settled against
	// the event's revision (SettleWaitlist) and nothing has happened since
	// that could give a waiting registration a seat: no registration
	// changed, no other copy of the event was saved. Not known after a
	// restart: false.
	WaitlistSettled(revision int64) bool

	// SettleWaitlist records that every waiting registration has just been
	// offered a seat under the event's revision, and none fits.
	SettleWaitlist(revision int64)

	// ForEach calls fn with each of the event's registrations, oldest first.
	ForEach(fn func(*registrationsv1.Registration) error) error

	// Event returns the saved copy of the event (state, window, policy), or nil.
	Event() *eventsv1.Event

	// SetEvent saves a copy of the event, unless the saved copy has a higher
	// revision (a copy from an older read never replaces a newer one).
	SetEvent(ev *eventsv1.Event) error

	// ForgetEvent removes the saved copy (the event was deleted).
	ForgetEvent() error

	// SetFeedSequence records the last change of the events feed applied.
	SetFeedSequence(seq int64) error
}

// Store holds registrations by event id and registration id.
//
// Errors are the errdefs sentinels: ErrNotFound for an unknown registration,
// ErrAlreadyExists for an e-mail address already registered for the event,
// and whatever a transaction function returns. A function that returns an
// error writes nothing.
type Store interface {
	// Update runs fn in one write transaction on the event's registrations.
	Update(ctx context.Context, eventID string, fn func(Tx) error) error

	// Create runs fn, which inserts one registration and returns it, in one
	// write transaction. When requestID is not empty and a previous Create
	// carried it, that call's registration is returned with created false,
	// fn is not called and nothing is written.
	Create(ctx context.Context, eventID, requestID string, fn func(Tx) (*registrationsv1.Registration, error)) (reg *registrationsv1.Registration, created bool, err error)

	// Request returns the registration that a Create with requestID made,
	// or ErrNotFound.
	Request(ctx context.Context, requestID string) (*registrationsv1.Registration, error)

	// Get returns one registration.
	Get(ctx context.Context, eventID, id string) (*registrationsv1.Registration, error)

	// SecretHash returns the hash of a registration's manage secret ("" when
	// it has none), or ErrNotFound.
	SecretHash(ctx context.Context, eventID, id string) (string, error)

	// List returns up to limit registrations of the event that match, in
	// arrival order (newest first when desc), starting after the id after
	// (from the beginning when empty), and how many match in all.
	List(ctx context.Context, eventID, after string, limit int, desc bool, match func(*registrationsv1.Registration) bool) (page []*registrationsv1.Registration, total int, err error)

	// Counts returns the event's counters.
	Counts(ctx context.Context, eventID string) (*Counts, error)

	// Event returns the saved copy of the event, or nil.
	Event(ctx context.Context, eventID string) (*eventsv1.Event, error)

	// EventIDs returns the ids of the events that have a saved copy.
	EventIDs(ctx context.Context) ([]string, error)

	// FeedSequence returns the last change of the events feed applied.
	FeedSequence(ctx context.Context) (int64, error)

	// SetFeedSequence records the last change of the events feed applied.
	SetFeedSequence(ctx context.Context, seq int64) error

	// Backup sends a consistent copy of the whole database, in pieces,
	// while writes go on.
	Backup(ctx context.Context, send func([]byte) error) error

	// Close releases the store.
	Close() error
}
