// Package cputime reports, in benchmarks, the CPU time the process used per
// operation. Convene's services share two cores with their load: how many
// calls they answer is decided by the CPU each costs, which ns/op does not
// show when callers mostly wait (for the disk, for a group commit).
package cputime

import (
	"syscall"
	"testing"
	"time"
)

// Clock is the process's CPU time when a measurement began.
type Clock struct{ start time.Duration }

// Start reads the process's CPU time (user and system, every thread).
func Start(tb testing.TB) Clock {
	tb.Helper()
	return Clock{process(tb)}
}

// Report adds the CPU time per operation since Start to b's results, as
// cpu-ns/op.
func (c Clock) Report(b *testing.B) {
	b.Helper()
	b.ReportMetric(float64(process(b)-c.start)/float64(b.N), "cpu-ns/op")
}

func process(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
