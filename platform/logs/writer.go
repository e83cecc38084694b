package logs

import (
	"io"
	"sync"
)

// maxPending is how many bytes of lines a Writer holds, at most, before a
// Write waits for them to be written.
const maxPending = 1 << 20

// Writer writes lines to w from a goroutine of its own: a Write copies the
// line and returns, and the lines written meanwhile go out together, in
// order, in one write of w. The request log writes a line per call, and a
// write(2) per line cost a registration ~2 µs of the service's CPU and held
// the logger's lock through the syscall (BENCHMARKS.md, sixth round).
//
// A line reaches w microseconds after its Write, as soon as the goroutine
// runs; a process killed meanwhile loses those. Close writes what is left.
type Writer struct {
	w    io.Writer
	kick chan struct{} // a line is pending; closed by Close
	done chan struct{} // the goroutine has written the last lines

	mu      sync.Mutex
	space   *sync.Cond // pending fell below maxPending, or the Writer closed
	pending []byte
	closed  bool
}

// NewWriter starts writing to w; Close stops it.
func NewWriter(w io.Writer) *Writer {
	lw := &Writer{w: w, kick: make(chan struct{}, 1), done: make(chan struct{})}
	lw.space = sync.NewCond(&lw.mu)
	go lw.run()
	return lw
}

// Write queues a copy of p. It never fails: an error of w is the
// goroutine's, and the lines go on to w after it (a log cannot report
// that it cannot log).
func (lw *Writer) Write(p []byte) (int, error) {
	lw.mu.Lock()
	for len(lw.pending) >= maxPending && !lw.closed {
		lw.space.Wait()
	}
	if lw.closed { // after Close: straight through, once the rest is written
		lw.mu.Unlock()
		<-lw.done
		lw.mu.Lock()
		defer lw.mu.Unlock()
		return lw.w.Write(p)
	}
	lw.pending = append(lw.pending, p...)
	select { // under mu: Close closes kick under it too
	case lw.kick <- struct{}{}:
	default: // already kicked: the goroutine will take this line too
	}
	lw.mu.Unlock()
	return len(p), nil
}

func (lw *Writer) run() {
	defer close(lw.done)
	var out []byte
	for range lw.kick {
		lw.mu.Lock()
		out, lw.pending = lw.pending, out[:0]
		lw.space.Broadcast()
		lw.mu.Unlock()
		if len(out) > 0 { // a second kick may find its line already taken
			_, _ = lw.w.Write(out)
		}
	}
	lw.mu.Lock() // Close: the last lines, before any Write that follows it
	defer lw.mu.Unlock()
	if len(lw.pending) > 0 {
		_, _ = lw.w.Write(lw.pending)
		lw.pending = nil
	}
}

// Close writes the lines still pending and returns; later Writes go
// straight to w. Closing twice is harmless.
func (lw *Writer) Close() error {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		<-lw.done
		return nil
	}
	lw.closed = true
	lw.space.Broadcast()
	close(lw.kick)
	lw.mu.Unlock()
	<-lw.done
	return nil
}
