// Package boltstore keeps registrations in a bbolt database.
//
// Bucket layout (schema version 1):
//
//	v1/
//	  events/
//	    <event id>/
//	      registrations/
//	        <registration id> → [NUL <length, uvarint> <hex SHA-256 of the manage secret>]
//	                            convene.registrations.v1.Registration, protobuf binary
//	                            (ids begin with the event bucket's sequence number,
//	                             so key order is arrival order)
//	        <registration id> "\x00secret" → the secret's hash, as format 2 kept it:
//	                            read, never written
//	      emails/             (package runindex: sorted runs of)
//	        <trimmed lower-case e-mail> → <registration id>   (not cancelled ones)
//	      waitlist/
//	        <registration id> → ""        the WAITLISTED ones, in arrival order
//	      secrets/            (databases written before the secrets moved in
//	                           with the registrations: read, never written)
//	        <registration id> → hex SHA-256 of the participant's manage secret
//	      counts → store.Counts as JSON
//	      event  → convene.events.v1.Event: the service's last copy of the
//	               event's state, window and policy
//	  requests/               (package runindex: sorted runs of)
//	    <request id> → "<event id>/<registration id>"
//	  meta/
//	    feed_sequence → the last change of the events feed applied (8 bytes big-endian)
//	    format        → formatVersion (8 bytes big-endian); absent before version 2
//
// A registration's secret hash is the head of its value (encodeValue), not
// a key of its own: the two are written together, and are one Put and one
// leaf element instead of two. A bucket of their own (format 1) made every
// group commit rewrite that bucket's pages too — four 4 KiB pages of about
// twenty-five (BENCHMARKS.md); a key of their own beside the registration
// (format 2) cost each create a second Put and a leaf element of its own
// (BenchmarkInsertInTx: 9.9 µs an insert then, 8.9 µs now). Readers of the
// registrations skip format 2's keys.
//
// Every write — the admission check, the registration, its indexes and the
// counters — is one bbolt transaction: the rules hold under any concurrency
// because bbolt runs one writer at a time. Concurrent writes are group
// committed (boltdb.Group): many share one transaction and one fsync, and
// each write function may run more than once.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/backup"
	"convene.dev/platform/boltdb"
	"convene.dev/platform/errdefs"
	"convene.dev/platform/etag"
	"convene.dev/platform/ids"
	"convene.dev/services/registrations/internal/store"
	"convene.dev/services/registrations/internal/store/runindex"
)

var (
	bucketV1            = []byte("v1")
	bucketEvents        = []byte("events")
	bucketRequests      = []byte("requests")
	bucketRegistrations = []byte("registrations")
	bucketEmails        = []byte("emails")
	bucketWaitlist      = []byte("waitlist")
	bucketSecrets       = []byte("secrets")
	bucketMeta          = []byte("meta")
	keyCounts           = []byte("counts")
	keyEvent            = []byte("event")
	keyFeedSequence     = []byte("feed_sequence")
	keyFormat           = []byte("format")
	// secretSuffix followed a registration id to make the key of its secret
	// hash in format 2; ids are base32 text, so the NUL sorts the key right
	// after the registration's own and marks it for readers to skip.
	secretSuffix = []byte("\x00secret")
)

func secretKey(id string) []byte { return append([]byte(id), secretSuffix...) }

// isSecretKey tells a format 2 secret hash's key from a registration's.
func isSecretKey(k []byte) bool { return bytes.HasSuffix(k, secretSuffix) }

// secretMark begins a registration's value that holds its secret hash. No
// protobuf encoding begins with it (it would be a record of field 0, which
// does not exist), so a bare record — a registration without a secret, or
// one written before format 3 — is told from it by its first byte.
const secretMark = 0x00

// encodeValue is a registration's value: reg's record, after secretHash
// when there is one.
func encodeValue(secretHash string, reg *registrationsv1.Registration) ([]byte, error) {
	if secretHash == "" {
		return marshal.Marshal(reg)
	}
	// The record is several times longer than the head, so protobuf
	// allocates its exact size and copies the head in: one value, one copy.
	return marshal.MarshalAppend(appendHead(nil, secretHash), reg)
}

