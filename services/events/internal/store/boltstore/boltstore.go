// Package boltstore keeps events, and the feed of their changes, in a bbolt
// database.
//
// Bucket layout (schema version 1; a later version gets a new top-level
// bucket and a migration):
//
//	v1/
//	  events/
//	    <event id>   → convene.events.v1.Event, protobuf binary (deterministic)
//	  requests/
//	    <request id> → <event id>   the event a CreateEvent with that request_id made
//	  changes/
//	    <sequence, 8 bytes big-endian> → convene.events.v1.EventChange
//	                   (the bucket's own sequence numbers them: strictly increasing,
//	                    never reused, also after compaction)
//	  meta/
//	    compacted → <sequence, 8 bytes big-endian>: changes up to it were removed
//
// The events service is the only writer of its file, so the store also keeps
// every event decoded in memory: reads never touch the disk. Writers are
// serialised by a mutex held across the bbolt transaction and the update of
// the in-memory copy, so the two never disagree.
package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/backup"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/errdefs"
	"convene.dev/services/events/internal/store"
)

var (
	bucketV1       = []byte("v1")
	bucketEvents   = []byte("events")
	bucketRequests = []byte("requests")
	bucketChanges  = []byte("changes")
	bucketMeta     = []byte("meta")
	keyCompacted   = []byte("compacted")
)

var marshal = proto.MarshalOptions{Deterministic: true}

// Store is a store.Store over bbolt.
type Store struct {
	db       *bolt.DB
	group    *boltdb.Group // writes go through it (one at a time here: writeMu), for its counters
	stopTrim func()        // boltdb.KeepMappingSmall
	now      func() time.Time

	writeMu sync.Mutex // held by writers across the transaction and the cache update

	mu       sync.RWMutex // guards the fields below
	events   map[string]*store.Entry
	head     int64         // the sequence number of the newest change
	advanced chan struct{} // closed, and replaced, when head moves
	index    *store.Index  // nil after a change, until the next Index call
}

var _ store.Store = (*Store)(nil)

// New creates the buckets if needed and loads every event into memory. The
// store takes ownership of db and closes it in Close. now stamps the changes.
func New(db *bolt.DB, now func() time.Time) (*Store, error) {
	s := &Store{db: db, now: now, events: map[string]*store.Entry{}, advanced: make(chan struct{})}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketV1)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketEvents, bucketRequests, bucketChanges, bucketMeta} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		s.head = int64(root.Bucket(bucketChanges).Sequence())
		return root.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
			ev := &eventsv1.Event{}
			if err := proto.Unmarshal(v, ev); err != nil {
				return fmt.Errorf("event %q: %w", k, err)
			}
			s.events[string(k)] = store.NewEntry(ev)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("open events store %s: %w", db.Path(), err)
	}
	s.group = boltdb.NewGroup(db, 1)
	s.stopTrim = boltdb.KeepMappingSmall(db)
	return s, nil
}

// Collector exports the database's statistics to Prometheus.
func (s *Store) Collector() prometheus.Collector { return boltdb.Collector(s.db, s.group) }

func buckets(tx *bolt.Tx) (events, requests *bolt.Bucket) {
	root := tx.Bucket(bucketV1)
	return root.Bucket(bucketEvents), root.Bucket(bucketRequests)
}

func seqKey(seq int64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(seq))
	return k[:]
}

// record appends a change to the feed in tx and returns its sequence number.
func record(tx *bolt.Tx, typ eventsv1.EventChange_Type, ev *eventsv1.Event, at *timestamppb.Timestamp) (int64, error) {
	changes := tx.Bucket(bucketV1).Bucket(bucketChanges)
	seq, err := changes.NextSequence()
	if err != nil {
		return 0, err
	}
	b, err := marshal.Marshal(&eventsv1.EventChange{Sequence: int64(seq), Type: typ, Event: ev, ChangeTime: at})
	if err != nil {
		return 0, err
	}
	return int64(seq), changes.Put(seqKey(int64(seq)), b)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*eventsv1.Event, error) {
	e, err := s.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	return proto.CloneOf(e.Event), nil
}

// Lookup implements store.Store.
func (s *Store) Lookup(_ context.Context, id string) (*store.Entry, error) {
	s.mu.RLock()
	e, ok := s.events[id]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("event %q: %w", id, errdefs.ErrNotFound)
	}
	return e, nil
}

// Index implements store.Store. It is built once after each change, on
// the first call that needs it.
func (s *Store) Index(context.Context) (*store.Index, error) {
	s.mu.RLock()
	idx := s.index
	s.mu.RUnlock()
	if idx != nil {
		return idx, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		idx := &store.Index{Sequence: s.head, ByStart: make([]*store.Entry, 0, len(s.events))}
		for _, e := range s.events {
			idx.ByStart = append(idx.ByStart, e)
		}
		idx.ByTitle = slices.Clone(idx.ByStart)
		slices.SortFunc(idx.ByStart, func(a, b *store.Entry) int { return strings.Compare(a.StartKey, b.StartKey) })
		slices.SortFunc(idx.ByTitle, func(a, b *store.Entry) int { return strings.Compare(a.TitleKey, b.TitleKey) })
		s.index = idx
	}
	return s.index, nil
}

