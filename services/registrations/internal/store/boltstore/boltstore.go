// Package boltstore keeps registrations in a bbolt database.
//
// Bucket layout (schema version 1):
//
//	v1/
//	  events/
//	    <event id>/
//	      registrations/
//	        <registration id> → convene.registrations.v1.Registration, protobuf binary
//	                            (ids begin with the event bucket's sequence number,
//	                             so key order is arrival order)
//	      emails/
//	        <trimmed lower-case e-mail> → <registration id>   (live registrations only)
//	      counts → store.Counts as JSON
//	  requests/
//	    <request id> → "<event id>/<registration id>"
//
// Every write, with its admission check and its counter update, is one bbolt
// transaction: the rules of the store package's callers hold under any
// concurrency because bbolt serialises writers.
package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/ids"
	"convene.dev/services/registrations/internal/store"
)

var (
	bucketV1            = []byte("v1")
	bucketEvents        = []byte("events")
	bucketRequests      = []byte("requests")
	bucketRegistrations = []byte("registrations")
	bucketEmails        = []byte("emails")
	keyCounts           = []byte("counts")
)

var marshal = proto.MarshalOptions{Deterministic: true}

// Store is a store.Store over bbolt.
type Store struct {
	db *bolt.DB
}

var _ store.Store = (*Store)(nil)

// New creates the buckets if needed. The store takes ownership of db.
func New(db *bolt.DB) (*Store, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketV1)
		if err != nil {
			return err
		}
		if _, err := root.CreateBucketIfNotExists(bucketEvents); err != nil {
			return err
		}
		_, err = root.CreateBucketIfNotExists(bucketRequests)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open registrations store %s: %w", db.Path(), err)
	}
	return &Store{db: db}, nil
}

// EmailKey is the form of an e-mail address that must be unique per event.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// eventBuckets returns an event's buckets, or nil ones when the event has
// no registrations yet.
type eventBuckets struct {
	event, regs, emails *bolt.Bucket
}

func openEvent(tx *bolt.Tx, eventID string, create bool) (eventBuckets, error) {
	events := tx.Bucket(bucketV1).Bucket(bucketEvents)
	if !create {
		ev := events.Bucket([]byte(eventID))
		if ev == nil {
			return eventBuckets{}, nil
		}
		return eventBuckets{ev, ev.Bucket(bucketRegistrations), ev.Bucket(bucketEmails)}, nil
	}
	ev, err := events.CreateBucketIfNotExists([]byte(eventID))
	if err != nil {
		return eventBuckets{}, err
	}
	regs, err := ev.CreateBucketIfNotExists(bucketRegistrations)
	if err != nil {
		return eventBuckets{}, err
	}
	emails, err := ev.CreateBucketIfNotExists(bucketEmails)
	if err != nil {
		return eventBuckets{}, err
	}
	return eventBuckets{ev, regs, emails}, nil
}

func readCounts(b *bolt.Bucket) (*store.Counts, error) {
	c := &store.Counts{}
	if b == nil {
		return c, nil
	}
	if v := b.Get(keyCounts); v != nil {
		if err := json.Unmarshal(v, c); err != nil {
			return nil, fmt.Errorf("counters: %w", err)
		}
	}
	return c, nil
}

func writeCounts(b *bolt.Bucket, c *store.Counts) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return b.Put(keyCounts, v)
}

func putRegistration(b *bolt.Bucket, id string, reg *registrationsv1.Registration) error {
	v, err := marshal.Marshal(reg)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), v)
}

func decode(v []byte) (*registrationsv1.Registration, error) {
	reg := &registrationsv1.Registration{}
	if err := proto.Unmarshal(v, reg); err != nil {
		return nil, fmt.Errorf("decode registration: %w", err)
	}
	return reg, nil
}

