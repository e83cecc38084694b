package boltdb

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Group commits concurrent write transactions together: one bbolt
// transaction, so one fsync, for every write that arrived while the
// previous commit was on disk. Unlike db.Batch it has no fixed timer: a
// write that finds the disk idle and no other writers about is committed at
// once. Under load it waits a little for them (see loop).
//
// A function given to Update may run more than once (when another write in
// its batch fails, the batch is rolled back and run again without it), so it
// must do nothing outside the transaction that it would not do twice.
type Group struct {
	db    *bolt.DB
	calls chan *call
	max   int
	done  chan struct{}
	close sync.Once

	commits, writes atomic.Int64 // transactions committed, and the writes in them
	busy            atomic.Int64 // nanoseconds spent in transactions: running writes, writing, syncing
	waits           atomic.Int64 // transactions held back for more writes to join

	begin        func(*bolt.Tx)       // see OnTransaction
	beforeCommit func(*bolt.Tx) error // see OnTransaction
}

// OnTransaction sets functions that run, on the committer, at the start of
// each shared transaction and after its last write, before the commit —
// for state that the writes of one transaction share (counters decoded
// once, written once). An error from beforeCommit fails the whole batch.
// Call it before the first Update.
func (g *Group) OnTransaction(begin func(*bolt.Tx), beforeCommit func(*bolt.Tx) error) {
	g.begin, g.beforeCommit = begin, beforeCommit
}

type call struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// errFailed marks the batch transaction that a call's error rolled back.
var errFailed = errors.New("a write in the batch failed")

// NewGroup starts committing for db; at most max writes share a
// transaction. Close stops it.
func NewGroup(db *bolt.DB, max int) *Group {
	g := &Group{db: db, calls: make(chan *call, max), max: max, done: make(chan struct{})}
	go g.loop()
	return g
}

// Update runs fn in a write transaction shared with other writes, and
// returns once that transaction is durably committed (or fn's error).
func (g *Group) Update(fn func(*bolt.Tx) error) error {
	c := &call{fn: fn, err: make(chan error, 1)}
	g.calls <- c
	return <-c.err
}

// Close stops the committer after the writes already queued; closing
// twice is harmless. No Update may be called after Close.
func (g *Group) Close() {
	g.close.Do(func() { close(g.calls) })
	<-g.done
}

// batchWait is the longest the committer holds a transaction back for
// more writes to join it; busyQueue is how many writes found waiting, at
// the least, tell it that the writers are queueing for the machine.
const (
	batchWait = time.Millisecond
	busyQueue = 8
)

// loop takes the writes that are waiting and commits them together.
//
// When many were waiting (busyQueue) but fewer than three quarters of the
// most that a transaction held in the last second or two (none after two
// quiet seconds), it first waits,
// at most batchWait, for that many: the callers that the last commits
// answered are on their way back with their next write. Like PostgreSQL's
// commit_delay with commit_siblings: a commit's cost is mostly per
// transaction (bbolt rewrites the pages on the path to every changed one,
// and syncs twice), and when writes queue, what they queue for is the
// machine's CPU, so fewer, larger commits serve more of them a second
// (BENCHMARKS.md, sixth round). Under light load nothing waits: a lone
// write, or a few, are committed at once.
func (g *Group) loop() {
	defer close(g.done)
	timer := time.NewTimer(batchWait)
	timer.Stop()
	// The most writes a transaction held in this second, and in the last.
	var peak, lastPeak int
	second := time.Now()
	for first := range g.calls {
		batch := []*call{first}
		open := true
	gather:
		for len(batch) < g.max {
			select {
			case c, ok := <-g.calls:
				if !ok {
					open = false
					break gather
				}
				batch = append(batch, c)
			default:
				break gather
			}
		}
		if now := time.Now(); now.Sub(second) >= time.Second {
			lastPeak = peak
			if now.Sub(second) >= 2*time.Second { // a quiet spell: that peak is old news
				lastPeak = 0
			}
			second, peak = now, 0
		}
		if want := max(peak, lastPeak) * 3 / 4; open && len(batch) >= busyQueue && len(batch) < want {
			g.waits.Add(1)
			timer.Reset(batchWait)
		wait:
			for len(batch) < want {
				select {
				case c, ok := <-g.calls:
					if !ok {
						break wait
					}
					batch = append(batch, c)
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
		}
		begin := time.Now()
		g.commit(batch)
		g.busy.Add(int64(time.Since(begin)))
		peak = max(peak, len(batch))
	}
}

// commit runs the batch in one transaction. When a call fails, it gets its
// error, the transaction is rolled back, and the rest run again: a failed
// call had no effect, and the others, run on the same state, do the same
// again.
func (g *Group) commit(batch []*call) {
	for len(batch) > 0 {
		failed, failure := -1, error(nil)
		err := g.db.Update(func(tx *bolt.Tx) error {
			if g.begin != nil {
				g.begin(tx)
			}
			for i, c := range batch {
				if err := run(c.fn, tx); err != nil {
					failed, failure = i, err
					return errFailed
				}
			}
			if g.beforeCommit != nil {
				return g.beforeCommit(tx)
			}
			return nil
		})
		if failed >= 0 {
			batch[failed].err <- failure
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		if err == nil {
			g.commits.Add(1)
			g.writes.Add(int64(len(batch)))
		}
		for _, c := range batch {
			c.err <- err // nil, or the commit's own failure for all
		}
		return
	}
}

// run calls fn, turning a panic into an error so that one bad write cannot
// take the committer, and every writer waiting on it, down.
func run(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in write transaction: %v", p)
		}
	}()
	return fn(tx)
}
