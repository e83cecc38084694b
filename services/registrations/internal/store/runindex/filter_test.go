package runindex

import (
	"fmt"
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
