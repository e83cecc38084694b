package runindex

import (
	"encoding/binary"
	"math/bits"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// A filter is a Bloom filter of one run's keys: a lookup reads only the
// runs whose filter may hold its key (about 1 in 1,400 of the others), not
// every run. It is written next to its run when the run is made and kept in
// memory (Filters) once read.
//
// Filters come in two layouts, told apart by their encoding's length:
//
//   - blocked (written since the tenth round, BENCHMARKS.md): the key's
//     xxhash picks one 512-bit block, a cache line, and seven bits in it.
//     Encoded as filterBlocked and then the words, so its length is one
//     more than a multiple of 8: older binaries do not take it for a
//     filter, and search the run instead (slower, still right).
//   - classic (before): seven bits anywhere in the filter, probed from the
//     key's FNV-1a hash with a 64-bit division each. Read as written.
//
// A lookup through every run of an index (~15) took 238 ns with classic
// filters and 146 ns with blocked ones, and hashing a key 35 ns with FNV-1a
// against 10 ns with xxhash; both at about the same false positives.
type filter struct {
	bits    []uint64
	blocked bool
}

const (
	// bitsPerKey: ~0.07 % false positives with filterProbes probes. It was
	// 10 (~0.8 %) before runs were packed: a false positive then read a
	// leaf or two of the run's B+tree, now it binary-searches the packed
	// run across the mapped file (~18 probes, each a page of its own in a
	// large run): at 1,000,000 stored, the service ended `make bench`'s
	// creates with 95 MiB of the file mapped, against 32 MiB with 16 (a
	// peak RSS of 161 against 137 MiB). Classic filters written with 10
	// stay valid: the probes are the same, only the bits fewer.
	bitsPerKey   = 16
	filterProbes = 7

	// blockWords is a blocked filter's block: 512 bits, one cache line.
	blockWords = 8
	// filterBlocked is the first byte of a blocked filter's encoding.
	filterBlocked = 2
)

// probe is a key and its hashes for the filters it meets: the blocked
// layout's at once, the classic one's when a classic filter asks for it.
type probe struct {
	key        []byte
	h          uint64 // xxhash
	classic    keyHash
	hasClassic bool
}

func newProbe(key []byte) probe { return probe{key: key, h: xxhash.Sum64(key)} }

func (p *probe) classicHash() keyHash {
	if !p.hasClassic {
		p.classic, p.hasClassic = hashKey(p.key), true
	}
	return p.classic
}

// keyHash is the two hashes a classic filter probes with, from one FNV-1a
// hash of the key (stable across processes: filters are stored).
type keyHash struct{ h1, h2 uint64 }

func hashKey(key []byte) keyHash {
	h := uint64(14695981039346656037) // FNV-1a, inline: hash/fnv's hasher is an allocation per lookup
	for _, c := range key {
		h = (h ^ uint64(c)) * 1099511628211
	}
	// splitmix64's finaliser for the second hash, made odd so that the
	// probes step through every bit position.
	return keyHash{h1: h, h2: mix(h) | 1}
}

// mix is splitmix64's finaliser: every bit of h moves about half of the
// result's.
func mix(h uint64) uint64 {
	z := h + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// newFilter returns an empty blocked filter for keys keys.
func newFilter(keys uint64) *filter {
	blocks := (keys*bitsPerKey + 64*blockWords - 1) / (64 * blockWords)
	return &filter{bits: make([]uint64, max(blocks, 1)*blockWords), blocked: true}
}

// block is the block of a blocked filter that h falls in: h scaled to the
// number of blocks (no division).
func (f *filter) block(h uint64) []uint64 {
	hi, _ := bits.Mul64(h, uint64(len(f.bits)/blockWords))
	i := int(hi) * blockWords
	return f.bits[i : i+blockWords : i+blockWords]
}

// add puts a key, by its xxhash, into a blocked filter.
func (f *filter) add(h uint64) {
	b := f.block(h)
	g := mix(h) // the seven bits' positions: nine bits of it each
	for range filterProbes {
		b[g>>6&(blockWords-1)] |= 1 << (g & 63)
		g >>= 9
	}
}

// addClassic puts a key into a classic filter (tests write them as earlier
// versions did).
func (f *filter) addClassic(h keyHash) {
	m := uint64(len(f.bits)) * 64
	for i := range uint64(filterProbes) {
		b := (h.h1 + i*h.h2) % m
		f.bits[b/64] |= 1 << (b % 64)
	}
}

func (f *filter) mayContain(p *probe) bool {
	if f.blocked {
		b := f.block(p.h)
		g := mix(p.h)
		for range filterProbes {
			if b[g>>6&(blockWords-1)]&(1<<(g&63)) == 0 {
				return false
			}
			g >>= 9
		}
		return true
	}
	h := p.classicHash()
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
	out := make([]byte, 0, 1+8*len(f.bits))
	if f.blocked {
		out = append(out, filterBlocked)
	}
	for _, w := range f.bits {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	return out
}

// decodeFilter reads an encoded filter of either layout; nil when v is not
// one.
func decodeFilter(v []byte) *filter {
	f := &filter{}
	switch {
	case len(v) > 0 && len(v)%8 == 0: // classic
	case len(v)%8 == 1 && v[0] == filterBlocked && (len(v)-1)/8 >= blockWords && (len(v)-1)/8%blockWords == 0:
		f.blocked, v = true, v[1:]
	default:
		return nil
	}
	f.bits = make([]uint64, len(v)/8)
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
