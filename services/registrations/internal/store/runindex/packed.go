package runindex

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	bolt "go.etcd.io/bbolt"
)

// A run's entries are packed into one value, under packedName in the run's
// bucket, rather than kept one key each. A run is written once, whole, and
// only ever read after: a B+tree of its own bought it nothing but a bbolt
// Put per entry (the larger part of a merge's CPU) and a 16-byte leaf
// element per entry. A lookup binary-searches the value where it lies in
// the mapped file. Runs written before (one key per entry, from firstKey
// on) are read and merged as they are.
//
// The value, entries sorted by key:
//
//	entry*   uvarint(len(key)) key uvarint(len(val)) val   (val: 'v' value, or 't')
//	offset*  uint32, little-endian: where each entry begins
//	count    uint32, little-endian
var packedName = []byte("\x00p")

// packed is a parsed packed value.
type packed struct {
	entries []byte // the entries
	offsets []byte // 4 bytes per entry
	n       int
}

// parsePacked reads the frame of a packed value; false when v is too short
// for the count it ends with.
func parsePacked(v []byte) (packed, bool) {
	if len(v) < 4 {
		return packed{}, false
	}
	end := len(v) - 4
	n := binary.LittleEndian.Uint32(v[end:])
	if uint64(n)*4 > uint64(end) {
		return packed{}, false
	}
	start := end - int(n)*4
	return packed{entries: v[:start], offsets: v[start:end], n: int(n)}, true
}

// entry returns the i-th key and val; false when the bytes there are not
// an entry (a damaged value).
func (p packed) entry(i int) (key, val []byte, ok bool) {
	off := uint64(binary.LittleEndian.Uint32(p.offsets[4*i:]))
	if off >= uint64(len(p.entries)) {
		return nil, nil, false
	}
	rest := p.entries[off:]
	if key, rest, ok = cutBytes(rest); !ok {
		return nil, nil, false
	}
	val, _, ok = cutBytes(rest)
	return key, val, ok && len(val) > 0
}

// cutBytes reads a uvarint length and that many bytes.
func cutBytes(b []byte) (field, rest []byte, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, false
	}
	return b[w : w+int(n)], b[w+int(n):], true
}

// get returns key's val, or nil.
func (p packed) get(key []byte) []byte {
	lo, hi := 0, p.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		k, _, ok := p.entry(m)
		if !ok {
			return nil
		}
		if bytes.Compare(k, key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < p.n {
		if k, v, ok := p.entry(lo); ok && bytes.Equal(k, key) {
			return v
		}
	}
	return nil
}

// packer lays out a packed value and its run's filter, entry by entry, in
// key order.
type packer struct {
	buf     []byte
	offsets []uint32
	filter  *filter
}

// newPacker starts a run of at most keys entries of about size bytes in all.
func newPacker(keys uint64, size int) *packer {
	return &packer{
		buf:     make([]byte, 0, size+4*int(keys)+4),
		offsets: make([]uint32, 0, keys),
		filter:  newFilter(keys),
	}
}

// add appends an entry: key, and its val as tag ('v' or 't') and value.
func (p *packer) add(key []byte, tag byte, value []byte) {
	p.offsets = append(p.offsets, uint32(len(p.buf)))
	p.buf = binary.AppendUvarint(p.buf, uint64(len(key)))
	p.buf = append(p.buf, key...)
	p.buf = binary.AppendUvarint(p.buf, uint64(1+len(value)))
	p.buf = append(p.buf, tag)
	p.buf = append(p.buf, value...)
	p.filter.add(xxhash.Sum64(key))
}

func (p *packer) len() int { return len(p.offsets) }

// finish returns the packed value.
func (p *packer) finish() []byte {
	for _, off := range p.offsets {
		p.buf = binary.LittleEndian.AppendUint32(p.buf, off)
	}
	return binary.LittleEndian.AppendUint32(p.buf, uint32(len(p.offsets)))
}

// runIter steps through a run's entries in key order, packed or one key
// each.
type runIter struct {
	c        *bolt.Cursor // a run written one key per entry
	p        packed
	i        int
	key, val []byte // the current entry; key is nil past the last
	err      error
}

// iter returns an iterator at run i's first entry.
func (ix *Index) iter(i int) *runIter {
	it := &runIter{}
	if p, isPacked, err := ix.runPacked(i); err != nil {
		it.err = err
	} else if isPacked {
		it.p = p
		it.load()
	} else {
		it.c = ix.runBucket(i).Cursor()
		it.keyed(it.c.Seek(firstKey))
	}
	return it
}

func (it *runIter) next() {
	if it.c != nil {
		it.keyed(it.c.Next())
		return
	}
	it.i++
	it.load()
}

// keyed takes the cursor's entry of a run written one key per entry; one
// without its 'v' or 't' is damage, as in a packed run.
func (it *runIter) keyed(k, v []byte) {
	it.key, it.val = k, v
	if k != nil && len(v) == 0 {
		it.key, it.val = nil, nil
		it.err = fmt.Errorf("runindex: entry %q of a run is damaged", k)
	}
}

func (it *runIter) load() {
	it.key, it.val = nil, nil
	if it.i >= it.p.n {
		return
	}
	k, v, ok := it.p.entry(it.i)
	if !ok {
		it.err = fmt.Errorf("runindex: entry %d of a packed run is damaged", it.i)
		return
	}
	it.key, it.val = k, v
}