// newValue is a new registration's value, its record encoded already
// (etag.Stamp), with answerRoom spare bytes after it: the create's answer
// is the record and two fields more (service.encodedAnswer), appended
// there rather than copied to a new array. bbolt reads only the value's
// length, so nothing else ever uses those bytes.
func newValue(secretHash string, record []byte) []byte {
	if secretHash == "" {
		return record
	}
	v := make([]byte, 0, 1+binary.MaxVarintLen64+len(secretHash)+len(record)+answerRoom)
	return append(appendHead(v, secretHash), record...)
}

// appendHead appends the head of a value that holds secretHash.
func appendHead(b []byte, secretHash string) []byte {
	b = append(b, secretMark)
	b = binary.AppendUvarint(b, uint64(len(secretHash)))
	return append(b, secretHash...)
}

// splitValue parts a registration's value into its secret hash (nil when it
// has none) and its record; both are slices of v.
func splitValue(v []byte) (secretHash, record []byte, err error) {
	if len(v) == 0 || v[0] != secretMark {
		return nil, v, nil
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n > uint64(len(v)-1-w) {
		return nil, nil, errors.New("decode registration: its secret hash runs past its value")
	}
	end := 1 + w + int(n)
	return v[1+w : end], v[end:], nil
}

// answerRoom is the room encodeValue leaves after a new registration's
// value: a manage secret's record and a meeting URL's of ~80 characters.
const answerRoom = 160

const waitlisted = registrationsv1.RegistrationState_REGISTRATION_STATE_WAITLISTED

var marshal = proto.MarshalOptions{Deterministic: true}

// Store is a store.Store over bbolt.
type Store struct {
	db       *bolt.DB
	group    *boltdb.Group
	stopTrim func() // boltdb.KeepMappingSmall

	// shared is the state of the group transaction under way: each event's
	// view, with its counters decoded once and written once, before the
	// commit. Only the committer goroutine touches it.
	shared map[string]*eventTx
	// counts are the counters that the last commit wrote for each event
	// (the committer's alone, like shared): the next transaction copies
	// them instead of decoding them, while the stored bytes are the same.
	counts map[string]*committedCounts
	// settled holds, for each event whose waiting list was settled
	// (store.Tx.SettleWaitlist) with nothing changed since, the event
	// revision it was settled against; the committer's alone, like counts.
	// Kept in memory only: after a restart the first change of each event
	// looks at its waiting list again.
	settled map[string]int64
	// requests is the request-id index in the group transaction under way.
	requests *runindex.Index
	// filters keeps the indexes' Bloom filters in memory.
	filters *runindex.Filters

	// events caches the saved copies of the events (read on every
	// registration), filled on first read and kept current by the commits
	// that change them.
	eventsMu sync.RWMutex
	events   map[string]*eventsv1.Event

	// totals are the registrations by state in all events (the gauge that
	// every scrape of /metrics reads): read from every event's counters
	// once, at the first TotalsByState, then moved by each commit that
	// changes counters — rather than every event's bucket read per scrape
	// (11 ms and every event's page mapped in, with 10,000 events).
	totalsMu sync.Mutex
	totals   map[string]float64 // nil until the first TotalsByState
	totalsTx int                // the transaction they were first read in
}

// formatVersion is the layout this code reads and writes. 2: secret hashes
// with the registrations, index runs in the index's own bucket. 3: secret
// hashes inside the registrations' values, index runs packed into one
// value each (an older version would read the first as broken records and
// find no keys in the second, so it must refuse the file). It reads
// databases of earlier formats as they are (and writes its own way into
// them); a database of a later format was written by a newer version, whose
// layout it cannot know, and is refused untouched.
const formatVersion = 3

// committedCounts are an event's counters as a commit wrote them.
type committedCounts struct {
	raw    []byte
	counts *store.Counts // never changed: each transaction works on a copy
}

// groupSize is the most writes that share one transaction.
const groupSize = 128

var _ store.Store = (*Store)(nil)

// Open opens (or creates) the database file at path durably
// (boltdb.Open) and returns its store.
func Open(path string) (*Store, error) {
	db, err := boltdb.Open(path)
	if err != nil {
		return nil, err
	}
	s, err := New(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New creates the buckets if needed. The store takes ownership of db.
func New(db *bolt.DB) (*Store, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bucketV1)
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketEvents, bucketRequests, bucketMeta} {
			if _, err := root.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := root.Bucket(bucketMeta)
		if v := meta.Get(keyFormat); len(v) == 8 {
			if f := binary.BigEndian.Uint64(v); f > formatVersion {
				return fmt.Errorf("the database has format %d, written by a newer version of the registrations service (this one reads up to %d); run that version, or restore a backup taken before it", f, formatVersion)
			} else if f == formatVersion {
				return nil
			}
		}
		return meta.Put(keyFormat, binary.BigEndian.AppendUint64(nil, formatVersion))
	})
	if err != nil {
		return nil, fmt.Errorf("open registrations store %s: %w", db.Path(), err)
	}
	s := &Store{db: db, group: boltdb.NewGroup(db, groupSize), events: map[string]*eventsv1.Event{}, filters: runindex.NewFilters(),
		counts: map[string]*committedCounts{}, settled: map[string]int64{}, stopTrim: boltdb.KeepMappingSmall(db)}
	s.group.OnTransaction(
		func(*bolt.Tx) { s.shared, s.requests = map[string]*eventTx{}, nil },
		func(*bolt.Tx) error {
			for _, t := range s.shared {
				if err := t.commit(); err != nil {
					return err
				}
			}
			if s.requests != nil {
				if err := s.requests.Flush(); err != nil {
					return err
				}
			}
			s.shared, s.requests = nil, nil
			return nil
		})
	return s, nil
}

