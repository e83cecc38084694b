// Package boltdb opens a service's bbolt database the one way Convene wants
// it: durable (fsync on every commit), with a lock timeout so that a second
// process on the same file fails fast instead of waiting forever, and with
// errors that name the file.
package boltdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// LockTimeout is how long Open waits for another process to release the file.
const LockTimeout = time.Second

// Open opens (or creates) the database at path, creating its folder.
func Open(path string) (*bolt.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: LockTimeout,
		// Durability: these are bbolt's defaults, written out so that nobody
		// turns them on for speed. Every acknowledged write must survive kill -9.
		NoSync:         false,
		NoGrowSync:     false,
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("database %s is in use by another process (lock not released within %s)", path, LockTimeout)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return nil, fmt.Errorf("database %s is not a valid bbolt database (%v); it was left untouched", path, err)
	case err != nil:
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return db, nil
}
