// Package runindex keeps a key → value index inside a bbolt bucket as a
// few sorted runs instead of one B+tree, for indexes whose keys arrive in
// random order (e-mail addresses, request ids).
//
// In one B+tree every random key lands on a different leaf, and bbolt
// rewrites that whole 4 KiB page (and its branch pages) at the commit: a
// group commit of 20 registrations wrote ~70 pages for its two indexes
// alone (BENCHMARKS.md). Here the keys a transaction adds are written
// together, sorted, as one new run (a nested bucket), and runs of about the same size are merged
// into one when there are fanIn of them — a log-structured merge done
// inside bbolt's own transactions, so it is as atomic and durable as any
// other write. A key is rewritten about log₈ of the index's size times, each
// time in sequential, full pages; a lookup reads the transaction's pending
// keys, then the runs from newest to oldest whose Bloom filter (filter.go)
// may hold the key.
//
// Layout inside the index's bucket:
//
//	<seq:8><size:8><random:8>/   one nested bucket per run, oldest first:
//	  "\x00f"                    → the run's Bloom filter
//	  "\x00p"                    → the run's entries, packed (packed.go): each
//	                               key with 'v' <value>, or 't' for a deleted key
//	  <key>                      → 'v' <value>, or 't': runs written before
//	                               packing, one key per entry (read only)
//	<key> → <value>              the base: pairs written before runs existed (read only)
//
// seq is the bucket's sequence, so a run's name begins with a NUL byte (for
// the first 2⁵⁶ runs) and sorts before every indexed key, which is text.
// size is the number of entries in the run; the random part makes a name
// unique for good, so that a filter kept in memory by name can never belong
// to other keys.
//
// The runs sit in the index's own bucket rather than in a bucket of their
// own below it, and each run keeps its filter: the index's bucket holds
// only the runs' names, a page or so, which is all that a commit rewrites
// of it besides the new run — where runs, filters (up to ~520 KB each) and
// a bucket level between cost a commit several pages per index. Indexes
// written by earlier versions keep their runs in "\x00runs" and filters
// next to them (<name> 'f'); they are read, and written to, as they are.
package runindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// legacyRunsName is the bucket that held the runs in earlier versions.
var legacyRunsName = []byte("\x00runs")

// filterName is the key of a run's filter in the run: it sorts before
// every indexed key.
var filterName = []byte("\x00f")

// firstKey is where the indexed keys begin in a run.
var firstKey = []byte{1}

const (
	// fanIn is how many runs of one size class are merged into one.
	fanIn = 8
	// defaultMaxMerge bounds the entries one merge writes, and so the size
	// of the transaction that does it (~20 MiB of pages and as much memory
	// held until its commit). Runs that would merge beyond it stay as they are.
	defaultMaxMerge = 1 << 18

	live    = 'v'
	deleted = 't'
)

// Index is one transaction's view of an index. In a write transaction,
// Put and Delete are kept in memory until Flush writes them as one run;
// Get sees them at once.
type Index struct {
	b       *bolt.Bucket // nil: an index that does not exist (read transactions)
	runsB   *bolt.Bucket // where the runs are: b, or its legacy runs bucket; set by load
	filters *Filters
	loaded  bool
	// baseEmpty: b holds no pairs of its own (an index made with runs), so
	// a lookup need not search it.
	baseEmpty bool
	runs      []run // oldest first
	pending   map[string]entry

	maxMerge uint64 // defaultMaxMerge; tests lower it
}

type run struct {
	name   []byte
	size   uint64
	bucket *bolt.Bucket // opened on first use
	filter *filter      // read on first use; nil: none stored
	// packed holds the run's entries when kind is packedRun; kind is read
	// on first use.
	packed packed
	kind   runKind
}

type runKind uint8

const (
	unread     runKind = iota
	packedRun          // its entries in one value (packed.go)
	keyedRun           // one key per entry, as written before packing
	damagedRun         // a packed value that does not parse
)

// nameLen is the length of a run's name; its filter's key is one longer.
const nameLen = 24

type entry struct {
	value   []byte
	deleted bool
}

// Open returns the index kept in b; a nil b is an empty index. filters
// (may be nil) keeps the runs' filters in memory between transactions.
func Open(b *bolt.Bucket, filters *Filters) *Index {
	return &Index{b: b, filters: filters, maxMerge: defaultMaxMerge}
}