// eventInTx returns the event's view in the group transaction under way,
// shared by every write of that transaction.
func (s *Store) eventInTx(tx *bolt.Tx, eventID string) (*eventTx, error) {
	if t := s.shared[eventID]; t != nil {
		return t, nil
	}
	t, err := openEventWith(tx, eventID, true, s.counts[eventID])
	if err != nil {
		return nil, err
	}
	t.store = s
	t.settledRev, t.settled = s.settled[eventID]
	t.startTotals = make(map[string]int32, len(t.counts.ByState))
	for st, tally := range t.counts.ByState {
		t.startTotals[st] = tally.Total
	}
	s.shared[eventID] = t
	return t, nil
}

// cachedEvent returns the committed copy of an event, if it is cached.
func (s *Store) cachedEvent(eventID string) (*eventsv1.Event, bool) {
	s.eventsMu.RLock()
	defer s.eventsMu.RUnlock()
	ev, ok := s.events[eventID]
	return ev, ok
}

// cacheEvent records a committed copy of an event (nil: forgotten).
func (s *Store) cacheEvent(eventID string, ev *eventsv1.Event) {
	s.eventsMu.Lock()
	defer s.eventsMu.Unlock()
	if ev == nil {
		delete(s.events, eventID)
	} else {
		s.events[eventID] = ev
	}
}

// EmailKey is the form of an e-mail address that must be unique per event.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func notFound(eventID, id string) error {
	return fmt.Errorf("registration events/%s/registrations/%s: %w", eventID, id, errdefs.ErrNotFound)
}

// decode returns the registration of a value (encodeValue).
func decode(v []byte) (*registrationsv1.Registration, error) {
	reg, _, err := decodeValue(v)
	return reg, err
}

// decodeValue returns the registration of a value and the secret hash at
// its head (nil when there is none; a slice of v).
func decodeValue(v []byte) (*registrationsv1.Registration, []byte, error) {
	secretHash, record, err := splitValue(v)
	if err != nil {
		return nil, nil, err
	}
	reg, err := decodeRecord(record)
	return reg, secretHash, err
}

func decodeRecord(record []byte) (*registrationsv1.Registration, error) {
	reg := &registrationsv1.Registration{}
	if err := proto.Unmarshal(record, reg); err != nil { // Unmarshal copies: nothing of record is kept
		return nil, fmt.Errorf("decode registration: %w", err)
	}
	return reg, nil
}

// eventTx implements store.Tx over the buckets of one event.
type eventTx struct {
	tx      *bolt.Tx
	store   *Store // in write transactions: whose event cache follows the commit
	eventID string
	bucket  *bolt.Bucket // nil in a read transaction for an event with no bucket
	counts  *store.Counts
	dirty   bool
	emails  *runindex.Index // in write transactions, once used
	// eventWritten: this transaction has changed the saved event copy, so
	// the committed copy in the store's cache is no longer what it holds.
	eventWritten bool
	// startTotals are the totals by state when the transaction began
	// (write transactions only), for the store's totals.
	startTotals map[string]int32
	// settled: the waiting list is settled against event revision
	// settledRev (Store.settled, then this transaction's changes);
	// settledChanged: this transaction changed that.
	settled, settledChanged bool
	settledRev              int64
}

