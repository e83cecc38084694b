package boltdb

import (
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bbolt reads the database through a read-only, shared memory mapping of
// its file. Every page that a read touches stays in the process's page
// tables, and so in its resident set (RSS), until bbolt maps the file
// again, which it does only when the file outgrows the mapping (its size
// doubles up to 1 GiB). A service that writes keys in random order, or
// merges index runs, touches most of the file between two remaps: its RSS
// grows towards the file's size although the memory is the kernel's page
// cache, shared and reclaimable. Dropping the mapping's page-table entries
// from time to time (madvise MADV_DONTNEED) keeps the RSS to what the
// process really holds; the pages stay in the page cache, so a page read
// again costs a minor fault, not a disk read. The mapping is read-only and
// bbolt writes with pwrite(2), so nothing can be lost.

// Defaults of KeepMappingSmall.
const (
	trimEvery = time.Second
	trimAbove = 64 << 20 // a smaller database's whole mapping fits comfortably in any budget
)

// KeepMappingSmall releases db's mapped pages every second while the
// database is larger than 64 MiB, until stop is called (before db.Close).
func KeepMappingSmall(db *bolt.DB) (stop func()) { return keepMappingSmall(db, trimEvery, trimAbove) }

func keepMappingSmall(db *bolt.DB, every time.Duration, above int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// An error (the database closed under it, or a platform
				// without madvise) only leaves the RSS as bbolt makes it.
				_, _ = releaseMapping(db, above)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// releaseMapping drops the process's page-table entries for db's mapping
// when the database is larger than above, and reports whether it did.
func releaseMapping(db *bolt.DB, above int64) (bool, error) {
	released := false
	err := db.View(func(tx *bolt.Tx) error {
		size := tx.Size()
		if size <= above {
			return nil
		}
		// A read transaction holds bbolt's mapping lock: the file cannot be
		// mapped again elsewhere meanwhile. dontNeed keeps to the mapping
		// (size, the file's used part, is within it unless the file is
		// damaged).
		if err := dontNeed(db.Info().Data, uintptr(size)); err != nil {
			return err
		}
		released = true
		return nil
	})
	return released, err
}
