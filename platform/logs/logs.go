// Package logs builds the process's slog logger.
package logs

import (
	"fmt"
	"io"
	"log/slog"
)

// New returns a logger writing to w in format "json" (the default) or
// "text". The binaries give it a Writer over stderr.
func New(w io.Writer, format, service string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	var h slog.Handler
	switch format {
	case "", "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want json or text", format)
	}
	return slog.New(h).With("service", service), nil
}
