// Package store defines where the events service keeps its events and the
// feed of their changes.
//
// Errors are the errdefs sentinels: ErrNotFound for an unknown id,
// ErrAlreadyExists for an id taken, ErrOutOfRange for a part of the feed
// that was compacted away, and whatever an update function returns.
package store

import (
	"context"
	"strings"
	"sync"
	"time"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/filter"
)

// Store holds events by id (the last segment of their resource name). Every
// write also appends an EventChange to the feed, in the same transaction.
type Store interface {
	// Get returns a copy of the event.
	Get(ctx context.Context, id string) (*eventsv1.Event, error)

	// Lookup returns the event's index entry: shared and read-only, no
	// copy made.
	Lookup(ctx context.Context, id string) (*Entry, error)

	// Index returns every event ordered by start time and by title, with
	// the sort keys and the folded search text computed once per change.
	// It is shared and read-only.
	Index(ctx context.Context) (*Index, error)

	// Create stores ev under id. When requestID is not empty and a previous
	// Create carried the same requestID, that call's event is returned with
	// created false and nothing is written.
	Create(ctx context.Context, id, requestID string, ev *eventsv1.Event) (stored *eventsv1.Event, created bool, err error)

	// Update reads the event, lets fn change it, and writes the result with
	// a change of type typ, in one transaction. If fn returns an error
	// nothing is written.
	Update(ctx context.Context, id string, typ eventsv1.EventChange_Type, fn func(*eventsv1.Event) error) (*eventsv1.Event, error)

	// Delete removes the event if check, given the stored event, returns nil.
	Delete(ctx context.Context, id string, check func(*eventsv1.Event) error) error

	// Changes returns up to limit changes with a sequence number above
	// after, oldest first. If changes above after were compacted away it
	// returns ErrOutOfRange.
	Changes(ctx context.Context, after int64, limit int) ([]*eventsv1.EventChange, error)

	// Wait returns a channel that is closed once the feed has a change with
	// a sequence number above after.
	Wait(after int64) <-chan struct{}

	// Compact removes the changes made before the given time, and returns
	// how many it removed. The newest change is always kept.
	Compact(ctx context.Context, before time.Time) (int, error)

	// Backup sends a consistent copy of the whole database, in pieces,
	// while writes go on.
	Backup(ctx context.Context, send func([]byte) error) error

	// Close releases the store.
	Close() error
}

// Index is a read-only view of every event, ordered two ways, for lists.
type Index struct {
	Sequence int64    // the last change it includes
	ByStart  []*Entry // by StartKey, ascending
	ByTitle  []*Entry // by TitleKey, ascending
}

// Entry is one event with what lists filter and sort on.
type Entry struct {
	Event    *eventsv1.Event // shared, read-only
	StartKey string
	TitleKey string
	Text     string // title, summary and objectives in every language, folded

	// Memo holds what readers derive from Event and want to compute once
	// per change (the service's encodings of it). An event's change makes a
	// new Entry, so nothing in Memo is ever stale, and it goes with the entry.
	Memo sync.Map
}

// NewEntry computes the entry of an event.
func NewEntry(ev *eventsv1.Event) *Entry {
	return &Entry{Event: ev, StartKey: StartKey(ev), TitleKey: TitleKey(ev), Text: SearchText(ev)}
}

// StartKey orders events by start time: a string whose byte order is the
// order of the instants (unset first), ending in the name so that no two
// events tie.
func StartKey(ev *eventsv1.Event) string {
	t := ""
	if ev.GetStartTime() != nil {
		t = ev.GetStartTime().AsTime().UTC().Format("20060102150405.000000000")
	}
	return t + "\x00" + ev.GetName()
}

// TitleKey orders events by title, ignoring case and accents.
func TitleKey(ev *eventsv1.Event) string {
	return filter.Fold(ev.GetTitle()) + "\x00" + ev.GetName()
}

// SearchText is what free-text filters search: the title, summary and
// objectives in every language, folded.
func SearchText(ev *eventsv1.Event) string {
	parts := []string{ev.GetTitle(), ev.GetSummary(), ev.GetGeneralObjective()}
	parts = append(parts, ev.GetSpecificObjectives()...)
	for _, tr := range ev.GetTranslations() {
		parts = append(parts, tr.GetTitle(), tr.GetSummary(), tr.GetGeneralObjective())
		parts = append(parts, tr.GetSpecificObjectives()...)
	}
	return filter.Fold(strings.Join(parts, " \x00 "))
}
