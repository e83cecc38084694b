package boltdb

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// dontNeed is madvise(addr, length, MADV_DONTNEED). The address is bbolt's
// own mapping, passed as the number that bbolt's Info gives, so no Go
// pointer is made of it.
func dontNeed(addr, length uintptr) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, length, unix.MADV_DONTNEED); errno != 0 {
		return fmt.Errorf("madvise the database's mapping: %w", errno)
	}
	return nil
}
