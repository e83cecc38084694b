// Package boltstore keeps events in a bbolt database.
//
// Bucket layout (schema version 1; a later version gets a new top-level
// bucket and a migration):
//
//	v1/
//	  events/
//	    <event id>   → convene.events.v1.Event, protobuf binary (deterministic)
//	  requests/
//	    <request id> → <event id>   the event a CreateEvent with that request_id made
//
// The events service is the only writer of its file, so the store also keeps
// every event decoded in memory: reads never touch the disk. Writers are
// serialised by a mutex held across the bbolt transaction and the update of
// the in-memory copy, so the two never disagree.
package boltstore

import (
	"context"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/services/events/internal/store"
)

var (
	bucketV1       = []byte("v1")
	bucketEvents   = []byte("events")
	bucketRequests = []byte("requests")
)

var marshal = proto.MarshalOptions{Deterministic: true}

// Store is a store.Store over bbolt.
type Store struct {
	db *bolt.DB

	writeMu sync.Mutex // held by writers across the transaction and the cache update

	mu     sync.RWMutex // guards events
	events map[string]*eventsv1.Event
}

var _ store.Store = (*Store)(nil)

// New creates the buckets if needed and loads every event into memory. The
// store takes ownership of db and closes it in Close.
func New(db *bolt.DB) (*Store, error) {
	s := &Store{db: db, events: map[string]*eventsv1.Event{}}
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketV1)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketEvents, bucketRequests} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return root.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
			ev := &eventsv1.Event{}
			if err := proto.Unmarshal(v, ev); err != nil {
				return fmt.Errorf("event %q: %w", k, err)
			}
			s.events[string(k)] = ev
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("open events store %s: %w", db.Path(), err)
	}
	return s, nil
}

func buckets(tx *bolt.Tx) (events, requests *bolt.Bucket) {
	root := tx.Bucket(bucketV1)
	return root.Bucket(bucketEvents), root.Bucket(bucketRequests)
}

// Get implements store.Store.
func (s *Store) Get(_ context.Context, id string) (*eventsv1.Event, error) {
	s.mu.RLock()
	ev, ok := s.events[id]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("event %q: %w", id, errdefs.ErrNotFound)
	}
	return proto.CloneOf(ev), nil
}

// List implements store.Store.
func (s *Store) List(context.Context) ([]*eventsv1.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*eventsv1.Event, 0, len(s.events))
	for _, ev := range s.events {
		out = append(out, ev)
	}
	return out, nil
}

// Create implements store.Store.
func (s *Store) Create(_ context.Context, id, requestID string, ev *eventsv1.Event) (*eventsv1.Event, bool, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var existing string
	err := s.db.Update(func(tx *bolt.Tx) error {
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
			return requests.Put([]byte(requestID), []byte(id))
		}
		return nil
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
	s.put(id, proto.CloneOf(ev))
	return ev, true, nil
}

// Update implements store.Store.
func (s *Store) Update(_ context.Context, id string, fn func(*eventsv1.Event) error) (*eventsv1.Event, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ev, err := s.Get(context.Background(), id)
	if err != nil {
		return nil, err
	}
	if err := fn(ev); err != nil {
		return nil, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		events, _ := buckets(tx)
		b, err := marshal.Marshal(ev)
		if err != nil {
			return err
		}
		return events.Put([]byte(id), b)
	})
	if err != nil {
		return nil, fmt.Errorf("update event %q: %w", id, err)
	}
	s.put(id, proto.CloneOf(ev))
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
	err = s.db.Update(func(tx *bolt.Tx) error {
		events, _ := buckets(tx)
		return events.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete event %q: %w", id, err)
	}
	s.mu.Lock()
	delete(s.events, id)
	s.mu.Unlock()
	return nil
}

func (s *Store) put(id string, ev *eventsv1.Event) {
	s.mu.Lock()
	s.events[id] = ev
	s.mu.Unlock()
}

// Close implements store.Store.
func (s *Store) Close() error { return s.db.Close() }