// Get returns the value of key, or nil. The value is valid for the life
// of the transaction.
func (ix *Index) Get(key []byte) []byte {
	if e, ok := ix.pending[string(key)]; ok {
		if e.deleted {
			return nil
		}
		return e.value
	}
	if ix.b == nil {
		return nil
	}
	ix.load()
	p := newProbe(key)
	for i := len(ix.runs) - 1; i >= 0; i-- {
		if f := ix.runFilter(i); f != nil && !f.mayContain(&p) {
			continue
		}
		if v := ix.runGet(i, key); len(v) > 0 {
			if v[0] == deleted {
				return nil
			}
			return v[1:]
		}
	}
	if ix.baseEmpty {
		return nil
	}
	return ix.b.Get(key) // nil for a run's name: a nested bucket
}

// Put sets key to value (both copied) in the transaction.
func (ix *Index) Put(key, value []byte) {
	ix.set(key, entry{value: bytes.Clone(value)})
}

// Delete removes key in the transaction.
func (ix *Index) Delete(key []byte) {
	ix.set(key, entry{deleted: true})
}

func (ix *Index) set(key []byte, e entry) {
	if ix.pending == nil {
		ix.pending = map[string]entry{}
	}
	ix.pending[string(key)] = e
}

// Flush writes the transaction's changes as a new run and merges runs as
// needed. Call it once, before the commit; it does nothing when nothing
// changed.
func (ix *Index) Flush() error {
	if len(ix.pending) == 0 {
		return nil
	}
	if ix.b == nil {
		return errors.New("runindex: Flush on an index without a bucket")
	}
	ix.load()
	keys := make([]string, 0, len(ix.pending))
	size := 0
	for k, e := range ix.pending {
		keys = append(keys, k)
		size += len(k) + len(e.value) + 2*binary.MaxVarintLen16 + 1
	}
	slices.Sort(keys)
	pk := newPacker(uint64(len(keys)), size)
	for _, k := range keys {
		if e := ix.pending[k]; e.deleted {
			pk.add([]byte(k), deleted, nil)
		} else {
			pk.add([]byte(k), live, e.value)
		}
	}
	if err := ix.addRun(pk); err != nil {
		return err
	}
	ix.pending = nil
	return ix.compact()
}

// load lists the runs, once per transaction.
func (ix *Index) load() {
	if ix.loaded || ix.b == nil {
		return
	}
	ix.loaded = true
	// The base pairs are the keys that do not begin with a NUL.
	first, _ := ix.b.Cursor().Seek([]byte{1})
	ix.baseEmpty = first == nil
	ix.runsB = ix.b.Bucket(legacyRunsName)
	if ix.runsB == nil {
		ix.runsB = ix.b
	}
	c := ix.runsB.Cursor()
	for k, v := c.First(); k != nil && k[0] == 0; k, v = c.Next() {
		if v == nil && len(k) == nameLen { // a nested bucket: a run
			ix.runs = append(ix.runs, run{name: bytes.Clone(k), size: binary.BigEndian.Uint64(k[8:])})
		}
	}
}

func (ix *Index) runBucket(i int) *bolt.Bucket {
	r := &ix.runs[i]
	if r.bucket == nil {
		r.bucket = ix.runsB.Bucket(r.name)
	}
	return r.bucket
}

// runPacked returns run i's packed entries; false for a run written one
// key per entry.
func (ix *Index) runPacked(i int) (packed, bool, error) {
	r := &ix.runs[i]
	if r.kind == unread {
		r.kind = keyedRun
		if v := ix.runBucket(i).Get(packedName); v != nil {
			r.kind = damagedRun
			if p, ok := parsePacked(v); ok {
				r.packed, r.kind = p, packedRun
			}
		}
	}
	if r.kind == damagedRun { // every time: a merge must not take it for a run without entries
		return packed{}, false, fmt.Errorf("runindex: the packed entries of run %x are damaged", r.name)
	}
	return r.packed, r.kind == packedRun, nil
}

// runGet returns key's entry in run i ('v' value or 't'), or nil. A run
// whose entries are damaged holds nothing for it (merging it fails).
func (ix *Index) runGet(i int, key []byte) []byte {
	p, isPacked, err := ix.runPacked(i)
	switch {
	case err != nil:
		return nil
	case isPacked:
		return p.get(key)
	default:
		return ix.runBucket(i).Get(key)
	}
}

