package cputime

import (
	"testing"
	"time"
)

// TestClock: 200 ms of busy work read as about 200 ms of CPU.
func TestClock(t *testing.T) {
	c := Start(t)
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
	}
	used := process(t) - c.start
	if used < 100*time.Millisecond || used > 2*time.Second {
		t.Errorf("200 ms of busy work read as %s of CPU", used)
	}
}