// openEvent returns the event's transaction view; with create, its buckets
// are made if missing.
func openEvent(tx *bolt.Tx, eventID string, create bool) (*eventTx, error) {
	return openEventWith(tx, eventID, create, nil)
}

// openEventWith is openEvent given the counters that the last commit wrote
// for the event, if known: when the stored counters are still those, they
// are copied rather than decoded.
func openEventWith(tx *bolt.Tx, eventID string, create bool, known *committedCounts) (*eventTx, error) {
	events := tx.Bucket(bucketV1).Bucket(bucketEvents)
	t := &eventTx{tx: tx, eventID: eventID, counts: &store.Counts{}}
	if create {
		b, err := events.CreateBucketIfNotExists([]byte(eventID))
		if err != nil {
			return nil, err
		}
		for _, name := range [][]byte{bucketRegistrations, bucketEmails, bucketWaitlist} {
			if _, err := b.CreateBucketIfNotExists(name); err != nil {
				return nil, err
			}
		}
		t.bucket = b
	} else {
		t.bucket = events.Bucket([]byte(eventID))
	}
	if t.bucket != nil {
		if v := t.bucket.Get(keyCounts); known != nil && bytes.Equal(v, known.raw) {
			t.counts = known.counts.Clone()
		} else if v != nil {
			if err := json.Unmarshal(v, t.counts); err != nil {
				return nil, fmt.Errorf("event %s counters: %w", eventID, err)
			}
		}
	}
	return t, nil
}

func (t *eventTx) sub(name []byte) *bolt.Bucket {
	if t.bucket == nil {
		return nil
	}
	b := t.bucket.Bucket(name)
	if b != nil && t.tx.Writable() && bytes.Equal(name, bucketRegistrations) {
		// Keyed by ids in the order made: new keys only ever go at the end,
		// so full pages are never split by an insert in their middle. bbolt
		// splits at half a page by default, which leaves these pages half
		// empty for good (twice the file, twice the pages mapped); the
		// setting lives as long as the transaction.
		b.FillPercent = appendOnlyFill
	}
	return b
}

// appendOnlyFill is how full bbolt fills the pages of buckets that are
// only appended to (see sub).
const appendOnlyFill = 0.9

// emailIndex is the event's index of e-mail addresses (EmailKey → id),
// kept as sorted runs (package runindex): addresses arrive in random order.
func (t *eventTx) emailIndex() *runindex.Index {
	if t.emails == nil {
		var filters *runindex.Filters
		if t.store != nil {
			filters = t.store.filters
		}
		t.emails = runindex.Open(t.sub(bucketEmails), filters)
	}
	return t.emails
}

func (t *eventTx) Get(id string) (*registrationsv1.Registration, error) {
	reg, _, err := t.read(id)
	return reg, err
}

// read returns a registration and the secret hash at the head of its value
// (nil when there is none there), valid for the life of the transaction.
func (t *eventTx) read(id string) (*registrationsv1.Registration, []byte, error) {
	regs := t.sub(bucketRegistrations)
	if regs == nil {
		return nil, nil, notFound(t.eventID, id)
	}
	v := regs.Get([]byte(id))
	if v == nil || isSecretKey([]byte(id)) {
		return nil, nil, notFound(t.eventID, id)
	}
	return decodeValue(v)
}

func (t *eventTx) NewName() (string, error) {
	seq, err := t.sub(bucketRegistrations).NextSequence()
	if err != nil {
		return "", err
	}
	return "events/" + t.eventID + "/registrations/" + ids.Ordered(seq), nil
}

