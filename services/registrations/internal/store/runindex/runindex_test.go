package runindex

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var indexName = []byte("index")

func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// update runs fn on the index in one write transaction and flushes it, as
// the registrations store does before each commit.
func update(t *testing.T, db *bolt.DB, filters *Filters, maxMerge uint64, fn func(*Index)) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(indexName)
		if err != nil {
			return err
		}
		ix := Open(b, filters)
		if maxMerge > 0 {
			ix.maxMerge = maxMerge
		}
		fn(ix)
		return ix.Flush()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// check compares every key the model knows of, and some it does not, with
// the index as a read transaction sees it.
func check(t *testing.T, db *bolt.DB, filters *Filters, model map[string]string, keySpace int) {
	t.Helper()
	err := db.View(func(tx *bolt.Tx) error {
		ix := Open(tx.Bucket(indexName), filters)
		for i := range keySpace {
			k := key(i)
			got, want := ix.Get([]byte(k)), model[k]
			if (got == nil) != (want == "") || string(got) != want {
				return fmt.Errorf("Get(%s) = %q, want %q", k, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func key(i int) string { return fmt.Sprintf("person-%06d@example.org", i) }

// runCount is how many runs the index holds.
func runCount(t *testing.T, db *bolt.DB) int {
	t.Helper()
	n := 0
	_ = db.View(func(tx *bolt.Tx) error {
		ix := Open(tx.Bucket(indexName), nil)
		ix.load()
		n = len(ix.runs)
		return nil
	})
	return n
}

// toLegacyLayout moves the index's runs into a runs bucket of their own,
// "\x00runs", and their filters next to them, as earlier versions kept them.
func toLegacyLayout(t *testing.T, db *bolt.DB) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(indexName)
		runs, err := b.CreateBucket(legacyRunsName)
		if err != nil {
			return err
		}
		if err := runs.SetSequence(b.Sequence()); err != nil {
			return err
		}
		var names [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil && k[0] == 0; k, v = c.Next() {
			if v == nil && len(k) == nameLen {
				names = append(names, bytes.Clone(k))
			}
		}
		if len(names) == 0 {
			return fmt.Errorf("no runs to move")
		}
		for _, n := range names {
			// The filter went next to the run.
			run := b.Bucket(n)
			if err := runs.Put(filterKey(n), bytes.Clone(run.Get(filterName))); err != nil {
				return err
			}
			if err := run.Delete(filterName); err != nil {
				return err
			}
			if err := tx.MoveBucket(n, b, runs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// toKeyedRuns rewrites every packed run as runs were written before
// packing: one key per entry, and a filter of 10 bits a key.
func toKeyedRuns(t *testing.T, db *bolt.DB) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		ix := Open(tx.Bucket(indexName), nil)
		ix.load()
		for i := range ix.runs {
			p, isPacked, err := ix.runPacked(i)
			if err != nil {
				return err
			}
			if !isPacked { // made keyed before, and not merged since
				continue
			}
			b := ix.runBucket(i)
			f := &filter{bits: make([]uint64, max((uint64(p.n)*10+63)/64, 1))}
			for j := range p.n {
				k, v, ok := p.entry(j)
				if !ok {
					return fmt.Errorf("run %d entry %d damaged", i, j)
				}
				if err := b.Put(bytes.Clone(k), bytes.Clone(v)); err != nil {
					return err
				}
				f.addClassic(hashKey(k))
			}
			if err := b.Delete(packedName); err != nil {
				return err
			}
			if err := b.Put(filterName, f.encode()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runEntries is how many entries run i of ix holds.
func runEntries(t *testing.T, ix *Index, i int) int {
	t.Helper()
	n := 0
	for it := ix.iter(i); it.key != nil; it.next() {
		n++
	}
	return n
}

// TestAgainstMap applies random puts, overwrites and deletes in
// transactions of random size, with base pairs written before any run,
// and a reopened database halfway, and compares the index with a map after
// every transaction. Within a transaction, Get sees its own changes.
//
// With legacy, the runs move to the runs bucket of earlier versions after
// 100 transactions, and the index must go on there. With keyed, the runs
// become runs of one key per entry after 100 and after 300 transactions,
// as written before packing, and are read and merged with packed ones.
func TestAgainstMap(t *testing.T) {
	for _, c := range []struct {
		maxMerge      uint64
		legacy, keyed bool
	}{
		{defaultMaxMerge, false, false}, {40, false, false},
		{defaultMaxMerge, true, false}, {40, true, false},
		{defaultMaxMerge, false, true}, {40, true, true},
	} {
		maxMerge := c.maxMerge
		t.Run(fmt.Sprintf("maxMerge=%d/legacy=%v/keyed=%v", maxMerge, c.legacy, c.keyed), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index.db")
			db := openDB(t, path)
			const keySpace = 600
			rng := rand.New(rand.NewPCG(1, maxMerge))
			model := map[string]string{}
			filters := NewFilters()

			// The base: pairs written straight into the bucket, as before runs.
			if err := db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket(indexName)
				if err != nil {
					return err
				}
				for i := 0; i < keySpace; i += 7 {
					v := fmt.Sprintf("base-%d", i)
					model[key(i)] = v
					if err := b.Put([]byte(key(i)), []byte(v)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}

			for txn := range 400 {
				if txn == 200 {
					if err := db.Close(); err != nil {
						t.Fatal(err)
					}
					db = openDB(t, path)
					filters = NewFilters() // a new process
				}
				if c.legacy && txn == 100 {
					toLegacyLayout(t, db)
				}
				if c.keyed && (txn == 100 || txn == 300) && runCount(t, db) > 0 {
					toKeyedRuns(t, db)
					filters = NewFilters() // a new process, which reads the runs' filters as written
				}
				update(t, db, filters, maxMerge, func(ix *Index) {
					for range rng.IntN(30) + 1 {
						k := key(rng.IntN(keySpace))
						if rng.IntN(4) == 0 {
							ix.Delete([]byte(k))
							delete(model, k)
						} else {
							v := fmt.Sprintf("v%d-%d", txn, rng.IntN(1000))
							ix.Put([]byte(k), []byte(v))
							model[k] = v
						}
						if got := ix.Get([]byte(k)); string(got) != model[k] || (got == nil) != (model[k] == "") {
							t.Fatalf("in the transaction, Get(%s) = %q, want %q", k, got, model[k])
						}
					}
				})
				check(t, db, filters, model, keySpace)
				if txn%50 == 0 {
					check(t, db, nil, model, keySpace) // filters read from the database
				}
			}
			// Runs merge: 400 transactions left only a few (with a tiny
			// maxMerge, they soon stop merging: that is what it is for).
			if n := runCount(t, db); maxMerge == defaultMaxMerge && n > 3*fanIn {
				t.Errorf("%d runs after 400 transactions, want at most %d", n, 3*fanIn)
			}
			// The runs stayed where they were first written.
			_ = db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(indexName)
				k, _ := b.Cursor().First()
				switch {
				case c.legacy && !bytes.Equal(k, legacyRunsName):
					t.Errorf("first key %q, want only the legacy runs bucket", k)
				case !c.legacy && b.Bucket(legacyRunsName) != nil:
					t.Error("a legacy runs bucket in a new index")
				}
				return nil
			})
			db.Close()
		})
	}
}

// TestRolledBack: changes of a transaction that fails are not kept.
func TestRolledBack(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "index.db"))
	defer db.Close()
	update(t, db, nil, 0, func(ix *Index) { ix.Put([]byte("a@example.org"), []byte("1")) })
	err := db.Update(func(tx *bolt.Tx) error {
		ix := Open(tx.Bucket(indexName), nil)
		ix.Delete([]byte("a@example.org"))
		ix.Put([]byte("b@example.org"), []byte("2"))
		if err := ix.Flush(); err != nil {
			return err
		}
		return fmt.Errorf("the write fails")
	})
	if err == nil {
		t.Fatal("the transaction did not fail")
	}
	check(t, db, nil, map[string]string{"a@example.org": "1"}, 0)
	_ = db.View(func(tx *bolt.Tx) error {
		ix := Open(tx.Bucket(indexName), nil)
		if got := ix.Get([]byte("a@example.org")); string(got) != "1" {
			t.Errorf("a = %q after the rollback, want 1", got)
		}
		if got := ix.Get([]byte("b@example.org")); got != nil {
			t.Errorf("b = %q after the rollback, want none", got)
		}
		return nil
	})
}

// TestMissingIndex: an index whose bucket does not exist is empty.
func TestMissingIndex(t *testing.T) {
	if got := Open(nil, nil).Get([]byte("a")); got != nil {
		t.Fatalf("Get on a missing index = %q", got)
	}
}

// TestDeletionsDropped: a merge that takes in the oldest run leaves no
// deleted key behind, unless the base still holds the key.
func TestDeletionsDropped(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "index.db"))
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(indexName)
		if err != nil {
			return err
		}
		return b.Put([]byte(key(0)), []byte("base"))
	}); err != nil {
		t.Fatal(err)
	}
	entries := func() (runs, entries int) {
		_ = db.View(func(tx *bolt.Tx) error {
			ix := Open(tx.Bucket(indexName), nil)
			ix.load()
			for i := range ix.runs {
				entries += runEntries(t, ix, i)
			}
			runs = len(ix.runs)
			return nil
		})
		return runs, entries
	}
	// Each transaction's run holds two deletions; the fanIn-th makes the
	// runs merge into one, and so does every fanIn-1 more (the merged run
	// is smaller than theirs, so it joins them).
	for i := range 2*fanIn - 1 {
		update(t, db, nil, 0, func(ix *Index) {
			ix.Put([]byte(key(i+1)), []byte("x"))
			ix.Delete([]byte(key(i + 1)))
			ix.Delete([]byte(key(0)))
		})
		if i+1 == fanIn || i+1 == 2*fanIn-1 {
			if runs, n := entries(); runs != 1 || n != 1 {
				t.Errorf("after %d transactions: %d runs holding %d entries, want 1 run holding the deletion of the base's pair", i+1, runs, n)
			}
		}
	}
	check(t, db, nil, map[string]string{}, 2*fanIn)
}

// TestAllDeleted: when a merge is left with nothing, no run remains, and
// the index goes on as new.
func TestAllDeleted(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "index.db"))
	defer db.Close()
	for i := range fanIn {
		update(t, db, nil, 0, func(ix *Index) {
			ix.Put([]byte(key(i)), []byte("x"))
			ix.Delete([]byte(key(i)))
		})
	}
	if n := runCount(t, db); n != 0 {
		t.Fatalf("%d runs after every key was deleted and the runs merged, want 0", n)
	}
	update(t, db, nil, 0, func(ix *Index) { ix.Put([]byte(key(1)), []byte("again")) })
	check(t, db, nil, map[string]string{key(1): "again"}, fanIn)
}

// TestFewerPagesThanABTree is why the package exists: random keys added 20
// per transaction write far fewer pages than the same keys in one bbolt
// bucket, once the index outgrows a handful of leaves.
func TestFewerPagesThanABTree(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40,000 keys")
	}
	dir := t.TempDir()
	indexDB, treeDB := openDB(t, filepath.Join(dir, "index.db")), openDB(t, filepath.Join(dir, "tree.db"))
	defer indexDB.Close()
	defer treeDB.Close()
	written := func(db *bolt.DB, fn func(*bolt.Tx) error) int {
		before := db.Stats()
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
		after := db.Stats()
		return int(after.TxStats.GetWrite() - before.TxStats.GetWrite())
	}
	value := []byte("events/x/registrations/0000000001")
	rng := rand.New(rand.NewPCG(7, 7))
	var pagesIndex, pagesTree int
	for range 1000 {
		keys := make([][]byte, 20)
		for i := range keys {
			keys[i] = fmt.Appendf(nil, "%016x@example.org", rng.Uint64())
		}
		pagesIndex += written(indexDB, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(indexName)
			if err != nil {
				return err
			}
			ix := Open(b, nil)
			for _, k := range keys {
				ix.Put(k, value)
			}
			return ix.Flush()
		})
		pagesTree += written(treeDB, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(indexName)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := b.Put(k, value); err != nil {
					return err
				}
			}
			return nil
		})
	}
	t.Logf("pages written for 20,000 random keys, 20 per transaction: runs %d, one B+tree %d", pagesIndex, pagesTree)
	if pagesIndex*2 > pagesTree {
		t.Errorf("the runs wrote %d pages, the B+tree %d: want at most half", pagesIndex, pagesTree)
	}
}
