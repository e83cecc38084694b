// Package store defines where the registrations service keeps registrations
// and the per-event counters that its admission rules read.
package store

import (
	"context"

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
	if reg.GetCategory().String() == "PARTICIPANT_CATEGORY_MEMBER_COUNTRY_DELEGATE" {
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
	(*m)[key] += delta
	if (*m)[key] == 0 {
		delete(*m, key)
	}
}

// Decide chooses the state of a new registration (whose name is already
// set) from the event's counters, or returns an error to refuse it. It runs
// inside the write transaction, and may run more than once.
type Decide func(reg *registrationsv1.Registration, counts *Counts) error

// Store holds registrations by event id and registration id.
//
// Errors are the errdefs sentinels: ErrNotFound for an unknown registration,
// ErrAlreadyExists for an e-mail address already registered for the event,
// and whatever a Decide or update function returns.
type Store interface {
	// Create stores reg for the event, giving it its id, after decide has set
	// its state — all in one transaction. When requestID is not empty and a
	// previous Create carried it, that call's registration is returned with
	// created false and nothing is written.
	Create(ctx context.Context, eventID, requestID string, reg *registrationsv1.Registration, decide Decide) (stored *registrationsv1.Registration, created bool, err error)

	// Get returns one registration.
	Get(ctx context.Context, eventID, id string) (*registrationsv1.Registration, error)

	// Update reads a registration and the event's counters, lets fn change
	// the registration, and writes it with the counters adjusted, in one
	// transaction. If fn returns an error nothing is written.
	Update(ctx context.Context, eventID, id string, fn func(reg *registrationsv1.Registration, counts *Counts) error) (*registrationsv1.Registration, error)

	// List returns up to limit registrations of the event that match, oldest
	// first, starting after the id after (from the beginning when empty), and
	// how many match in all.
	List(ctx context.Context, eventID, after string, limit int, match func(*registrationsv1.Registration) bool) (page []*registrationsv1.Registration, total int, err error)

	// Counts returns the event's counters.
	Counts(ctx context.Context, eventID string) (*Counts, error)

	// Close releases the store.
	Close() error
}