func (t *eventTx) Insert(reg *registrationsv1.Registration, secretHash string) ([]byte, error) {
	prefix := "events/" + t.eventID + "/registrations/"
	id, ok := strings.CutPrefix(reg.GetName(), prefix)
	if !ok || id == "" {
		return nil, fmt.Errorf("insert: registration name %q is not from NewName", reg.GetName())
	}
	email := []byte(EmailKey(reg.GetParticipant().GetEmail()))
	emails := t.emailIndex()
	if emails.Get(email) != nil {
		return nil, errdefs.Newf(errdefs.ErrAlreadyExists, "EMAIL_ALREADY_REGISTERED",
			"%s is already registered for this event", reg.GetParticipant().GetEmail())
	}
	record, err := etag.Stamp(reg)
	if err != nil {
		return nil, fmt.Errorf("insert: encode registration: %w", err)
	}
	emails.Put(email, []byte(id))
	v := newValue(secretHash, record)
	if err := t.write(id, nil, reg, v); err != nil {
		return nil, err
	}
	return v[len(v)-len(record):], nil // with the room after it that newValue left
}

func (t *eventTx) Put(reg *registrationsv1.Registration) error {
	t.unsettle() // a changed registration may have freed a seat
	id := reg.GetName()[strings.LastIndexByte(reg.GetName(), '/')+1:]
	old, secretHash, err := t.read(id)
	if err != nil {
		return err
	}
	if reg.GetState() == registrationsv1.RegistrationState_REGISTRATION_STATE_CANCELLED {
		// A cancelled registration frees its address: the person may register again.
		email := []byte(EmailKey(old.GetParticipant().GetEmail()))
		if emails := t.emailIndex(); bytes.Equal(emails.Get(email), []byte(id)) {
			emails.Delete(email)
		}
	}
	v, err := encodeValue(string(secretHash), reg)
	if err != nil {
		return err
	}
	return t.write(id, old, reg, v)
}

// write stores v, reg's value (replacing old, nil for a new one), and
// brings the counters and the waiting list along.
func (t *eventTx) write(id string, old, reg *registrationsv1.Registration, v []byte) error {
	if err := t.sub(bucketRegistrations).Put([]byte(id), v); err != nil {
		return err
	}
	var err error
	wl := t.sub(bucketWaitlist)
	switch {
	case reg.GetState() == waitlisted && (old == nil || old.GetState() != waitlisted):
		err = wl.Put([]byte(id), nil)
	case reg.GetState() != waitlisted && old != nil && old.GetState() == waitlisted:
		err = wl.Delete([]byte(id))
	}
	if err != nil {
		return err
	}
	if old != nil {
		t.counts.Add(old, -1)
	}
	t.counts.Add(reg, +1)
	t.dirty = true
	return nil
}

func (t *eventTx) Counts() *store.Counts { return t.counts }

func (t *eventTx) WaitlistSettled(revision int64) bool {
	return t.store != nil && t.settled && t.settledRev == revision
}

func (t *eventTx) SettleWaitlist(revision int64) {
	t.settled, t.settledRev, t.settledChanged = true, revision, true
}

func (t *eventTx) unsettle() {
	if t.settled {
		t.settled, t.settledChanged = false, true
	}
}

