package runindex

import (
	"fmt"
	"hash/fnv"
	"testing"
)

// TestFilter: no key added is ever missed, about 1 % of the others pass,
// and a filter reads back as it was written.
func TestFilter(t *testing.T) {
	const n = 20000
	f := newFilter(n)
	for i := range n {
		f.add(hashKey(fmt.Appendf(nil, "in-%d@example.org", i)))
	}
	f = decodeFilter(f.encode())
	for i := range n {
		if !f.mayContain(hashKey(fmt.Appendf(nil, "in-%d@example.org", i))) {
			t.Fatalf("key %d was added but the filter misses it", i)
		}
	}
	passed := 0
	for i := range n {
		if f.mayContain(hashKey(fmt.Appendf(nil, "out-%d@example.org", i))) {
			passed++
		}
	}
	if rate := float64(passed) / n; rate > 0.02 {
		t.Errorf("%.2f %% of keys not added pass the filter, want about 1 %%", 100*rate)
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
