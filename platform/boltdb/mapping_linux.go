package boltdb

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// dontNeed is madvise(addr, length, MADV_DONTNEED) over the mapping that
// starts at addr, never past its end. The address is bbolt's own mapping,
// passed as the number that bbolt's Info gives, so no Go pointer is made
// of it.
func dontNeed(addr, length uintptr) error {
	n, err := mappedLength(addr, length)
	if err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, n, unix.MADV_DONTNEED); errno != 0 {
		return fmt.Errorf("madvise the database's mapping: %w", errno)
	}
	return nil
}

// mappedLength returns length, or less: as much of it as the mapping that
// starts at addr covers (/proc/self/maps). The database's used size is
// within bbolt's mapping for any sound file, but a file cut short below
// its meta page's high-water mark still opens, and there the used size
// runs past the mapping into the process's own memory, which MADV_DONTNEED
// would zero (TestReleaseMappingStaysInsideTheMapping).
func mappedLength(addr, length uintptr) (uintptr, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(maps) {
		span, _, _ := bytes.Cut(line, []byte(" "))
		lo, hi, ok := bytes.Cut(span, []byte("-"))
		if !ok {
			continue
		}
		if start, err := strconv.ParseUint(string(lo), 16, 64); err != nil || uintptr(start) != addr {
			continue
		}
		end, err := strconv.ParseUint(string(hi), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/maps: %q: %w", line, err)
		}
		return min(length, uintptr(end)-addr), nil
	}
	return 0, fmt.Errorf("no mapping starts at %#x", addr)
}
