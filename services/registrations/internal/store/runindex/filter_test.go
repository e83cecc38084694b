package runindex

import (
	"fmt"
	"hash/fnv"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// TestFilter: in both layouts, no key added is ever missed, about 0.07 %
// of the others pass, and a filter reads back as it was written, layout
// and all; a classic filter of 10 bits a key, as written before runs were
// packed, still holds every key it was given.
func TestFilter(t *testing.T) {
	const n = 20000
	in := func(i int) []byte { return fmt.Appendf(nil, "in-%d@example.org", i) }
	out := func(i int) []byte { return fmt.Appendf(nil, "out-%d@example.org", i) }
	classic := func(bitsPerKey int) *filter {
		f := &filter{bits: make([]uint64, (n*bitsPerKey+63)/64)}
		for i := range n {
			f.addClassic(hashKey(in(i)))
		}
		return f
	}
	blocked := newFilter(n)
	for i := range n {
		blocked.add(xxhash.Sum64(in(i)))
	}
	for _, c := range []struct {
		name    string
		f       *filter
		maxRate float64
	}{{"blocked", blocked, 0.002}, {"classic", classic(16), 0.002}, {"classic, 10 bits", classic(10), 0.02}} {
		f := decodeFilter(c.f.encode())
		if f == nil || f.blocked != c.f.blocked || !slices.Equal(f.bits, c.f.bits) {
			t.Fatalf("%s: the filter does not read back as written", c.name)
		}
		for i := range n {
			p := newProbe(in(i))
			if !f.mayContain(&p) {
				t.Fatalf("%s: key %d was added to a filter of %d bits but the filter misses it", c.name, i, 64*len(f.bits))
			}
		}
		passed := 0
		for i := range n {
			if p := newProbe(out(i)); f.mayContain(&p) {
				passed++
			}
		}
		if rate := float64(passed) / n; rate > c.maxRate {
			t.Errorf("%s: %.3f %% of keys not added pass the filter, want under %.1f %%", c.name, 100*rate, 100*c.maxRate)
		}
	}
	for _, v := range [][]byte{nil, {1, 2, 3}, append([]byte{filterBlocked}, make([]byte, 8*7)...), append([]byte{9}, make([]byte, 8*8)...)} {
		if decodeFilter(v) != nil {
			t.Errorf("decodeFilter accepted %d bytes that are not a filter", len(v))
		}
	}
}

// TestBlockedFilterLayout: filters are stored, so the bits a key sets in a
// blocked filter must never change — its block from the key's xxhash, its
// seven bits from splitmix64 of it.
func TestBlockedFilterLayout(t *testing.T) {
	f := newFilter(100) // 4 blocks
	f.add(xxhash.Sum64([]byte("ana.perez@example.org")))
	var set []int
	for i, w := range f.bits {
		for b := range 64 {
			if w&(1<<b) != 0 {
				set = append(set, 64*i+b)
			}
		}
	}
	if want := []int{1580, 1611, 1706, 1724, 1790, 1829, 2011}; !slices.Equal(set, want) {
		t.Errorf("a key set bits %v, want %v", set, want)
	}
}

// TestHashKeyIsFNV: filters are stored, so the hash must stay FNV-1a.
func TestHashKeyIsFNV(t *testing.T) {
	for _, k := range []string{"", "a@example.org", "6f1c1f8e-6c1e-4c55-9d6b-0c8f2a7d9e01"} {
		f := fnv.New64a()
		f.Write([]byte(k))
		if got := hashKey([]byte(k)).h1; got != f.Sum64() {
			t.Errorf("hashKey(%q) = %x, want FNV-1a %x", k, got, f.Sum64())
		}
	}
}