func (t *eventTx) Waitlist(fn func(*registrationsv1.Registration) (bool, error)) error {
	wl := t.sub(bucketWaitlist)
	if wl == nil {
		return nil
	}
	// Collect first: fn may Put, which changes the bucket under a cursor.
	var idsInOrder []string
	if err := wl.ForEach(func(k, _ []byte) error {
		idsInOrder = append(idsInOrder, string(k))
		return nil
	}); err != nil {
		return err
	}
	for _, id := range idsInOrder {
		reg, err := t.Get(id)
		if err != nil {
			return err
		}
		more, err := fn(reg)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (t *eventTx) Event() *eventsv1.Event {
	if t.bucket == nil {
		return nil
	}
	v := t.bucket.Get(keyEvent)
	if v == nil {
		return nil
	}
	ev := &eventsv1.Event{}
	if proto.Unmarshal(v, ev) != nil {
		return nil // an unreadable copy is no copy: the service asks the events service
	}
	return ev
}

func (t *eventTx) SetEvent(ev *eventsv1.Event) error {
	// Nearly every call (one per registration) brings the copy already
	// saved: tell that from the committed copy kept in memory, without
	// decoding or encoding anything.
	if t.store != nil && !t.eventWritten {
		if saved, ok := t.store.cachedEvent(t.eventID); ok && saved.GetRevision() == ev.GetRevision() && saved.GetEtag() == ev.GetEtag() {
			return nil
		}
	}
	if prev := t.Event(); prev != nil && prev.GetRevision() > ev.GetRevision() {
		return nil
	}
	v, err := marshal.Marshal(ev)
	if err != nil {
		return err
	}
	if bytes.Equal(t.bucket.Get(keyEvent), v) {
		return nil
	}
	if t.store != nil {
		kept, id := proto.CloneOf(ev), t.eventID
		t.tx.OnCommit(func() { t.store.cacheEvent(id, kept) })
	}
	t.eventWritten = true
	t.unsettle() // another policy may seat those waiting
	return t.bucket.Put(keyEvent, v)
}

func (t *eventTx) ForgetEvent() error {
	if t.store != nil {
		id := t.eventID
		t.tx.OnCommit(func() { t.store.cacheEvent(id, nil) })
	}
	t.eventWritten = true
	t.unsettle()
	return t.bucket.Delete(keyEvent)
}

func (t *eventTx) ForEach(fn func(*registrationsv1.Registration) error) error {
	regs := t.sub(bucketRegistrations)
	if regs == nil {
		return nil
	}
	var all []*registrationsv1.Registration // decoded first: fn may Put
	if err := regs.ForEach(func(k, v []byte) error {
		if isSecretKey(k) {
			return nil
		}
		reg, err := decode(v)
		all = append(all, reg)
		return err
	}); err != nil {
		return err
	}
	for _, reg := range all {
		if err := fn(reg); err != nil {
			return err
		}
	}
	return nil
}

func (t *eventTx) SetFeedSequence(seq int64) error { return putFeedSequence(t.tx, seq) }

// commit writes the new e-mail index entries, and the counters if they
// changed; the store calls it once per transaction, after the last write.
func (t *eventTx) commit() error {
	if t.emails != nil {
		if err := t.emails.Flush(); err != nil {
			return err
		}
	}
	if t.store != nil && t.settledChanged {
		s, id, settled, rev := t.store, t.eventID, t.settled, t.settledRev
		t.tx.OnCommit(func() {
			if settled {
				s.settled[id] = rev
			} else {
				delete(s.settled, id)
			}
		})
	}
	if !t.dirty {
		return nil
	}
	v, err := json.Marshal(t.counts)
	if err != nil {
		return err
	}
	if err := t.bucket.Put(keyCounts, v); err != nil {
		return err
	}
	if t.store != nil { // the next transaction starts from these; the totals move
		s, id, txid := t.store, t.eventID, t.tx.ID()
		written, delta := &committedCounts{raw: v, counts: t.counts}, t.totalsDelta()
		t.tx.OnCommit(func() {
			s.counts[id] = written
			s.addTotals(txid, delta)
		})
	}
	return nil
}

// totalsDelta is how the transaction changed the totals by state.
func (t *eventTx) totalsDelta() map[string]float64 {
	delta := map[string]float64{}
	for st, tally := range t.counts.ByState {
		if d := tally.Total - t.startTotals[st]; d != 0 {
			delta[st] = float64(d)
		}
	}
	for st, n := range t.startTotals {
		if _, ok := t.counts.ByState[st]; !ok && n != 0 {
			delta[st] = -float64(n)
		}
	}
	return delta
}

// addTotals moves the totals by one event's delta in a committed
// transaction, unless the totals were first read after it (or have not been
// read yet). A transaction that changed several events adds several deltas.
func (s *Store) addTotals(txid int, delta map[string]float64) {
	s.totalsMu.Lock()
	defer s.totalsMu.Unlock()
	if s.totals == nil || txid <= s.totalsTx {
		return
	}
	for st, d := range delta {
		s.totals[strings.TrimPrefix(st, "REGISTRATION_STATE_")] += d
	}
}

// Update implements store.Store.
func (s *Store) Update(_ context.Context, eventID string, fn func(store.Tx) error) error {
	return s.group.Update(func(tx *bolt.Tx) error {
		t, err := s.eventInTx(tx, eventID)
		if err != nil {
			return err
		}
		return fn(t) // the counters are written before the commit
	})
}

// Create implements store.Store.
func (s *Store) Create(_ context.Context, eventID, requestID string, fn func(store.Tx) (*registrationsv1.Registration, error)) (*registrationsv1.Registration, bool, error) {
	var out *registrationsv1.Registration
	created := false
	err := s.group.Update(func(tx *bolt.Tx) error {
		out, created = nil, false // a function run again starts afresh
		if s.requests == nil {
			s.requests = runindex.Open(tx.Bucket(bucketV1).Bucket(bucketRequests), s.filters)
		}
		requests := s.requests
		if requestID != "" {
			if prev := requests.Get([]byte(requestID)); prev != nil {
				reg, err := lookupRequest(tx, requestID, prev)
				if err != nil {
					return err
				}
				if !strings.HasPrefix(reg.GetName(), "events/"+eventID+"/") {
					return errdefs.Newf(errdefs.ErrAlreadyExists, "REQUEST_ID_REUSED",
						"request_id %s was already used for another event", requestID)
				}
				out = reg
				return nil
			}
		}
		t, err := s.eventInTx(tx, eventID)
		if err != nil {
			return err
		}
		reg, err := fn(t)
		if err != nil {
			return err
		}
		if requestID != "" {
			requests.Put([]byte(requestID), []byte(eventID+"/"+reg.GetName()[strings.LastIndexByte(reg.GetName(), '/')+1:]))
		}
		out, created = reg, true
		return nil // the counters are written before the commit
	})
	if err != nil {
		return nil, false, err
	}
	return out, created, nil
}

func lookupRequest(tx *bolt.Tx, requestID string, value []byte) (*registrationsv1.Registration, error) {
	eventID, id, _ := strings.Cut(string(value), "/")
	t, err := openEvent(tx, eventID, false)
	if err != nil {
		return nil, err
	}
	reg, err := t.Get(id)
	if err != nil {
		return nil, fmt.Errorf("request %s names a missing registration %s: %w", requestID, value, err)
	}
	return reg, nil
}

// Request implements store.Store.
func (s *Store) Request(_ context.Context, requestID string) (*registrationsv1.Registration, error) {
	var out *registrationsv1.Registration
	err := s.db.View(func(tx *bolt.Tx) error {
		v := runindex.Open(tx.Bucket(bucketV1).Bucket(bucketRequests), s.filters).Get([]byte(requestID))
		if v == nil {
			return fmt.Errorf("request %s: %w", requestID, errdefs.ErrNotFound)
		}
		var err error
		out, err = lookupRequest(tx, requestID, v)
		return err
	})
	return out, err
}

// Get implements store.Store.
func (s *Store) Get(_ context.Context, eventID, id string) (*registrationsv1.Registration, error) {
	var out *registrationsv1.Registration
	err := s.db.View(func(tx *bolt.Tx) error {
		t, err := openEvent(tx, eventID, false)
		if err != nil {
			return err
		}
		out, err = t.Get(id)
		return err
	})
	return out, err
}

// SecretHash implements store.Store.
func (s *Store) SecretHash(_ context.Context, eventID, id string) (string, error) {
	var hash string
	err := s.db.View(func(tx *bolt.Tx) error {
		t, err := openEvent(tx, eventID, false)
		if err != nil {
			return err
		}
		_, h, err := t.read(id)
		if err != nil {
			return err
		}
		if h == nil { // written by an earlier format, or none
			if h = t.sub(bucketRegistrations).Get(secretKey(id)); h == nil {
				if b := t.sub(bucketSecrets); b != nil {
					h = b.Get([]byte(id))
				}
			}
		}
		hash = string(h)
		return nil
	})
	return hash, err
}

// List implements store.Store.
func (s *Store) List(_ context.Context, eventID, after string, limit int, desc bool, match func(*registrationsv1.Registration) bool) ([]*registrationsv1.Registration, int, error) {
	var page []*registrationsv1.Registration
	total := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		t, err := openEvent(tx, eventID, false)
		if err != nil {
			return err
		}
		regs := t.sub(bucketRegistrations)
		if regs == nil {
			return nil
		}
		c := regs.Cursor()
		first, next := c.First, c.Next
		inPage := func(k []byte) bool { return after == "" || string(k) > after }
		if desc {
			first, next = c.Last, c.Prev
			inPage = func(k []byte) bool { return after == "" || string(k) < after }
		}
		for k, v := first(); k != nil; k, v = next() {
			if isSecretKey(k) {
				continue
			}
			reg, err := decode(v)
			if err != nil {
				return err
			}
			if !match(reg) {
				continue
			}
			total++
			if inPage(k) && len(page) < limit {
				page = append(page, reg)
			}
		}
		return nil
	})
	return page, total, err
}