// runFilter returns run i's filter: kept with the run, in the Filters, or
// read from the database.
func (ix *Index) runFilter(i int) *filter {
	r := &ix.runs[i]
	if r.filter == nil {
		if r.filter = ix.filters.get(r.name); r.filter == nil {
			v := ix.runBucket(i).Get(filterName)
			if v == nil { // written by an earlier version
				v = ix.runsB.Get(filterKey(r.name))
			}
			if r.filter = decodeFilter(v); r.filter != nil {
				ix.filters.put(r.name, r.filter)
			}
		}
	}
	return r.filter
}

func filterKey(name []byte) []byte { return append(slices.Clip(name), 'f') }

// addRun writes pk's entries as a new run newer than every other, with
// its filter.
func (ix *Index) addRun(pk *packer) error {
	seq, err := ix.runsB.NextSequence()
	if err != nil {
		return err
	}
	size := uint64(pk.len())
	name := binary.BigEndian.AppendUint64(nil, seq)
	name = binary.BigEndian.AppendUint64(name, size)
	name = binary.BigEndian.AppendUint64(name, rand.Uint64())
	b, err := ix.runsB.CreateBucket(name)
	if err != nil {
		return err
	}
	v := pk.finish()
	p, _ := parsePacked(v) // just laid out
	if err := b.Put(packedName, v); err != nil {
		return err
	}
	if err := b.Put(filterName, pk.filter.encode()); err != nil {
		return err
	}
	ix.filters.put(name, pk.filter)
	ix.runs = append(ix.runs, run{name: name, size: size, bucket: b, filter: pk.filter, packed: p, kind: packedRun})
	return nil
}

// class is a run's size class: sizes within a factor of four share one.
func class(size uint64) int { return bits.Len64(size) / 2 }

// compact merges the newest runs while fanIn or more of them share the
// newest run's size class (older, smaller runs count as that class too, so
// that none is left behind a larger newer one).
func (ix *Index) compact() error {
	for {
		n := len(ix.runs)
		if n == 0 {
			return nil
		}
		top := class(ix.runs[n-1].size)
		lo := n - 1
		for lo > 0 && class(ix.runs[lo-1].size) <= top {
			lo--
		}
		if n-lo < fanIn {
			return nil
		}
		var total uint64
		for _, r := range ix.runs[lo:] {
			total += r.size
		}
		for total > ix.maxMerge && n-lo > fanIn { // too large: only the newest fanIn
			total -= ix.runs[lo].size
			lo++
		}
		if total > ix.maxMerge {
			return nil
		}
		if err := ix.merge(lo, total); err != nil {
			return err
		}
	}
}

// merge replaces the runs from lo on (the newest) with one run. Where a
// key is in several, the newest entry wins; a deletion is dropped when no
// older entry remains for it to hide.
func (ix *Index) merge(lo int, size uint64) error {
	src := ix.runs[lo:]
	its := make([]*runIter, len(src))
	bytesHint := 0
	for i := range src {
		its[i] = ix.iter(lo + i)
		if its[i].err != nil {
			return its[i].err
		}
		bytesHint += len(its[i].p.entries) // 0 for a run of one key per entry
	}
	oldest := lo == 0
	pk := newPacker(size, bytesHint)
	for {
		best := -1
		for i, it := range its {
			if it.key == nil {
				continue
			}
			if best < 0 || bytes.Compare(it.key, its[best].key) <= 0 { // on a tie the newer run wins
				best = i
			}
		}
		if best < 0 {
			break
		}
		k, v := its[best].key, its[best].val
		if v[0] != deleted || !oldest || (!ix.baseEmpty && ix.b.Get(k) != nil) {
			pk.add(k, v[0], v[1:])
		}
		for _, it := range its {
			if it.key != nil && bytes.Equal(it.key, k) {
				it.next()
				if it.err != nil {
					return it.err
				}
			}
		}
	}
	merged := slices.Clone(src)
	ix.runs = ix.runs[:lo]
	if pk.len() > 0 { // else every entry was a deletion with nothing left to hide
		if err := ix.addRun(pk); err != nil {
			return err
		}
	}
	for _, r := range merged {
		if err := ix.runsB.DeleteBucket(r.name); err != nil {
			return err
		}
		if err := ix.runsB.Delete(filterKey(r.name)); err != nil { // an earlier version's
			return err
		}
		ix.filters.drop(r.name)
	}
	return nil
}
