package boltdb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenIsDurable(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "sub", "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.NoSync || db.NoGrowSync || db.NoFreelistSync {
		t.Errorf("fsync settings: NoSync=%v NoGrowSync=%v NoFreelistSync=%v, want all false", db.NoSync, db.NoGrowSync, db.NoFreelistSync)
	}
}

func TestOpenLockedFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open error = %v, want an 'in use' error naming %s", err, path)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v", d)
	}
}

func TestOpenGarbageIsLeftAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	garbage := []byte(strings.Repeat("not a database ", 1000))
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open error = %v, want an error naming %s", err, path)
	}
	got, _ := os.ReadFile(path)
	if string(got) != string(garbage) {
		t.Error("the file was changed")
	}
}
