package config

import (
	"flag"
	"runtime/debug"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantWait time.Duration
		wantErr  bool
	}{
		{name: "defaults", wantAddr: "127.0.0.1:1", wantWait: time.Second},
		{name: "env", env: map[string]string{"CONVENE_GRPC_ADDR": "127.0.0.1:2", "CONVENE_WAIT": "2s"}, wantAddr: "127.0.0.1:2", wantWait: 2 * time.Second},
		{name: "flag wins", args: []string{"-grpc-addr", "127.0.0.1:3"}, env: map[string]string{"CONVENE_GRPC_ADDR": "127.0.0.1:2"}, wantAddr: "127.0.0.1:3", wantWait: time.Second},
		{name: "bad env", env: map[string]string{"CONVENE_WAIT": "soon"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			addr := fs.String("grpc-addr", "127.0.0.1:1", "")
			wait := fs.Duration("wait", time.Second, "")
			err := Parse(fs, tt.args, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse() error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if *addr != tt.wantAddr || *wait != tt.wantWait {
				t.Errorf("got addr %q wait %v, want %q %v", *addr, *wait, tt.wantAddr, tt.wantWait)
			}
		})
	}
}

// TestSetGCPercent: the process's setting is applied unless the operator
// set GOGC, whose value the runtime has already taken.
func TestSetGCPercent(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	env := func(set bool) func(string) (string, bool) {
		return func(k string) (string, bool) { return "50", set && k == "GOGC" }
	}
	SetGCPercent(400, env(true))
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, the GC percent became %d, want it left at 100", got)
	}
	SetGCPercent(400, env(false))
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("without GOGC, the GC percent is %d, want 400", got)
	}
}
