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
	r, lat := run(ctx, name, workers, warmup, window, call)
	slices.Sort(lat)
	r.P50, r.P99 = quantile(lat, 0.50), quantile(lat, 0.99)
	return r
}

// Interleave measures two calls in turns: turns slices of each, a's first,
// every slice a Run of its own (warm-up, then window). It returns what the
// slices of each measured together: the calls of all of a call's slices
// (latencies included) over the sum of their windows.
//
// The machine's speed drifts within minutes on a shared virtual machine;
// two calls measured in turns share its spells, so the ratio of their rates
// is steadier than that of two windows measured minutes apart. The calls of
// the two never overlap: a slice's calls all end before the next slice
// starts. The numbers that a call's slices pass to it go on from slice to
// slice, so they stay unique across the slices as within a Run.
func Interleave(ctx context.Context, workers, turns int, warmup, window time.Duration, a, b Named) (Result, Result) {
	type side struct {
		Named
		r    Result
		lat  []int64
		made int64
	}
	sides := [2]*side{{Named: a}, {Named: b}}
	for _, s := range sides {
		s.r = Result{Name: s.Name, Workers: workers}
	}
	for range turns {
		for _, s := range sides {
			from := s.made
			r, lat := run(ctx, s.Name, workers, warmup, window,
				func(ctx context.Context, w int, i int64) error { return s.Call(ctx, w, from+i) })
			s.made += r.Calls
			s.r.OK, s.r.Errors, s.r.Calls, s.r.Window = s.r.OK+r.OK, s.r.Errors+r.Errors, s.r.Calls+r.Calls, s.r.Window+r.Window
			if s.r.FirstErr == nil {
				s.r.FirstErr = r.FirstErr
			}
			s.lat = append(s.lat, lat...)
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, s := range sides {
		slices.Sort(s.lat)
		s.r.P50, s.r.P99 = quantile(s.lat, 0.50), quantile(s.lat, 0.99)
	}
	return sides[0].r, sides[1].r
}

// Named is a call and the name its Result carries.
type Named struct {
	Name string
	Call Call
}

// run is Run without the quantiles: it returns the window's latencies,
// unsorted.
func run(ctx context.Context, name string, workers int, warmup, window time.Duration, call Call) (Result, []int64) {
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
	return r, all
}

func quantile(sorted []int64, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return time.Duration(sorted[i])
}
