package boltdb

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openWithBucket opens a database in a temporary folder, with a bucket "b";
// the test closes it at the end.
func openWithBucket(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGroupCommitsConcurrentWrites(t *testing.T) {
	db := openWithBucket(t)
	g := NewGroup(db, 64)
	st0 := db.Stats()
	before := st0.TxStats.GetWrite()
	const writers, each = 64, 20
	errNo := errors.New("refused")
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := g.Update(func(tx *bolt.Tx) error {
					b := tx.Bucket([]byte("b"))
					if i%5 == 4 { // every fifth write writes, then fails: it must leave nothing
						_ = b.Put([]byte{byte(w), byte(i), 0xff}, []byte("x"))
						return errNo
					}
					k := make([]byte, 4)
					binary.BigEndian.PutUint16(k, uint16(w))
					binary.BigEndian.PutUint16(k[2:], uint16(i))
					return b.Put(k, []byte("v"))
				})
				switch {
				case errors.Is(err, errNo):
					mu.Lock()
					refused++
					mu.Unlock()
				case err != nil:
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	g.Close()
	n := 0
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("b")).ForEach(func(k, _ []byte) error {
			if len(k) != 4 {
				t.Errorf("a failed write left key %x", k)
			}
			n++
			return nil
		})
	})
	if want := writers * each * 4 / 5; n != want || refused != writers*each/5 {
		t.Errorf("stored %d, refused %d; want %d and %d", n, refused, want, writers*each/5)
	}
	st1 := db.Stats()
	txs := st1.TxStats.GetWrite() - before
	t.Logf("%d writes in %d transactions", writers*each, txs)
	if txs >= int64(writers*each) {
		t.Errorf("%d transactions for %d writes: nothing was grouped", txs, writers*each)
	}
}

func TestGroupSurvivesPanic(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := NewGroup(db, 8)
	defer g.Close()
	if err := g.Update(func(*bolt.Tx) error { panic("boom") }); err == nil {
		t.Error("a panicking write returned no error")
	}
	if err := g.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("after")); return err }); err != nil {
		t.Errorf("write after a panic: %v", err)
	}
}

// queueBehind holds the committer in a write of its own, queues n writes
// behind it, lets it go, and returns the number of commits made from then
// until all n are written.
func queueBehind(t *testing.T, g *Group, n int) int64 {
	t.Helper()
	release, done, running := make(chan struct{}), make(chan error, 1), make(chan struct{})
	go func() {
		done <- g.Update(func(*bolt.Tx) error { close(running); <-release; return nil })
	}()
	<-running
	var wg sync.WaitGroup
	before := len(g.calls)
	for i := range n {
		wg.Go(func() {
			if err := g.Update(func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("b")).Put(binary.BigEndian.AppendUint64(nil, uint64(i)+uint64(g.commits.Load())<<32), nil)
			}); err != nil {
				t.Error(err)
			}
		})
	}
	for len(g.calls) < before+n {
		runtime.Gosched()
	}
	commits := g.commits.Load()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return g.commits.Load() - commits
}

// TestGroupWaitsOnlyUnderLoad: after a transaction of many writes, a
// smaller queue of writes (still many) waits for more to join it; a lone
// writer never waits, however large the transactions before it.
func TestGroupWaitsOnlyUnderLoad(t *testing.T) {
	db := openWithBucket(t)
	g := NewGroup(db, 64)
	defer g.Close()

	// 40 writes queue behind a held one, and are committed together.
	if c := queueBehind(t, g, 40); c != 2 {
		t.Errorf("%d commits for a held write and 40 behind it, want 2", c)
	}
	if w := g.waits.Load(); w != 0 {
		t.Fatalf("%d transactions waited before any large one", w)
	}

	// Ten writes queue: many, but fewer than three quarters of 40. They
	// wait (for writes that do not come, here) and are then committed.
	if c := queueBehind(t, g, 10); c != 2 {
		t.Errorf("%d commits for a held write and ten behind it, want 2", c)
	}
	if w := g.waits.Load(); w != 1 {
		t.Errorf("ten queued writes after a transaction of 40: %d waits, want 1", w)
	}

	// After two quiet seconds, that transaction of 40 no longer counts:
	// ten queued writes are committed at once.
	time.Sleep(2*time.Second + 100*time.Millisecond)
	if c := queueBehind(t, g, 10); c != 2 {
		t.Errorf("after a quiet spell: %d commits for a held write and ten behind it, want 2", c)
	}
	if w := g.waits.Load(); w != 1 {
		t.Errorf("after a quiet spell, ten queued writes waited: %d waits, want still 1", w)
	}

	// A lone writer, one write after another, never waits.
	for i := range 50 {
		if err := g.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("b")).Put([]byte{0xff, byte(i)}, nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if w := g.waits.Load(); w != 1 {
		t.Errorf("a lone writer waited: %d waits, want still 1", w)
	}
}
