// Package boltdb opens a service's bbolt database the one way Convene wants
// it: durable (fsync on every commit), with a lock timeout so that a second
// process on the same file fails fast instead of waiting forever, and with
// errors that name the file.
package boltdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// LockTimeout is how long Open waits for another process to release the file.
const LockTimeout = time.Second

// Open opens (or creates) the database at path, creating its folder.
func Open(path string) (*bolt.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: LockTimeout,
		// Durability: these are bbolt's defaults, written out so that nobody
		// turns them on for speed. Every acknowledged write must survive kill -9.
		NoSync:         false,
		NoGrowSync:     false,
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("database %s is in use by another process (lock not released within %s)", path, LockTimeout)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return nil, fmt.Errorf("database %s is not a valid bbolt database (%v); it was left untouched", path, err)
	case err != nil:
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return db, nil
}

// Collector exports to Prometheus a database's size and transaction
// statistics, and the commits of the Group that writes to it.
func Collector(db *bolt.DB, g *Group) prometheus.Collector { return &collector{db: db, g: g} }

type collector struct {
	db *bolt.DB
	g  *Group
}

var (
	descSize    = prometheus.NewDesc("convene_db_size_bytes", "Size of the bbolt database file.", []string{"path"}, nil)
	descRead    = prometheus.NewDesc("convene_db_read_transactions_total", "Read transactions started on the database.", []string{"path"}, nil)
	descPages   = prometheus.NewDesc("convene_db_pages_written_total", "Pages that write transactions wrote to the database file.", []string{"path"}, nil)
	descWrite   = prometheus.NewDesc("convene_db_write_seconds_total", "Time spent writing pages to the database file.", []string{"path"}, nil)
	descCommits = prometheus.NewDesc("convene_db_commits_total", "Write transactions committed (each one fsync).", []string{"path"}, nil)
	descWrites  = prometheus.NewDesc("convene_db_writes_total", "Writes committed; more writes than commits is group commit at work.", []string{"path"}, nil)
	descSpill   = prometheus.NewDesc("convene_db_spill_seconds_total", "Time write transactions spent laying out changed pages before writing them.", []string{"path"}, nil)
	descWaits   = prometheus.NewDesc("convene_db_commit_waits_total", "Group commits held back (at most 1 ms) for more writes to join them.", []string{"path"}, nil)
	descBusy    = prometheus.NewDesc("convene_db_committer_busy_seconds_total",
		"Time the group committer spent in transactions (running the writes, writing, syncing); its rate is the committer's utilisation, 1 when it is the bottleneck.", []string{"path"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSize
	ch <- descRead
	ch <- descPages
	ch <- descWrite
	ch <- descCommits
	ch <- descWrites
	ch <- descSpill
	ch <- descWaits
	ch <- descBusy
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	path := c.db.Path()
	if fi, err := os.Stat(path); err == nil {
		ch <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(fi.Size()), path)
	}
	st := c.db.Stats()
	ch <- prometheus.MustNewConstMetric(descRead, prometheus.CounterValue, float64(st.TxN), path)
	ch <- prometheus.MustNewConstMetric(descPages, prometheus.CounterValue, float64(st.TxStats.GetWrite()), path)
	ch <- prometheus.MustNewConstMetric(descWrite, prometheus.CounterValue, st.TxStats.GetWriteTime().Seconds(), path)
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(c.g.commits.Load()), path)
	ch <- prometheus.MustNewConstMetric(descWrites, prometheus.CounterValue, float64(c.g.writes.Load()), path)
	ch <- prometheus.MustNewConstMetric(descSpill, prometheus.CounterValue, st.TxStats.GetSpillTime().Seconds(), path)
	ch <- prometheus.MustNewConstMetric(descWaits, prometheus.CounterValue, float64(c.g.waits.Load()), path)
	ch <- prometheus.MustNewConstMetric(descBusy, prometheus.CounterValue, time.Duration(c.g.busy.Load()).Seconds(), path)
}
