package runindex

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestPacked: every key of a packed value is found with its val, keys
// between, before and after them are not; a damaged value — every
// truncation of a good one, and offsets or lengths that point past it —
// finds nothing and never panics.
func TestPacked(t *testing.T) {
	pk := newPacker(50, 0)
	for i := range 50 {
		if i%5 == 4 {
			pk.add([]byte(key(2*i)), deleted, nil)
		} else {
			pk.add([]byte(key(2*i)), live, fmt.Appendf(nil, "value-%d", i))
		}
	}
	v := pk.finish()
	p, ok := parsePacked(v)
	if !ok || p.n != 50 {
		t.Fatalf("parsePacked = %d entries, %v; want 50", p.n, ok)
	}
	for i := range 50 {
		want := fmt.Sprintf("vvalue-%d", i)
		if i%5 == 4 {
			want = "t"
		}
		if got := p.get([]byte(key(2 * i))); string(got) != want {
			t.Errorf("get(%s) = %q, want %q", key(2*i), got, want)
		}
		if got := p.get([]byte(key(2*i + 1))); got != nil {
			t.Errorf("get(%s), a key between = %q, want nil", key(2*i+1), got)
		}
	}
	for _, k := range []string{"", "a", "zzz", key(-1)} {
		if got := p.get([]byte(k)); got != nil {
			t.Errorf("get(%q) = %q, want nil", k, got)
		}
	}

	for n := range len(v) {
		p, ok := parsePacked(v[:n])
		if !ok {
			continue
		}
		for i := range p.n { // nothing may panic
			p.entry(i)
		}
		p.get([]byte(key(10)))
	}
	for _, bad := range []string{
		"\x01\x00\x00\x00" + "\x01\x00\x00\x00",                // one entry, offset 1 of an empty body
		"\x05a" + "\x00\x00\x00\x00" + "\x01\x00\x00\x00",      // a key longer than the body
		"\x01a\x09v" + "\x00\x00\x00\x00" + "\x01\x00\x00\x00", // a val longer than the body
		"\x01a\x00" + "\x00\x00\x00\x00" + "\x01\x00\x00\x00",  // an empty val
		"\xff\xff\xff\xff", // more entries than bytes
	} {
		p, ok := parsePacked([]byte(bad))
		if ok {
			if _, _, ok := p.entry(0); ok {
				t.Errorf("entry 0 of %q is read as good", bad)
			}
			if got := p.get([]byte("a")); got != nil {
				t.Errorf("get(a) in %q = %q, want nil", bad, got)
			}
		}
	}
}

// TestDamagedRunStopsMerge: a merge that meets a damaged run — a packed
// entry that runs past its value, a count that the value cannot hold, an
// entry of a run of one key per entry without its 'v' or 't' — fails (and
// its transaction with it) rather than drop the run's keys or panic, also
// when a lookup in the same transaction met the run first; a lookup in it
// finds nothing.
func TestDamagedRunStopsMerge(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, db *bolt.DB) (key, value []byte){
		"entry": func(*testing.T, *bolt.DB) ([]byte, []byte) {
			return packedName, []byte("\x05a" + "\x00\x00\x00\x00" + "\x01\x00\x00\x00")
		},
		"count": func(*testing.T, *bolt.DB) ([]byte, []byte) { return packedName, []byte("\x05a" + "\xff\xff\xff\xff") },
		"keyed": func(t *testing.T, db *bolt.DB) ([]byte, []byte) {
			toKeyedRuns(t, db)
			return []byte(key(0)), []byte{}
		},
	} {
		t.Run(name, func(t *testing.T) {
			db := openDB(t, filepath.Join(t.TempDir(), "index.db"))
			defer db.Close()
			for i := range fanIn - 1 {
				update(t, db, nil, 0, func(ix *Index) { ix.Put([]byte(key(i)), []byte("x")) })
			}
			k, v := damage(t, db)
			if err := db.Update(func(tx *bolt.Tx) error {
				ix := Open(tx.Bucket(indexName), nil)
				ix.load()
				return ix.runBucket(0).Put(k, v)
			}); err != nil {
				t.Fatal(err)
			}
			_ = db.View(func(tx *bolt.Tx) error {
				if got := Open(tx.Bucket(indexName), nil).Get([]byte(key(0))); got != nil {
					t.Errorf("Get in the damaged run = %q, want nil", got)
				}
				return nil
			})
			err := db.Update(func(tx *bolt.Tx) error {
				ix := Open(tx.Bucket(indexName), nil)
				if got := ix.Get([]byte(key(0))); got != nil {
					t.Errorf("Get in the damaged run, in the merging transaction = %q, want nil", got)
				}
				ix.Put([]byte(key(100)), []byte("y")) // the fanIn-th run: a merge
				return ix.Flush()
			})
			if err == nil || !strings.Contains(err.Error(), "damaged") {
				t.Fatalf("Flush over a damaged run = %v, want an error naming it damaged", err)
			}
			if n := runCount(t, db); n != fanIn-1 {
				t.Errorf("%d runs after the failed merge, want %d", n, fanIn-1)
			}
		})
	}
}