// Counts implements store.Store.
func (s *Store) Counts(_ context.Context, eventID string) (*store.Counts, error) {
	var c *store.Counts
	err := s.db.View(func(tx *bolt.Tx) error {
		t, err := openEvent(tx, eventID, false)
		if err != nil {
			return err
		}
		c = t.counts
		return nil
	})
	return c, err
}

// Event implements store.Store.
// The copy is shared and read-only.
func (s *Store) Event(_ context.Context, eventID string) (*eventsv1.Event, error) {
	if ev, ok := s.cachedEvent(eventID); ok {
		return ev, nil
	}
	var ev *eventsv1.Event
	err := s.db.View(func(tx *bolt.Tx) error {
		t, err := openEvent(tx, eventID, false)
		if err != nil {
			return err
		}
		ev = t.Event()
		return nil
	})
	if err == nil && ev != nil {
		s.eventsMu.Lock()
		if _, ok := s.events[eventID]; !ok { // a commit may have been quicker
			s.events[eventID] = ev
		}
		s.eventsMu.Unlock()
	}
	return ev, err
}

// EventIDs implements store.Store.
func (s *Store) EventIDs(_ context.Context) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketV1).Bucket(bucketEvents).ForEachBucket(func(k []byte) error {
			if tx.Bucket(bucketV1).Bucket(bucketEvents).Bucket(k).Get(keyEvent) != nil {
				out = append(out, string(k))
			}
			return nil
		})
	})
	return out, err
}

