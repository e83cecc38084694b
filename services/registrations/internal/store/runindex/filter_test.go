package runindex

import (
	"fmt"
	"hash/fnv"
	"testing"
)

// TestFilter: no key added is ever missed, about 0.07 % of the others pass,
// and a filter reads back as it was written; a filter written with 10 bits
// a key, as before runs were packed, still holds every key it was given.
func TestFilter(t *testing.T) {
	const n = 20000
	in := func(i int) keyHash { return hashKey(fmt.Appendf(nil, "in-%d@example.org", i)) }
	for _, f := range []*filter{newFilter(n), {bits: make([]uint64, (n*10+63)/64)}} {
		for i := range n {
			f.add(in(i))
		}
		f = decodeFilter(f.encode())
		for i := range n {
			if !f.mayContain(in(i)) {
				t.Fatalf("key %d was added to a filter of %d bits but the filter misses it", i, 64*len(f.bits))
			}
		}
	}
	f := newFilter(n)
	for i := range n {
		f.add(in(i))
	}
	passed := 0
	for i := range n {
		if f.mayContain(hashKey(fmt.Appendf(nil, "out-%d@example.org", i))) {
			passed++
		}
	}
	if rate := float64(passed) / n; rate > 0.002 {
		t.Errorf("%.3f %% of keys not added pass the filter, want about 0.07 %%", 100*rate)
	}
	if decodeFilter(nil) != nil || decodeFilter([]byte{1, 2, 3}) != nil {
		t.Error("decodeFilter accepted what is not a filter")
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
