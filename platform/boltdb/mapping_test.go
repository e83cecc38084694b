//go:build linux

package boltdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// rssFile is the process's resident file-backed memory (RssFile), in bytes.
func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		var kb int64
		if _, err := fmt.Sscanf(string(line), "RssFile: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// value is the i-th test value: 4 KiB, each its own.
func value(i int) []byte {
	v := bytes.Repeat([]byte{byte(i)}, 4096)
	binary.BigEndian.PutUint32(v, uint32(i))
	return v
}

// fill writes n values to bucket "b", keys from..from+n-1, in
// transactions of 512. (t.Error, not t.Fatal: writers call it in goroutines.)
func fill(t *testing.T, db *bolt.DB, from, n int) {
	t.Helper()
	for lo := from; lo < from+n; lo += 512 {
		err := db.Update(func(tx *bolt.Tx) error {
			for i := lo; i < min(lo+512, from+n); i++ {
				if err := tx.Bucket([]byte("b")).Put(binary.BigEndian.AppendUint32(nil, uint32(i)), value(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
			return
		}
	}
}

// readAll reads every value through the mapping and checks it.
func readAll(t *testing.T, db *bolt.DB, n int) {
	t.Helper()
	err := db.View(func(tx *bolt.Tx) error {
		for i := range n {
			if v := tx.Bucket([]byte("b")).Get(binary.BigEndian.AppendUint32(nil, uint32(i))); !bytes.Equal(v, value(i)) {
				return fmt.Errorf("value %d changed", i)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestReleaseMappingDropsResidentPages(t *testing.T) {
	db := openWithBucket(t)
	const n = 8192 // 32 MiB of values, each on its own pages
	fill(t, db, 0, n)

	readAll(t, db, n) // every page of the file is now mapped in
	read := rssFile(t)
	if released, err := releaseMapping(db, 1<<40); err != nil || released {
		t.Fatalf("release over a larger threshold = %v, %v; want nothing done", released, err)
	}
	if now := rssFile(t); now < read-8<<20 {
		t.Fatalf("RssFile fell from %d to %d MiB with nothing released", read>>20, now>>20)
	}
	if released, err := releaseMapping(db, 0); err != nil || !released {
		t.Fatalf("release = %v, %v", released, err)
	}
	if now := rssFile(t); now > read-24<<20 {
		t.Fatalf("RssFile %d MiB after the release, %d MiB before: want ≥ 24 MiB less", now>>20, read>>20)
	}
	readAll(t, db, n) // the data reads back the same from the page cache
}

func TestKeepMappingSmallWhileWritingAndReading(t *testing.T) {
	db := openWithBucket(t)
	stop := keepMappingSmall(db, time.Millisecond, 0)
	defer stop()

	// Writers grow the file, so bbolt maps it again and again, while
	// readers read through the mapping and the pages are released under
	// them.
	const writers, each = 4, 1024
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fill(t, db, w*each, each)
		}()
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				err := db.View(func(tx *bolt.Tx) error {
					return tx.Bucket([]byte("b")).ForEach(func(k, v []byte) error {
						if i := int(binary.BigEndian.Uint32(k)); !bytes.Equal(v, value(i)) {
							return fmt.Errorf("value %d changed", i)
						}
						return nil
					})
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	readAll(t, db, writers*each)

	stop()
	stop() // twice is harmless

	// Read with no loop running, the pages stay; a loop brings them down.
	before := rssFile(t)
	readAll(t, db, writers*each)
	read := rssFile(t)
	if read < before+12<<20 {
		t.Fatalf("RssFile %d MiB after reading 16 MiB, %d before", read>>20, before>>20)
	}
	defer keepMappingSmall(db, 10*time.Millisecond, 0)()
	deadline := time.Now().Add(5 * time.Second)
	for rssFile(t) > read-12<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("RssFile still %d MiB (%d after reading)", rssFile(t)>>20, read>>20)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// vma is one of the process's mappings, with its resident size.
type vma struct {
	lo, hi uintptr
	line   string
	rssKB  int
}

// vmas reads /proc/self/smaps.
func vmas(t *testing.T) []vma {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vma
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var lo, hi uintptr
		var kb int
		if _, err := fmt.Sscanf(sc.Text(), "%x-%x ", &lo, &hi); err == nil && strings.Count(strings.Fields(sc.Text())[0], "-") == 1 {
			out = append(out, vma{lo: lo, hi: hi, line: sc.Text()})
		} else if _, err := fmt.Sscanf(sc.Text(), "Rss: %d kB", &kb); err == nil && len(out) > 0 {
			out[len(out)-1].rssKB = kb
		}
	}
	return out
}

// setHighWater rewrites both meta pages' high-water mark (and their
// checksums): what bbolt sees of a file cut short below it, a truncated
// copy or restore.
func setHighWater(t *testing.T, path string, pgid uint64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.LittleEndian.Uint32(b[16+8:])) // the page header is 16 bytes; the meta's page size follows magic and version
	for _, off := range []int{16, pageSize + 16} {
		m := b[off : off+64]
		binary.LittleEndian.PutUint64(m[40:], pgid)
		h := fnv.New64a()
		h.Write(m[:56])
		binary.LittleEndian.PutUint64(m[56:], h.Sum64())
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReleaseMappingStaysInsideTheMapping: a database file shorter than
// its high-water mark opens and reads; its used size runs past bbolt's
// mapping, and the release must stop at the mapping's end, not zero the
// process's memory beyond it.
func TestReleaseMappingStaysInsideTheMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "short.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	put := func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}
	if err := db.Update(put); err != nil {
		t.Fatal(err)
	}
	db.Close()
	setHighWater(t, path, (128<<20)/4096) // 128 MiB used, says the meta; the file is 32 KiB
	if db, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size int64
	read := func() {
		t.Helper()
		err := db.View(func(tx *bolt.Tx) error {
			size = tx.Size()
			if v := tx.Bucket([]byte("b")).Get([]byte("k")); string(v) != "v" {
				return fmt.Errorf("k = %q", v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	read()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	start := db.Info().Data
	n, err := mappedLength(start, uintptr(size))
	if err != nil {
		t.Fatal(err)
	}
	if n >= uintptr(size) || n < uintptr(fi.Size()) {
		t.Fatalf("mapped length %d of a used size of %d, a file of %d: want at least the file and less than the used size", n, size, fi.Size())
	}

	// Whatever the process has mapped in the range past bbolt's mapping
	// keeps its pages.
	var others []vma
	for _, v := range vmas(t) {
		if v.lo >= start+n && v.lo < start+uintptr(size) && v.rssKB > 0 {
			others = append(others, v)
		}
	}
	if released, err := releaseMapping(db, 0); err != nil || !released {
		t.Fatalf("release = %v, %v", released, err)
	}
	after := map[uintptr]int{}
	for _, v := range vmas(t) {
		after[v.lo] = v.rssKB
	}
	for _, v := range others {
		if after[v.lo] < v.rssKB {
			t.Errorf("past bbolt's mapping: %s; Rss %d kB before the release, %d kB after", v.line, v.rssKB, after[v.lo])
		}
	}
	t.Logf("%d of the process's mappings lie within the used size past bbolt's mapping", len(others))
	read()
}
