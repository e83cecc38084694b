package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"convene.dev/bench/internal/load"
)

// TestReportJudgesTargets writes the report of made-up results and checks
// how each target is judged: on the measurements in turns, failing when
// either of a target's two measurements had errors or the one it is
// compared with made no call; and that what was outside the markers of the
// file survives.
func TestReportJudgesTargets(t *testing.T) {
	rate := func(name string, perSecond int64, errors int64) load.Result {
		return load.Result{Name: name, OK: perSecond * 8, Errors: errors, Window: 8 * time.Second, Workers: 64}
	}
	out := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(out, []byte("# Kept above\n\n"+beginMark+"\nold table\n"+endMark+"\n\nKept below.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &harness{cfg: Config{BinDir: t.TempDir(), Out: out, Workers: 64, Window: 8 * time.Second, Warmup: 2 * time.Second}, others: map[string]float64{}}
	h.results = map[string]load.Result{
		"storage-batch": rate("bbolt batch", 90000, 0),
		"empty":         rate("empty, first", 40000, 0),
		"empty-again":   rate("empty, last", 44000, 0),
		// Alone, against the better empty call, the create would miss
		// (0.32); it is judged in turns (0.37): a PASS.
		"create-grpc":       rate("create alone", 14000, 0),
		"empty-turns":       rate("empty in turns", 38000, 0),
		"create-grpc-turns": rate("create in turns", 14000, 0),
		// The gateway's ratio in turns is 0.50, but the gRPC create it was
		// compared with had errors: a MISS.
		"create-gateway":            rate("gateway alone", 4000, 0),
		"create-grpc-gateway-turns": rate("gRPC with the gateway's", 14000, 3),
		"create-gateway-turns":      rate("gateway in turns", 7000, 0),
		"list-grpc":                 rate("list", 11000, 0), // 0.25 of 44,000: a PASS
		"get-grpc":                  rate("get", 20000, 0),  // 0.45: a MISS
		// No create at 1k was measured: the 1M one's target is a MISS.
		"create-1M": rate("create at 1M", 15000, 0),
	}
	if err := h.report(time.Minute); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.HasPrefix(text, "# Kept above\n\n"+beginMark) || !strings.HasSuffix(text, endMark+"\n\nKept below.\n") || strings.Contains(text, "old table") {
		t.Errorf("the report did not replace just the table between the markers:\n%s", text)
	}
	row := func(name string) string {
		for line := range strings.SplitSeq(text, "\n") {
			if strings.HasPrefix(line, "| "+name+" ") {
				return line
			}
		}
		t.Errorf("no row for %q", name)
		return ""
	}
	for _, c := range []struct{ name, want string }{
		{"create alone", "| 0.32 (0.16 of storage) | empty call |  |  |"},
		{"create in turns", "| 0.37 (0.16 of storage) | empty call in the same turns | ≥ 0.35 × empty call | PASS |"},
		{"gateway in turns", "| 0.50 | gRPC create in the same turns | ≥ 0.40 × gRPC create | **MISS** |"},
		{"list", "| 0.25 | empty call | ≥ 0.20 × empty call | PASS |"},
		{"get", "| 0.45 | empty call | ≥ 0.50 × empty call | **MISS** |"},
		{"create at 1M", "| create at 1k (not measured) | ≥ 0.80 × create at 1k | **MISS** |"},
	} {
		if got := row(c.name); !strings.Contains(got, c.want) {
			t.Errorf("row %q:\n%s\nwant it to contain %q", c.name, got, c.want)
		}
	}
	if !strings.Contains(text, "**2 targets pass, 3 miss.**") {
		t.Errorf("want 2 targets passed and 3 missed in:\n%s", text)
	}
}