// Create implements store.Store.
func (s *Store) Create(_ context.Context, id, requestID string, ev *eventsv1.Event) (*eventsv1.Event, bool, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var existing string
	var seq int64
	err := s.group.Update(func(tx *bolt.Tx) error {
		events, requests := buckets(tx)
		if requestID != "" {
			if prev := requests.Get([]byte(requestID)); prev != nil {
				existing = string(prev)
				return nil
			}
		}
		if events.Get([]byte(id)) != nil {
			return fmt.Errorf("event %q: %w", id, errdefs.ErrAlreadyExists)
		}
		b, err := marshal.Marshal(ev)
		if err != nil {
			return err
		}
		if err := events.Put([]byte(id), b); err != nil {
			return err
		}
		if requestID != "" {
			if err := requests.Put([]byte(requestID), []byte(id)); err != nil {
				return err
			}
		}
		seq, err = record(tx, eventsv1.EventChange_TYPE_CREATED, ev, timestamppb.New(s.now()))
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if existing != "" {
		prev, err := s.Get(context.Background(), existing)
		if err != nil { // the event was deleted since: the request is spent
			return nil, false, fmt.Errorf("request %q created event %q, since deleted: %w", requestID, existing, errdefs.ErrAlreadyExists)
		}
		return prev, false, nil
	}
	s.committed(seq, id, proto.CloneOf(ev))
	return ev, true, nil
}

// Update implements store.Store.
func (s *Store) Update(_ context.Context, id string, typ eventsv1.EventChange_Type, fn func(*eventsv1.Event) error) (*eventsv1.Event, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ev, err := s.Get(context.Background(), id)
	if err != nil {
		return nil, err
	}
	if err := fn(ev); err != nil {
		return nil, err
	}
	var seq int64
	err = s.group.Update(func(tx *bolt.Tx) error {
		events, _ := buckets(tx)
		b, err := marshal.Marshal(ev)
		if err != nil {
			return err
		}
		if err := events.Put([]byte(id), b); err != nil {
			return err
		}
		seq, err = record(tx, typ, ev, timestamppb.New(s.now()))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update event %q: %w", id, err)
	}
	s.committed(seq, id, proto.CloneOf(ev))
	return ev, nil
}

// Delete implements store.Store.
func (s *Store) Delete(_ context.Context, id string, check func(*eventsv1.Event) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ev, err := s.Get(context.Background(), id)
	if err != nil {
		return err
	}
	if err := check(ev); err != nil {
		return err
	}
	var seq int64
	err = s.group.Update(func(tx *bolt.Tx) error {
		events, _ := buckets(tx)
		if err := events.Delete([]byte(id)); err != nil {
			return err
		}
		gone := &eventsv1.Event{Name: ev.GetName(), Revision: ev.GetRevision() + 1}
		seq, err = record(tx, eventsv1.EventChange_TYPE_DELETED, gone, timestamppb.New(s.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("delete event %q: %w", id, err)
	}
	s.committed(seq, id, nil)
	return nil
}

// committed updates the in-memory copy (ev nil: deleted) and wakes watchers.
func (s *Store) committed(seq int64, id string, ev *eventsv1.Event) {
	var e *store.Entry
	if ev != nil {
		e = store.NewEntry(ev) // outside the lock: folding text takes a while
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e == nil {
		delete(s.events, id)
	} else {
		s.events[id] = e
	}
	s.head = seq
	s.index = nil
	close(s.advanced)
	s.advanced = make(chan struct{})
}

// Changes implements store.Store.
func (s *Store) Changes(_ context.Context, after int64, limit int) ([]*eventsv1.EventChange, error) {
	var out []*eventsv1.EventChange
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketV1)
		if v := root.Bucket(bucketMeta).Get(keyCompacted); v != nil {
			if compacted := int64(binary.BigEndian.Uint64(v)); after < compacted {
				return errdefs.Newf(errdefs.ErrOutOfRange, "CHANGES_COMPACTED",
					"changes up to sequence %d were compacted; list the events again and watch from the list's change_sequence", compacted)
			}
		}
		if head := int64(root.Bucket(bucketChanges).Sequence()); after > head {
			// The caller has seen changes this database never had: it was
			// restored from a backup. The caller must start again.
			return errdefs.Newf(errdefs.ErrOutOfRange, "CHANGES_UNKNOWN",
				"sequence %d is past the last change %d (was the database restored?); list the events again and watch from the list's change_sequence", after, head)
		}
		c := root.Bucket(bucketChanges).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			ch := &eventsv1.EventChange{}
			if err := proto.Unmarshal(v, ch); err != nil {
				return fmt.Errorf("change %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, ch)
		}
		return nil
	})
	return out, err
}

// Wait implements store.Store.
func (s *Store) Wait(after int64) <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.head > after {
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.advanced
}

// Compact implements store.Store.
func (s *Store) Compact(_ context.Context, before time.Time) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	removed := 0
	err := s.group.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketV1)
		changes := root.Bucket(bucketChanges)
		// Collect, then delete: deleting under a moving cursor skips keys.
		last, _ := changes.Cursor().Last()
		var old [][]byte
		c := changes.Cursor()
		for k, v := c.First(); k != nil && string(k) != string(last); k, v = c.Next() {
			ch := &eventsv1.EventChange{}
			if err := proto.Unmarshal(v, ch); err != nil {
				return err
			}
			if !ch.GetChangeTime().AsTime().Before(before) {
				break
			}
			old = append(old, append([]byte(nil), k...))
		}
		if len(old) == 0 {
			return nil
		}
		for _, k := range old {
			if err := changes.Delete(k); err != nil {
				return err
			}
		}
		removed = len(old)
		through := old[len(old)-1]
		return root.Bucket(bucketMeta).Put(keyCompacted, through)
	})
	return removed, err
}

// Backup implements store.Store.
func (s *Store) Backup(ctx context.Context, send func([]byte) error) error {
	return backup.Stream(ctx, s.db, send)
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.group.Close()
	s.stopTrim()
	return s.db.Close()
}
