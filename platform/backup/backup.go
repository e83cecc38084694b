// Package backup takes online copies of a service's bbolt database: the
// server side streams a consistent snapshot while writes go on, and the
// client side (the binaries' `backup` command) writes it to a file that
// only appears, fsynced and checked, once it is whole.
package backup

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"convene.dev/platform/auth"
)

// ChunkSize is the size of the streamed pieces.
const ChunkSize = 256 << 10

// Stream writes a consistent copy of db to send, in pieces of ChunkSize.
// It runs in one read transaction: writers go on meanwhile, and the copy is
// the database as it was when the transaction began.
func Stream(ctx context.Context, db *bolt.DB, send func([]byte) error) error {
	return db.View(func(tx *bolt.Tx) error {
		w := &chunker{ctx: ctx, send: send, buf: make([]byte, 0, ChunkSize)}
		if _, err := tx.WriteTo(w); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return w.flush()
	})
}

type chunker struct {
	ctx  context.Context
	send func([]byte) error
	buf  []byte
}

func (c *chunker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), ChunkSize-len(c.buf))
		c.buf = append(c.buf, p[:k]...)
		p = p[k:]
		if len(c.buf) == ChunkSize {
			if err := c.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (c *chunker) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	err := c.send(c.buf)
	c.buf = c.buf[:0]
	return err
}

// Open starts a backup stream on a connection and returns the function that
// reads its next piece (io.EOF at the end).
type Open func(ctx context.Context, conn *grpc.ClientConn) (recv func() ([]byte, error), err error)

// Command is a binary's `backup` command: it calls the running service and
// writes the copy to -o.
func Command(name, defaultAddr string, args []string, open Open) error {
	fs := flag.NewFlagSet(name+" backup", flag.ContinueOnError)
	addr := fs.String("addr", defaultAddr, "gRPC address of the running service")
	out := fs.String("o", "", "file to write the copy to (required)")
	tokenFile := fs.String("token-file", "", "file holding an organizer token")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("backup: -o FILE is required")
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(auth.TokenCredentials(strings.TrimSpace(string(b)))))
	}
	conn, err := grpc.NewClient(*addr, opts...)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	recv, err := open(ctx, conn)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	n, err := WriteFile(*out, recv)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s backup: wrote %s (%d bytes)\n", name, *out, n)
	return nil
}

// WriteFile writes the pieces that recv returns to a temporary file next to
// path, fsyncs it, checks that it is a sound bbolt database, and renames it
// to path. Until then path is untouched.
func WriteFile(path string, recv func() ([]byte, error)) (int64, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".partial-*")
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up after a failure
	var n int64
	for {
		b, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tmp.Close()
			return 0, fmt.Errorf("backup: %w", err)
		}
		if _, err := tmp.Write(b); err != nil {
			tmp.Close()
			return 0, fmt.Errorf("backup: %w", err)
		}
		n += int64(len(b))
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err := Check(tmp.Name()); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable
		_ = d.Sync()
		d.Close()
	}
	return n, nil
}

// Check opens a database file read-only and runs bbolt's consistency check.
func Check(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("backup: %s is not a sound database: %w", path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("backup: %s fails the consistency check: %w", path, errors.Join(errs...))
		}
		return nil
	})
}
