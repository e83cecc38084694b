package load

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a call that notes the numbers it is given and how many of
// its calls, and of another recorder's, are under way.
type recorder struct {
	mu       sync.Mutex
	seen     map[int64]bool
	dup      int64
	inFlight atomic.Int64
	other    *recorder
	overlap  atomic.Int64 // calls that started while the other's were under way
	log      *callLog
	side     byte
	fail     func(turn int, i int64) bool // whether the call fails
	slow     func(turn int) time.Duration // how long a call takes, by default 200µs
}

type callLog struct {
	mu    sync.Mutex
	sides []byte
}

// turn returns which of its slices (from 1) a call of side is in: how
// many times the log has turned to side.
func (l *callLog) turn(side byte) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.sides); n == 0 || l.sides[n-1] != side {
		l.sides = append(l.sides, side)
	}
	return bytes.Count(l.sides, []byte{side})
}

func (r *recorder) call(ctx context.Context, _ int, i int64) error {
	r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	if r.other != nil && r.other.inFlight.Load() > 0 {
		r.overlap.Add(1)
	}
	turn := 1
	if r.log != nil {
		turn = r.log.turn(r.side)
	}
	r.mu.Lock()
	if r.seen[i] {
		r.dup++
	}
	r.seen[i] = true
	r.mu.Unlock()
	d := 200 * time.Microsecond
	if r.slow != nil {
		d = r.slow(turn)
	}
	time.Sleep(d)
	if r.fail != nil && r.fail(turn, i) {
		return errors.New("refused")
	}
	return nil
}

func TestRun(t *testing.T) {
	rec := &recorder{seen: map[int64]bool{}, fail: func(_ int, i int64) bool { return i%10 == 0 }}
	r := Run(context.Background(), "calls", 4, 20*time.Millisecond, 80*time.Millisecond, rec.call)
	if r.OK == 0 || r.Errors == 0 {
		t.Fatalf("OK %d, errors %d: want both (every tenth call fails)", r.OK, r.Errors)
	}
	if r.FirstErr == nil {
		t.Error("no first error")
	}
	if r.OK+r.Errors > r.Calls || int64(len(rec.seen)) != r.Calls {
		t.Errorf("OK %d + errors %d, calls %d, distinct numbers %d", r.OK, r.Errors, r.Calls, len(rec.seen))
	}
	if rec.dup != 0 {
		t.Errorf("%d numbers given twice", rec.dup)
	}
	if r.P50 < 200*time.Microsecond || r.P99 < r.P50 {
		t.Errorf("p50 %v, p99 %v: each call takes at least 200µs", r.P50, r.P99)
	}
	if r.Window != 80*time.Millisecond || r.Rate() != float64(r.OK)/0.08 {
		t.Errorf("window %v, rate %v", r.Window, r.Rate())
	}
}

func TestInterleave(t *testing.T) {
	log := &callLog{}
	// What each call does in each of its slices tells whether the slices'
	// results are summed: a's calls are slow in its first slice and fail in
	// its last, b's fail in its first.
	const slowCall = 3 * time.Millisecond
	a := &recorder{seen: map[int64]bool{}, log: log, side: 'a',
		slow: func(turn int) time.Duration {
			if turn == 1 {
				return slowCall
			}
			return 200 * time.Microsecond
		},
		fail: func(turn int, _ int64) bool { return turn == 3 }}
	b := &recorder{seen: map[int64]bool{}, log: log, side: 'b', fail: func(turn int, _ int64) bool { return turn == 1 }}
	a.other, b.other = b, a
	const turns = 3
	ra, rb := Interleave(context.Background(), 4, turns, 20*time.Millisecond, 50*time.Millisecond,
		Named{"a", a.call}, Named{"b", b.call})

	if got := string(log.sides); got != "ababab" {
		t.Errorf("calls came in the order %q, want %q: one slice of each in turn", got, "ababab")
	}
	if a.overlap.Load() != 0 || b.overlap.Load() != 0 {
		t.Errorf("%d and %d calls started while the other's were under way", a.overlap.Load(), b.overlap.Load())
	}
	for _, c := range []struct {
		name string
		r    Result
		rec  *recorder
	}{{"a", ra, a}, {"b", rb, b}} {
		if c.r.Name != c.name || c.r.Workers != 4 {
			t.Errorf("%s: named %q with %d workers", c.name, c.r.Name, c.r.Workers)
		}
		if c.r.Window != turns*50*time.Millisecond {
			t.Errorf("%s: window %v, want the sum of the slices' (%v)", c.name, c.r.Window, turns*50*time.Millisecond)
		}
		// The numbers go on from slice to slice: never one twice.
		if c.rec.dup != 0 || int64(len(c.rec.seen)) != c.r.Calls {
			t.Errorf("%s: %d numbers given twice; %d distinct numbers in %d calls", c.name, c.rec.dup, len(c.rec.seen), c.r.Calls)
		}
		// Each side failed in one slice and succeeded in the others: only
		// their sums have both.
		if c.r.OK == 0 || c.r.Errors == 0 || c.r.FirstErr == nil {
			t.Errorf("%s: OK %d, errors %d (first %v); want both, summed over the slices", c.name, c.r.OK, c.r.Errors, c.r.FirstErr)
		}
		if c.r.P50 < 200*time.Microsecond || c.r.P99 < c.r.P50 {
			t.Errorf("%s: p50 %v, p99 %v", c.name, c.r.P50, c.r.P99)
		}
	}
	// a's first slice took 3ms a call: ~60 of its calls against at most
	// ~1,000 in its second (none of its third counts), so its p99 is one of
	// them only if the slices' latencies are merged.
	if ra.P99 < slowCall {
		t.Errorf("a: p99 %v, want at least %v (its first slice's calls)", ra.P99, slowCall)
	}
}

func TestInterleaveStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	a := func(context.Context, int, int64) error {
		if calls.Add(1) == 50 {
			cancel()
		}
		time.Sleep(100 * time.Microsecond)
		return nil
	}
	done := make(chan struct{})
	var ra, rb Result
	go func() {
		ra, rb = Interleave(ctx, 2, 1000, 10*time.Millisecond, time.Hour, Named{"a", a}, Named{"b", a})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Interleave went on after its context was cancelled")
	}
	if ra.FirstErr == nil && rb.FirstErr == nil {
		t.Error("an interrupted Interleave reports no error")
	}
	// It stopped in its first turn: one window each, not a thousand.
	if ra.Window != time.Hour || rb.Window != time.Hour {
		t.Errorf("windows %v and %v, want one slice's (%v) each", ra.Window, rb.Window, time.Hour)
	}
}