// Create implements store.Store.
func (s *Store) Create(_ context.Context, eventID, requestID string, reg *registrationsv1.Registration, decide store.Decide) (*registrationsv1.Registration, bool, error) {
	var out *registrationsv1.Registration
	created := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		requests := tx.Bucket(bucketV1).Bucket(bucketRequests)
		if requestID != "" {
			if prev := requests.Get([]byte(requestID)); prev != nil {
				evID, regID, _ := strings.Cut(string(prev), "/")
				if evID != eventID {
					return errdefs.Newf(errdefs.ErrAlreadyExists, "REQUEST_ID_REUSED",
						"request_id %s was already used for another event", requestID)
				}
				b, err := openEvent(tx, evID, false)
				if err != nil {
					return err
				}
				v := b.regs.Get([]byte(regID))
				if v == nil {
					return fmt.Errorf("request %s names a missing registration %s", requestID, prev)
				}
				out, err = decode(v)
				return err
			}
		}
		b, err := openEvent(tx, eventID, true)
		if err != nil {
			return err
		}
		email := EmailKey(reg.GetParticipant().GetEmail())
		if b.emails.Get([]byte(email)) != nil {
			return errdefs.Newf(errdefs.ErrAlreadyExists, "EMAIL_ALREADY_REGISTERED",
				"%s is already registered for this event", reg.GetParticipant().GetEmail())
		}
		counts, err := readCounts(b.event)
		if err != nil {
			return err
		}
		seq, err := b.regs.NextSequence() // rolled back with the transaction if decide refuses
		if err != nil {
			return err
		}
		id := ids.Ordered(seq)
		r := proto.CloneOf(reg) // decide may run again if the transaction is retried
		r.Name = "events/" + eventID + "/registrations/" + id
		if err := decide(r, counts); err != nil {
			return err
		}
		counts.Add(r, +1)
		if err := putRegistration(b.regs, id, r); err != nil {
			return err
		}
		if err := b.emails.Put([]byte(email), []byte(id)); err != nil {
			return err
		}
		if err := writeCounts(b.event, counts); err != nil {
			return err
		}
		if requestID != "" {
			if err := requests.Put([]byte(requestID), []byte(eventID+"/"+id)); err != nil {
				return err
			}
		}
		out, created = r, true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

// Get implements store.Store.
func (s *Store) Get(_ context.Context, eventID, id string) (*registrationsv1.Registration, error) {
	var out *registrationsv1.Registration
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := openEvent(tx, eventID, false)
		if err != nil {
			return err
		}
		var v []byte
		if b.regs != nil {
			v = b.regs.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("registration events/%s/registrations/%s: %w", eventID, id, errdefs.ErrNotFound)
		}
		out, err = decode(v) // decode copies: nothing of v is kept
		return err
	})
	return out, err
}

// Update implements store.Store.
func (s *Store) Update(_ context.Context, eventID, id string, fn func(*registrationsv1.Registration, *store.Counts) error) (*registrationsv1.Registration, error) {
	var out *registrationsv1.Registration
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := openEvent(tx, eventID, false)
		if err != nil {
			return err
		}
		var v []byte
		if b.regs != nil {
			v = b.regs.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("registration events/%s/registrations/%s: %w", eventID, id, errdefs.ErrNotFound)
		}
		old, err := decode(v)
		if err != nil {
			return err
		}
		counts, err := readCounts(b.event)
		if err != nil {
			return err
		}
		reg := proto.CloneOf(old)
		if err := fn(reg, counts); err != nil {
			return err
		}
		counts.Add(old, -1)
		counts.Add(reg, +1)
		if err := putRegistration(b.regs, id, reg); err != nil {
			return err
		}
		if reg.GetState() == registrationsv1.RegistrationState_REGISTRATION_STATE_CANCELLED {
			// A cancelled registration frees its address: the person may register again.
			email := []byte(EmailKey(old.GetParticipant().GetEmail()))
			if bytes.Equal(b.emails.Get(email), []byte(id)) {
				if err := b.emails.Delete(email); err != nil {
					return err
				}
			}
		}
		if err := writeCounts(b.event, counts); err != nil {
			return err
		}
		out = reg
		return nil
	})
	return out, err
}

// List implements store.Store.
func (s *Store) List(_ context.Context, eventID, after string, limit int, match func(*registrationsv1.Registration) bool) ([]*registrationsv1.Registration, int, error) {
	var page []*registrationsv1.Registration
	total := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := openEvent(tx, eventID, false)
		if err != nil || b.regs == nil {
			return err
		}
		return b.regs.ForEach(func(k, v []byte) error {
			reg, err := decode(v)
			if err != nil {
				return err
			}
			if !match(reg) {
				return nil
			}
			total++
			if string(k) > after && len(page) < limit {
				page = append(page, reg)
			}
			return nil
		})
	})
	return page, total, err
}

// Counts implements store.Store.
func (s *Store) Counts(_ context.Context, eventID string) (*store.Counts, error) {
	var c *store.Counts
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := openEvent(tx, eventID, false)
		if err != nil {
			return err
		}
		c, err = readCounts(b.event)
		return err
	})
	return c, err
}

// Close implements store.Store.
func (s *Store) Close() error { return s.db.Close() }
