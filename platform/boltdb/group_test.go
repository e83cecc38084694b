package boltdb

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestGroupCommitsConcurrentWrites(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
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
