package logs

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// recorder is the Writer's w: it keeps what it got, counts the writes, and
// blocks each write until gate lets it through (when gate is set).
type recorder struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	gate   chan struct{}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	return r.buf.Write(p)
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Split(strings.TrimSuffix(r.buf.String(), "\n"), "\n")
}

// TestWriterKeepsEveryLine: lines written from many goroutines all arrive,
// whole, each goroutine's in its order, and Close writes the last of them.
func TestWriterKeepsEveryLine(t *testing.T) {
	rec := &recorder{}
	w := NewWriter(rec)
	const writers, each = 16, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				line := fmt.Sprintf("writer %d line %d %s\n", g, i, strings.Repeat("x", i%50))
				if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
					t.Errorf("Write = %d, %v; want %d, nil", n, err, len(line))
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	lines := rec.lines()
	for _, line := range lines {
		var g, i int
		var rest string
		if _, err := fmt.Sscanf(line, "writer %d line %d %s", &g, &i, &rest); err != nil && i%50 != 0 {
			t.Fatalf("line %q is not whole: %v", line, err)
		}
		if i != next[g] || len(rest) != i%50 {
			t.Fatalf("writer %d: line %q, want line %d", g, line, next[g])
		}
		next[g]++
	}
	if len(lines) != writers*each {
		t.Errorf("%d lines arrived, want %d", len(lines), writers*each)
	}
	// After Close, lines go straight through.
	w.Write([]byte("after close\n"))
	if got := rec.lines(); got[len(got)-1] != "after close" {
		t.Errorf("last line %q, want the one written after Close", got[len(got)-1])
	}
	if err := w.Close(); err != nil { // twice
		t.Fatal(err)
	}
}

// TestWriterBatchesWhileWriting: lines written while a write of w is under
// way go out together in the next one, and a Write returns without waiting
// for w.
func TestWriterBatchesWhileWriting(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	w := NewWriter(rec)
	w.Write([]byte("first\n")) // the goroutine takes it, and blocks in rec
	for i := range 100 {
		w.Write(fmt.Appendf(nil, "line %d\n", i)) // returns: rec is blocked
	}
	close(rec.gate)
	w.Close()
	if n := len(rec.lines()); n != 101 {
		t.Fatalf("%d lines, want 101", n)
	}
	if rec.writes > 3 {
		t.Errorf("101 lines in %d writes, want them batched (at most 3)", rec.writes)
	}
}

// TestWriterHoldsAtMostMaxPending: when w falls behind, Write waits rather
// than holding more than maxPending bytes (and the line that crossed it).
func TestWriterHoldsAtMostMaxPending(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	w := NewWriter(rec)
	line := append(bytes.Repeat([]byte("y"), 1023), '\n')
	total := 2 * maxPending / len(line)
	w.Write(line) // the goroutine takes it, or more, and blocks in rec
	var written atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for range total {
			w.Write(line)
			written.Add(1)
		}
	})
	for {
		w.mu.Lock()
		pending := len(w.pending)
		w.mu.Unlock()
		if pending >= maxPending {
			if pending > maxPending+len(line) {
				t.Errorf("%d bytes pending, want at most %d", pending, maxPending+len(line))
			}
			break
		}
		runtime.Gosched()
	}
	if n := written.Load(); n >= int64(total) {
		t.Errorf("all %d writes went through while w was blocked", n)
	}
	close(rec.gate)
	wg.Wait()
	w.Close()
	if n := len(rec.lines()); n != 1+total {
		t.Errorf("%d lines, want %d", n, 1+total)
	}
}

// TestWriterWriteDuringClose: a line written while Close is under way goes
// out after the lines before it, never beside them.
func TestWriterWriteDuringClose(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	w := NewWriter(rec)
	w.Write([]byte("1\n")) // the goroutine takes it, and blocks in rec
	for {                  // until it has
		w.mu.Lock()
		taken := len(w.pending) == 0
		w.mu.Unlock()
		if taken {
			break
		}
		runtime.Gosched()
	}
	w.Write([]byte("2\n")) // pending
	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	for {
		w.mu.Lock()
		c := w.closed
		w.mu.Unlock()
		if c {
			break
		}
		runtime.Gosched()
	}
	wrote := make(chan struct{})
	go func() { w.Write([]byte("3\n")); close(wrote) }()
	close(rec.gate)
	<-closed
	<-wrote
	if got := strings.Join(rec.lines(), " "); got != "1 2 3" {
		t.Errorf("lines %q, want 1 2 3", got)
	}
}
