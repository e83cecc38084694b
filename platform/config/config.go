// Package config reads a program's flags, each of which may also be given as
// an environment variable CONVENE_<FLAG> (upper case, '-' as '_'). A flag on
// the command line wins over the environment.
package config

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

// EnvName returns the environment variable that sets the flag name:
// "grpc-addr" → "CONVENE_GRPC_ADDR".
func EnvName(flagName string) string {
	return "CONVENE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs, then sets every flag not given on the command
// line from its environment variable, if present. lookupEnv is os.LookupEnv
// outside tests.
func Parse(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := lookupEnv(EnvName(f.Name)); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment %s: %w", EnvName(f.Name), serr)
			}
		}
	})
	return err
}

// SetMemoryLimit gives the Go runtime a soft memory limit (debug.SetMemoryLimit),
// so that it collects garbage harder before a process grows past it, unless
// the operator set GOMEMLIMIT. It is not a cap: a process that needs more
// still gets it.
func SetMemoryLimit(bytes int64, lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(bytes)
	}
}

// SetGCPercent sets the garbage collector's target (debug.SetGCPercent:
// how much the heap may grow over what a collection left before the next
// one starts), unless the operator set GOGC. With a soft memory limit set
// too, the limit still wins when the heap nears it.
func SetGCPercent(percent int, lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(percent)
	}
}
