//go:build !linux

package boltdb

import "errors"

func dontNeed(addr, length uintptr) error {
	return errors.New("releasing the database's mapped pages is implemented on Linux only")
}
