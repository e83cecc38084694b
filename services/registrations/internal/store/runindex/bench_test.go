package runindex

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkInsert adds random keys 20 per transaction (a group commit's
// worth of registrations) to an index already holding 100,000, as sorted
// runs and as one bbolt bucket. NoSync: this measures the CPU of finding,
// laying out and writing the pages, and counts them; the disk's own time
// per page comes on top (BENCHMARKS.md).
func BenchmarkInsert(b *testing.B) {
	value := []byte("events/x/registrations/0000000001")
	for _, kind := range []string{"runs", "btree"} {
		b.Run(kind, func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "index.db"), 0o600, &bolt.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			filters := NewFilters()
			rng := rand.New(rand.NewPCG(1, 2))
			insert := func(n int) {
				err := db.Update(func(tx *bolt.Tx) error {
					bk, err := tx.CreateBucketIfNotExists(indexName)
					if err != nil {
						return err
					}
					ix := Open(bk, filters)
					for range n {
						k := fmt.Appendf(nil, "%016x@example.org", rng.Uint64())
						if kind == "btree" {
							if bk.Get(k) == nil {
								if err := bk.Put(k, value); err != nil {
									return err
								}
							}
						} else if ix.Get(k) == nil {
							ix.Put(k, value)
						}
					}
					return ix.Flush()
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			for range 100 {
				insert(1000)
			}
			before := db.Stats()
			for b.Loop() {
				insert(20)
			}
			after := db.Stats()
			b.ReportMetric(float64(after.TxStats.GetWrite()-before.TxStats.GetWrite())/float64(b.N), "pages/tx")
		})
	}
}