// FeedSequence implements store.Store.
func (s *Store) FeedSequence(_ context.Context) (int64, error) {
	var seq int64
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketV1).Bucket(bucketMeta).Get(keyFeedSequence); len(v) == 8 {
			seq = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return seq, err
}

// SetFeedSequence implements store.Store.
func (s *Store) SetFeedSequence(_ context.Context, seq int64) error {
	return s.group.Update(func(tx *bolt.Tx) error { return putFeedSequence(tx, seq) })
}

func putFeedSequence(tx *bolt.Tx, seq int64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(seq))
	return tx.Bucket(bucketV1).Bucket(bucketMeta).Put(keyFeedSequence, v[:])
}

// Backup implements store.Store.
func (s *Store) Backup(ctx context.Context, send func([]byte) error) error {
	return backup.Stream(ctx, s.db, send)
}

// TotalsByState returns how many registrations there are in each state, in
// all events. The first call reads every event's counters (no registration
// is read); the commits keep them current from there.
func (s *Store) TotalsByState(_ context.Context) (map[string]float64, error) {
	// Held through the first read, so that no commit's delta falls between
	// the read transaction and the totals it gives (addTotals waits).
	s.totalsMu.Lock()
	defer s.totalsMu.Unlock()
	if s.totals == nil {
		totals, txid, err := s.readTotals()
		if err != nil {
			return nil, err
		}
		s.totals, s.totalsTx = totals, txid
	}
	return maps.Clone(s.totals), nil
}

// readTotals adds up every event's counters, and says in which
// transaction.
func (s *Store) readTotals() (map[string]float64, int, error) {
	out := map[string]float64{}
	txid := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		txid = tx.ID()
		events := tx.Bucket(bucketV1).Bucket(bucketEvents)
		return events.ForEachBucket(func(k []byte) error {
			t, err := openEvent(tx, string(k), false)
			if err != nil {
				return err
			}
			for st, tally := range t.counts.ByState {
				out[strings.TrimPrefix(st, "REGISTRATION_STATE_")] += float64(tally.Total)
			}
			return nil
		})
	})
	return out, txid, err
}

// Collector exports the database's statistics to Prometheus.
func (s *Store) Collector() prometheus.Collector { return boltdb.Collector(s.db, s.group) }

// Close implements store.Store: it waits for the writes under way.
func (s *Store) Close() error {
	s.group.Close()
	s.stopTrim()
	return s.db.Close()
}
