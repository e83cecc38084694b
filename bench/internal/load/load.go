// Package load is a closed-loop load generator: a fixed number of workers
// each call as fast as the answers come back; after a warm-up, the calls
// that start and end inside the measuring window are counted and timed.
package load

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Call makes one request; worker is the caller's index, i a number unique
// across all the calls of a run (to make distinct requests).
type Call func(ctx context.Context, worker int, i int64) error

// Result is what one run measured.
type Result struct {
	Name     string
	Workers  int
	OK       int64         // calls that succeeded inside the window
	Errors   int64         // calls that failed inside the window
	FirstErr error         // the first failure, warm-up included
	Window   time.Duration // the measuring window
	Calls    int64         // every call made, warm-up included
	P50, P99 time.Duration // latency of the successful calls in the window
}

// Rate is the successful calls per second in the window.
func (r Result) Rate() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.OK) / r.Window.Seconds()
}

// Run calls call from workers goroutines for warmup, then for window,
// and returns what the window measured. Calls under way when the window
// closes finish (they are not cancelled) but are not counted.
func Run(ctx context.Context, name string, workers int, warmup, window time.Duration, call Call) Result {
	var (
		seq      atomic.Int64
		stop     atomic.Bool
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	type tally struct {
		ok, failed int64
		lat        []int64
	}
	tallies := make([]tally, workers)
	begin := time.Now()
	from, to := begin.Add(warmup), begin.Add(warmup+window)
	for w := range workers {
		wg.Go(func() {
			t := &tallies[w]
			t.lat = make([]int64, 0, 1<<14)
			for !stop.Load() && ctx.Err() == nil {
				start := time.Now()
				err := call(ctx, w, seq.Add(1))
				end := time.Now()
				if err != nil && ctx.Err() == nil {
					errOnce.Do(func() { firstErr = err })
				}
				if start.Before(from) || end.After(to) {
					continue
				}
				if err != nil {
					t.failed++
					continue
				}
				t.ok++
				t.lat = append(t.lat, int64(end.Sub(start)))
			}
		})
	}
	select {
	case <-time.After(time.Until(to)):
	case <-ctx.Done():
	}
	stop.Store(true)
	wg.Wait()

	r := Result{Name: name, Workers: workers, Window: window, Calls: seq.Load(), FirstErr: firstErr}
	if ctx.Err() != nil && r.FirstErr == nil {
		r.FirstErr = errors.New("interrupted")
	}
	var all []int64
	for _, t := range tallies {
		r.OK += t.ok
		r.Errors += t.failed
		all = append(all, t.lat...)
	}
	slices.Sort(all)
	r.P50, r.P99 = quantile(all, 0.50), quantile(all, 0.99)
	return r
}

func quantile(sorted []int64, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return time.Duration(sorted[i])
}
