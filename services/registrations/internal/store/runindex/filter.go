package runindex

import (
	"encoding/binary"
	"sync"
)

// A filter is a Bloom filter of one run's keys: a lookup reads only the
// runs whose filter may hold its key (about 1 in 1,400 of the others), not
// every run. It is written next to its run when the run is made and kept in
// memory (Filters) once read.
type filter struct {
	bits []uint64
}

const (
	// bitsPerKey: ~0.07 % false positives with filterProbes probes. It was
	// 10 (~0.8 %) before runs were packed: a false positive then read a
	// leaf or two of the run's B+tree, now it binary-searches the packed
	// run across the mapped file (~18 probes, each a page of its own in a
	// large run): at 1,000,000 stored, the service ended `make bench`'s
	// creates with 95 MiB of the file mapped, against 32 MiB with 16 (a
	// peak RSS of 161 against 137 MiB). Filters written with 10 stay
	// valid: the probes are the same, only the bits fewer.
	bitsPerKey   = 16
	filterProbes = 7
)

// keyHash is the two hashes a filter probes with, from one FNV-1a hash of
// the key (stable across processes: filters are stored).
type keyHash struct{ h1, h2 uint64 }

func hashKey(key []byte) keyHash {
	h := uint64(14695981039346656037) // FNV-1a, inline: hash/fnv's hasher is an allocation per lookup
	for _, c := range key {
		h = (h ^ uint64(c)) * 1099511628211
	}
	// splitmix64's finaliser for the second hash, made odd so that the
	// probes step through every bit position.
	z := h + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return keyHash{h1: h, h2: (z ^ z>>31) | 1}
}

func newFilter(keys uint64) *filter {
	words := (keys*bitsPerKey + 63) / 64
	return &filter{bits: make([]uint64, max(words, 1))}
}

func (f *filter) add(h keyHash) {
	m := uint64(len(f.bits)) * 64
	for i := range uint64(filterProbes) {
		b := (h.h1 + i*h.h2) % m
		f.bits[b/64] |= 1 << (b % 64)
	}
}

func (f *filter) mayContain(h keyHash) bool {
	m := uint64(len(f.bits)) * 64
	for i := range uint64(filterProbes) {
		b := (h.h1 + i*h.h2) % m
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

func (f *filter) encode() []byte {
	out := make([]byte, 0, 8*len(f.bits))
	for _, w := range f.bits {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	return out
}

// decodeFilter reads an encoded filter; nil when v is not one.
func decodeFilter(v []byte) *filter {
	if len(v) == 0 || len(v)%8 != 0 {
		return nil
	}
	f := &filter{bits: make([]uint64, len(v)/8)}
	for i := range f.bits {
		f.bits[i] = binary.LittleEndian.Uint64(v[8*i:])
	}
	return f
}

// Filters keeps the filters of runs in memory, across transactions, for
// one database. Runs are named with a random part, so a name always means
// the same keys; the filters of merged runs are dropped. (A read
// transaction older than a merge may bring one back; it is never used
// again, and stays until the process ends: 2 bytes per key of its run,
// up to ~520 KB for the largest.)
type Filters struct {
	mu sync.RWMutex
	m  map[string]*filter
}

// NewFilters returns an empty cache.
func NewFilters() *Filters { return &Filters{m: map[string]*filter{}} }

func (c *Filters) get(name []byte) *filter {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[string(name)]
}

func (c *Filters) put(name []byte, f *filter) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[string(name)] = f
}

func (c *Filters) drop(name []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, string(name))
}
