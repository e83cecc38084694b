// Command bench measures Convene against the limits of the machine it runs
// on, in one run, and reports ratios (issue 7): absolute numbers drift from
// run to run on a shared 2-core machine, ratios measured together do not.
//
// It builds nothing: -bin names the folder holding events, registrations,
// gateway and regpreload (`make bench` builds them). It starts the three
// services on free loopback ports with fresh data in a temporary folder and
// an auth file, and measures, each after a warm-up:
//
//  1. the storage limit: durable bbolt inserts of registration-sized records
//     from 64 writers, in this process (platform/boltdb's Group committer,
//     and db.Batch with MaxBatchSize fitted to the writers);
//  2. the RPC limit: the gRPC health Check of the registrations service;
//  3. CreateRegistration over gRPC, and 4. through the gateway, each alone
//     and in turns with what its target compares it with (the empty call,
//     the gRPC create: see inTurns);
//  5. ListEvents (page of 50 of 10,000 events, filtered) and GetEvent, over
//     gRPC and through the gateway;
//  6. CreateRegistration with 1,000 and with 1,000,000 registrations stored
//     (preloaded by regpreload);
//  7. the peak RSS of every process, and the start-up time of the
//     registrations service on the 1,000,000-registration database.
//
// It prints one table and writes it into BENCHMARKS.md, between markers, so
// that the analysis written below the table survives the next run.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/platform/auth"
	"convene.dev/platform/boltdb"
	"convene.dev/services/events/demo"

	"convene.dev/bench/internal/load"
	"convene.dev/bench/internal/procs"
	"convene.dev/bench/internal/workload"
)

// Config is what one run does.
type Config struct {
	BinDir    string
	Out       string        // BENCHMARKS.md
	Workers   int           // concurrent callers (and writers)
	Warmup    time.Duration // before each measuring window
	Window    time.Duration // each measuring window
	Events    int           // events loaded for ListEvents and GetEvent
	PageSize  int32
	Filter    string
	Preload   int // registrations stored for the large-database measurement
	Conns     int // gRPC connections the callers share
	KeepData  bool
	DecodeAll bool          // decode every answer of the read measurements (default: check the first, skim the rest)
	StartWait time.Duration // how long a service may take to say SERVING
	// ProfileDir, when set, gets a system-wide `perf record` of every
	// measuring window (<key>.perf.data), to see where the CPU goes.
	ProfileDir string
	QuietWait  time.Duration // how long to wait for other processes to quieten before each measurement
	// PprofDir, when set, starts the services with -pprof and saves, per
	// measuring window, a Go CPU profile of each running service and of the
	// load generator (<key>.<log name>.pprof, <key>.bench.pprof), their
	// allocations (.allocs.pprof) and one second of execution trace
	// (.trace). Profiling costs a few per cent: figures from such a run are
	// for finding where the time goes, not for the table.
	PprofDir string
	// Only, when set, runs only the measurements with these keys (empty,
	// create-grpc, list-grpc, storage-batch, create-1M, …) and writes no
	// report: for working on one figure.
	Only map[string]bool
}

// DefaultConfig returns the settings of `make bench`.
func DefaultConfig() Config {
	return Config{
		Out: "BENCHMARKS.md", Workers: 64, Warmup: 2 * time.Second, Window: 8 * time.Second,
		Events: 10000, PageSize: 50, Filter: "kind = WORKSHOP", Preload: 1000000, Conns: 1,
		StartWait: 60 * time.Second, QuietWait: time.Minute,
	}
}

func main() {
	cfg := DefaultConfig()
	flag.StringVar(&cfg.BinDir, "bin", "", "folder holding events, registrations, gateway and regpreload (required)")
	flag.StringVar(&cfg.Out, "out", cfg.Out, "the Markdown file to write the table into")
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent callers")
	flag.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up before each measurement (a quarter of it before each slice of a measurement in turns)")
	flag.DurationVar(&cfg.Window, "window", cfg.Window, fmt.Sprintf("length of each measurement (in turns: of each call's %d slices together)", turns))
	flag.IntVar(&cfg.Events, "events", cfg.Events, "events to load for ListEvents and GetEvent")
	flag.IntVar(&cfg.Preload, "preload", cfg.Preload, "registrations stored for the large-database measurement")
	flag.IntVar(&cfg.Conns, "conns", cfg.Conns, "gRPC connections shared by the callers")
	flag.BoolVar(&cfg.KeepData, "keep", false, "keep the temporary data folder")
	flag.BoolVar(&cfg.DecodeAll, "decode-all", false, "decode every answer of ListEvents, GetEvent and the creates (by default the first is checked in full, the rest only read)")
	flag.DurationVar(&cfg.QuietWait, "quiet-wait", cfg.QuietWait, "how long to wait, before each measurement, for other processes to stop using the CPU")
	flag.StringVar(&cfg.ProfileDir, "profile", "", "folder for a perf record (-a -g) of each measuring window (needs perf)")
	flag.StringVar(&cfg.PprofDir, "pprof", "", "folder for Go CPU and allocation profiles and an execution trace of every process during each measuring window")
	only := flag.String("only", "", "comma-separated measurement keys to run (e.g. create-grpc,list-grpc); writes no report")
	flag.Parse()
	if *only != "" {
		cfg.Only = map[string]bool{}
		for _, k := range strings.Split(*only, ",") {
			cfg.Only[strings.TrimSpace(k)] = true
		}
	}
	if cfg.BinDir == "" {
		fmt.Fprintln(os.Stderr, "bench: -bin is required")
		os.Exit(2)
	}
	for _, dir := range []string{cfg.PprofDir, cfg.ProfileDir} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil { // the profiles are written as each window ends
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// The tokens of the run's auth file (only their hashes are in the file).
const (
	organizerToken = "bench-organizer-token"
	serviceToken   = "bench-registrations-service-token"
)

// harness holds the running system.
type harness struct {
	cfg     Config
	dir     string
	auth    string // auth file
	svcTok  string // the registrations service's token file
	results map[string]load.Result
	others  map[string]float64 // cores used by other processes during each measurement
	foreign *procs.Foreign
	rss     []rssRow
	notes   []string
	mu      sync.Mutex
	procs   []*procs.Proc

	events, registrations, gateway *procs.Proc
	eventsAddr, registrationsAddr  string
	httpURL                        string
	eventsOrg                      *grpc.ClientConn   // as the organizer
	eventsPub, registrationsPub    []*grpc.ClientConn // public: no token
	httpClient                     *http.Client
	eventIDs                       []string
	startup                        time.Duration
	startupSmall                   time.Duration
	peakLog                        []string // peak RSS of each process after each phase
	usedAddrs                      map[string]bool
}

type rssRow struct {
	proc  string
	bytes int64
}

func (h *harness) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	fmt.Fprintln(os.Stderr, "bench:", s)
	h.mu.Lock()
	h.notes = append(h.notes, s)
	h.mu.Unlock()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func run(ctx context.Context, cfg Config) (err error) {
	for _, b := range []string{"events", "registrations", "gateway", "regpreload"} {
		if _, err := os.Stat(filepath.Join(cfg.BinDir, b)); err != nil {
			return fmt.Errorf("binary %s: %w (run make build)", b, err)
		}
	}
	dir, err := os.MkdirTemp("", "convene-bench-")
	if err != nil {
		return err
	}
	h := &harness{cfg: cfg, dir: dir, results: map[string]load.Result{}, others: map[string]float64{}, usedAddrs: map[string]bool{}}
	h.foreign = procs.NewForeign(h.pids)
	defer func() {
		for _, p := range h.procs {
			p.Stop()
		}
		if cfg.KeepData || err != nil {
			logf("data and logs kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	begin := time.Now()
	if err := h.writeAuth(); err != nil {
		return err
	}

	// 1. The storage limit, before anything else runs.
	if h.wants("storage-group") || h.wants("storage-batch") {
		if err := h.storageLimit(ctx); err != nil {
			return err
		}
	}
	// 2-5. The system with fresh data.
	if err := h.startSystem(ctx); err != nil {
		return err
	}
	if err := h.loadEvents(ctx); err != nil {
		return err
	}
	h.peaks("loading the events")
	if err := procs.WaitIdle(ctx, 3*time.Minute, h.events, h.registrations, h.gateway); err != nil {
		return fmt.Errorf("waiting for the services to settle after loading: %w", err)
	}
	h.peaks("the registrations service followed the events feed")
	if err := h.measureSystem(ctx); err != nil {
		return err
	}
	h.recordRSS("events", h.events)
	h.recordRSS("registrations (fresh database)", h.registrations)
	h.recordRSS("gateway", h.gateway)

	// 6-7. CreateRegistration on small and large databases.
	h.registrations.Stop()
	if h.wants("create-1k") {
		if err := h.storedRun(ctx, "1k", 1000, "stored-1k"); err != nil {
			return err
		}
	}
	if h.wants("create-1M") {
		if err := h.storedRun(ctx, "1M", cfg.Preload, "stored-1m"); err != nil {
			return err
		}
	}
	h.recordRSS("bench (load generator, in-process bbolt)", nil)
	total := time.Since(begin)
	logf("all measurements took %s", total.Round(time.Second))
	if cfg.Only != nil {
		return nil // a partial run: the table would be mostly empty
	}
	return h.report(total)
}

func (h *harness) writeAuth() error {
	hash := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	content := fmt.Sprintf(`{"tokens": [
  {"name": "secretariat", "role": "organizer", "sha256": %q},
  {"name": "registrations", "role": "service", "sha256": %q}
]}
`, hash(organizerToken), hash(serviceToken))
	h.auth, h.svcTok = filepath.Join(h.dir, "auth.json"), filepath.Join(h.dir, "service.token")
	if err := os.WriteFile(h.auth, []byte(content), 0o600); err != nil {
		return err
	}
	return os.WriteFile(h.svcTok, []byte(serviceToken+"\n"), 0o600)
}

// freeAddr returns a loopback address with a free port that this run has
// not handed out before (a port handed out but not yet bound by its process
// would otherwise come back).
func (h *harness) freeAddr() (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for range 100 {
		addr, err := procs.FreeAddr()
		if err != nil {
			return "", err
		}
		if !h.usedAddrs[addr] {
			h.usedAddrs[addr] = true
			return addr, nil
		}
	}
	return "", errors.New("no free loopback port")
}

// pids are the processes of ours that are running.
func (h *harness) pids() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int
	for _, p := range h.procs {
		if !p.Exited() {
			out = append(out, p.Pid())
		}
	}
	return out
}

// start runs a binary of the bin folder, with a free metrics address when
// the binary serves metrics (so that it never collides with another run).
func (h *harness) start(name, logName string, args ...string) (*procs.Proc, error) {
	bin := filepath.Join(h.cfg.BinDir, name)
	metrics := ""
	if help, _ := exec.Command(bin, "-h").CombinedOutput(); bytes.Contains(help, []byte("-metrics-addr")) {
		addr, err := h.freeAddr()
		if err != nil {
			return nil, err
		}
		args = append(args, "-metrics-addr", addr)
		metrics = addr
		if h.cfg.PprofDir != "" {
			args = append(args, "-pprof")
		}
	}
	p, err := procs.Start(name, bin, filepath.Join(h.dir, logName+".log"), args...)
	if err != nil {
		return nil, err
	}
	p.MetricsAddr = metrics
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return p, nil
}

// record keeps a result and prints it.
func (h *harness) record(key string, r load.Result) {
	h.results[key] = r
	msg := fmt.Sprintf("%-40s %9.0f/s  p50 %-9s p99 %-9s (%d ok, %d errors)", r.Name, r.Rate(), fmtDur(r.P50), fmtDur(r.P99), r.OK, r.Errors)
	if r.FirstErr != nil {
		msg += "  first error: " + r.FirstErr.Error()
	}
	logf("%s", msg)
}

// perAttempt gives a measurement's call for each attempt (1, or 2 when the
// first was disturbed): the creates make a second attempt's registrations
// for an event of its own (eventFor), since an event takes only so many.
type perAttempt func(attempt int) load.Call

// same is a call that is the same for every attempt.
func same(call load.Call) perAttempt { return func(int) load.Call { return call } }

// measure runs call under load (after a warm-up) and records the result,
// with its commits (see attempts).
func (h *harness) measure(ctx context.Context, key, name string, call perAttempt) {
	if !h.wants(key) {
		return
	}
	var made int64 // calls of the earlier attempt
	h.attempts(ctx, key, name, func(attempt int) func() {
		before := h.dbCounters()
		var done <-chan struct{}
		if h.cfg.ProfileDir != "" {
			done = h.profile(ctx, key)
		}
		if h.cfg.PprofDir != "" {
			done = h.pprof(ctx, key, done)
		}
		r := load.Run(ctx, name, h.cfg.Workers, h.cfg.Warmup, h.cfg.Window, numberedFrom(call(attempt), made))
		made += r.Calls
		if done != nil {
			<-done
		}
		return func() {
			h.record(key, r)
			h.noteCommits(name, before, h.dbCounters())
		}
	})
}

// attempts makes a measurement: it waits for the machine to be quiet
// (others may share it), makes one attempt (once), and keeps its result
// (once's record) with the CPU others used meanwhile.
//
// A measurement that others disturbed (they used more than disturbedCores
// on average) is made once more, and the less disturbed of the two kept.
// The second attempt goes on numbering the calls where the first stopped
// (the creates make a participant from the call's number), and may make
// other calls (see perAttempt).
func (h *harness) attempts(ctx context.Context, key, name string, once func(attempt int) (record func())) {
	for attempt := 1; ; attempt++ {
		if c := h.foreign.WaitQuiet(ctx, quietCores, h.cfg.QuietWait); c >= quietCores {
			h.note("%s: other processes kept using %.2f cores for %s before it; measured anyway", name, c, h.cfg.QuietWait)
		}
		h.foreign.Start()
		record := once(attempt)
		others := h.foreign.Cores()
		if prev, ok := h.others[key]; !ok || others < prev {
			h.others[key] = others
			record()
		}
		if others < disturbedCores || attempt == 2 || ctx.Err() != nil {
			break
		}
		h.note("%s: other processes used %.2f cores during the measurement; measuring again", name, others)
	}
	h.peaks(key)
}

// numberedFrom is call with the numbers it is given moved on by from.
func numberedFrom(call load.Call, from int64) load.Call {
	return func(ctx context.Context, w int, i int64) error { return call(ctx, w, from+i) }
}

// turns is how many slices of each of two calls a measurement in turns
// (load.Interleave) makes: each slice is Window/turns long, after Warmup/4
// of warm-up (1 s after 0.5 s by default), so that each call is measured
// as long, in all, as a measurement alone.
const turns = 8

func (c Config) turnWindow() time.Duration { return c.Window / turns }
func (c Config) turnWarmup() time.Duration { return c.Warmup / 4 }

// inTurns measures call in turns with base (see load.Interleave) and
// records both, under key and baseKey: it is how a target that compares two
// calls is judged. The machine's speed drifts within a run (the two
// empty-call windows, minutes apart, have differed by a quarter,
// BENCHMARKS.md); two windows measured one after the other may catch
// different spells, and slices side by side share them. Attempts are made
// as for measure.
func (h *harness) inTurns(ctx context.Context, key, name string, call perAttempt, baseKey, baseName string, base perAttempt) {
	if !h.wants(key) && !h.wants(baseKey) { // -only may name either
		return
	}
	var made, baseMade int64 // calls of the earlier attempt
	h.attempts(ctx, key, name, func(attempt int) func() {
		rb, rc := load.Interleave(ctx, h.cfg.Workers, turns, h.cfg.turnWarmup(), h.cfg.turnWindow(),
			load.Named{Name: baseName, Call: numberedFrom(base(attempt), baseMade)},
			load.Named{Name: name, Call: numberedFrom(call(attempt), made)})
		made, baseMade = made+rc.Calls, baseMade+rb.Calls
		return func() {
			h.others[baseKey] = h.others[key]
			h.record(baseKey, rb)
			h.record(key, rc) // the commits are noted for the calls measured alone
		}
	})
}

// peaks logs every running process's peak RSS so far, to tell which
// measurement raised it.
func (h *harness) peaks(after string) {
	h.mu.Lock()
	ps := slices.Clone(h.procs)
	h.mu.Unlock()
	var parts []string
	for _, p := range ps {
		if b, err := p.PeakRSS(); err == nil && !p.Exited() {
			parts = append(parts, fmt.Sprintf("%s %d MiB", filepath.Base(p.Log), b>>20))
		}
	}
	if len(parts) > 0 {
		h.peakLog = append(h.peakLog, fmt.Sprintf("after %s: %s", after, strings.Join(parts, ", ")))
	}
}

// dbCounters reads the bbolt counters that the running services publish on
// /metrics (commits, writes, pages written, write time), by process log.
func (h *harness) dbCounters() map[string]map[string]float64 {
	h.mu.Lock()
	ps := slices.Clone(h.procs)
	h.mu.Unlock()
	out := map[string]map[string]float64{}
	client := &http.Client{Timeout: 2 * time.Second}
	for _, p := range ps {
		if p.MetricsAddr == "" || p.Exited() {
			continue
		}
		resp, err := client.Get("http://" + p.MetricsAddr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := map[string]float64{}
		for line := range strings.SplitSeq(string(b), "\n") {
			for _, name := range []string{"convene_db_commits_total", "convene_db_writes_total", "convene_db_pages_written_total", "convene_db_write_seconds_total",
				"convene_db_spill_seconds_total", "convene_db_committer_busy_seconds_total", "convene_db_commit_waits_total"} {
				if rest, ok := strings.CutPrefix(line, name); ok && (strings.HasPrefix(rest, "{") || strings.HasPrefix(rest, " ")) {
					var v float64
					fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
					if len(fields) > 0 {
						fmt.Sscan(fields[0], &v)
					}
					m[name] += v
				}
			}
		}
		out[filepath.Base(p.Log)] = m
	}
	return out
}

// noteCommits notes how the services' databases committed during a
// measurement (warm-up included): writes per commit is the group commit at
// work.
func (h *harness) noteCommits(name string, before, after map[string]map[string]float64) {
	for proc, a := range after {
		b := before[proc]
		commits := a["convene_db_commits_total"] - b["convene_db_commits_total"]
		if commits < 1 {
			continue
		}
		writes := a["convene_db_writes_total"] - b["convene_db_writes_total"]
		pages := a["convene_db_pages_written_total"] - b["convene_db_pages_written_total"]
		secs := a["convene_db_write_seconds_total"] - b["convene_db_write_seconds_total"]
		spill := a["convene_db_spill_seconds_total"] - b["convene_db_spill_seconds_total"]
		busy := a["convene_db_committer_busy_seconds_total"] - b["convene_db_committer_busy_seconds_total"]
		waits := a["convene_db_commit_waits_total"] - b["convene_db_commit_waits_total"]
		h.note("%s: %s committed %.0f transactions holding %.0f writes (%.1f per commit; %.0f %% of them waited for more to join), %.1f pages and %.2f ms of writing per commit; per commit the committer took %.2f ms (%.2f ms laying out pages), busy %.0f %% of the time",
			name, strings.TrimSuffix(proc, ".log"), commits, writes, writes/commits, 100*waits/commits, pages/commits, 1000*secs/commits,
			1000*busy/commits, 1000*spill/commits, 100*busy/(h.cfg.Warmup+h.cfg.Window).Seconds())
	}
}

// disturbedCores is how much CPU others may use during a measurement
// before it is made again.
const disturbedCores = 0.25

// profile records the whole machine with perf during the measuring window
// that starts after the warm-up.
func (h *harness) profile(ctx context.Context, key string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.cfg.Warmup):
		}
		out := filepath.Join(h.cfg.ProfileDir, key+".perf.data")
		cmd := exec.CommandContext(ctx, "perf", "record", "-q", "-a", "-g", "-e", "cpu-clock", "-F", "499", "-o", out,
			"--", "sleep", fmt.Sprint(h.cfg.Window.Seconds()))
		if b, err := cmd.CombinedOutput(); err != nil {
			h.note("perf record for %s: %v %s", key, err, bytes.TrimSpace(b))
		}
	}()
	return done
}

// pprof saves the profiles of one measuring window (see Config.PprofDir);
// the channel closes when all are saved (and after prev, if any).
func (h *harness) pprof(ctx context.Context, key string, prev <-chan struct{}) <-chan struct{} {
	h.mu.Lock()
	ps := slices.Clone(h.procs)
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if prev != nil {
			defer func() { <-prev }()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.cfg.Warmup):
		}
		var wg sync.WaitGroup
		wg.Go(func() { // the load generator's own share
			f, err := os.Create(filepath.Join(h.cfg.PprofDir, key+".bench.pprof"))
			if err != nil {
				h.note("pprof of the load generator: %v", err)
				return
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				h.note("pprof of the load generator: %v", err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(h.cfg.Window):
			}
			pprof.StopCPUProfile()
		})
		for _, p := range ps {
			if p.MetricsAddr == "" || p.Exited() {
				continue
			}
			wg.Go(func() {
				// One second of execution trace (go tool trace) in the
				// middle of the window: where goroutines wait, and for what.
				select {
				case <-ctx.Done():
					return
				case <-time.After(h.cfg.Window / 2):
				}
				u := fmt.Sprintf("http://%s/debug/pprof/trace?seconds=1", p.MetricsAddr)
				out := filepath.Join(h.cfg.PprofDir, key+"."+strings.TrimSuffix(filepath.Base(p.Log), ".log")+".trace")
				if err := fetchTo(ctx, u, out); err != nil {
					h.note("trace for %s of %s: %v", key, p.Log, err)
				}
			})
			wg.Go(func() {
				u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.MetricsAddr, int(h.cfg.Window.Seconds()))
				out := filepath.Join(h.cfg.PprofDir, key+"."+strings.TrimSuffix(filepath.Base(p.Log), ".log")+".pprof")
				if err := fetchTo(ctx, u, out); err != nil {
					h.note("pprof for %s of %s: %v", key, p.Log, err)
				}
				// Allocations since the process started: read with
				// -sample_index=alloc_space, mostly this window's.
				u = fmt.Sprintf("http://%s/debug/pprof/allocs", p.MetricsAddr)
				if err := fetchTo(ctx, u, strings.TrimSuffix(out, ".pprof")+".allocs.pprof"); err != nil {
					h.note("allocs for %s of %s: %v", key, p.Log, err)
				}
			})
		}
		wg.Wait()
	}()
	return done
}

func fetchTo(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// wants tells whether the run includes the measurement key.
func (h *harness) wants(key string) bool { return h.cfg.Only == nil || h.cfg.Only[key] }

// quietCores is how much CPU other processes may use while we measure.
const quietCores = 0.15

func (h *harness) recordRSS(name string, p *procs.Proc) {
	var b int64
	var err error
	if p == nil {
		b, err = selfPeakRSS()
	} else {
		b, err = p.PeakRSS()
	}
	if err != nil {
		h.note("peak RSS of %s: %v", name, err)
		return
	}
	h.rss = append(h.rss, rssRow{name, b})
	logf("peak RSS of %s: %d MiB", name, b>>20)
	if p != nil { // what the memory is now: the heap, or pages of the database file
		anon, err1 := p.Status("RssAnon:")
		file, err2 := p.Status("RssFile:")
		if err1 == nil && err2 == nil {
			h.note("%s now: %.0f MiB anonymous (heap, stacks), %.0f MiB of mapped files (the bbolt file's pages, the binary); peak %.0f MiB",
				name, float64(anon)/(1<<20), float64(file)/(1<<20), float64(b)/(1<<20))
		}
	}
}

func selfPeakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}

// ---- 1. the storage limit ---------------------------------------------------

// recordSize is the size of the records of the storage limit.
const recordSize = 500

// storageLimit measures durable inserts of registration-sized records from
// Workers writers: with platform/boltdb's Group (as the registrations store
// commits), and with db.Batch with MaxBatchSize fitted to the writers.
func (h *harness) storageLimit(ctx context.Context) error {
	reg, err := proto.Marshal(workload.Stored(workload.Registration("s", 1, workload.Mode(1)), "bench-storage", 1))
	if err != nil {
		return err
	}
	// A registration writes its record and three index entries (e-mail,
	// secret hash, request id): about 500 bytes in all.
	record := make([]byte, max(recordSize, len(reg)))
	copy(record, reg)
	h.note("a stored registration weighs %d bytes (protobuf), plus about 200 of index entries; the storage limit writes records of %d bytes",
		len(reg), len(record))
	bucket := []byte("records")
	// The functions of one transaction run one after another: counting the
	// transaction ids they see gives the commits.
	var lastTx, commits, puts atomic.Int64
	put := func(tx *bolt.Tx) error {
		if id := int64(tx.ID()); lastTx.Swap(id) != id {
			commits.Add(1)
		}
		puts.Add(1)
		b := tx.Bucket(bucket)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		for i := range k {
			k[7-i] = byte(seq >> (8 * i))
		}
		return b.Put(k[:], record)
	}
	open := func(name string) (*bolt.DB, error) {
		db, err := boltdb.Open(filepath.Join(h.dir, name))
		if err != nil {
			return nil, err
		}
		return db, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err })
	}

	db, err := open("storage-group.db")
	if err != nil {
		return err
	}
	g := boltdb.NewGroup(db, 128) // the registrations store's group size
	h.measure(ctx, "storage-group", "bbolt durable insert, Group",
		same(func(context.Context, int, int64) error { return g.Update(put) }))
	g.Close()
	db.Close()
	h.note("bbolt durable insert, Group: %.1f records per commit", float64(puts.Load())/float64(max(1, commits.Load())))
	lastTx.Store(0)
	commits.Store(0)
	puts.Store(0)

	db, err = open("storage-batch.db")
	if err != nil {
		return err
	}
	db.MaxBatchSize = h.cfg.Workers // fitted: a batch is full, and goes, when every writer is in it
	h.measure(ctx, "storage-batch", fmt.Sprintf("bbolt durable insert, db.Batch (max %d)", db.MaxBatchSize),
		same(func(context.Context, int, int64) error { return db.Batch(put) }))
	db.Close()
	h.note("bbolt durable insert, db.Batch: %.1f records per commit", float64(puts.Load())/float64(max(1, commits.Load())))
	return ctx.Err()
}

// ---- the system ------------------------------------------------------------

func (h *harness) startSystem(ctx context.Context) error {
	var err error
	if h.eventsAddr, err = h.freeAddr(); err != nil {
		return err
	}
	if h.registrationsAddr, err = h.freeAddr(); err != nil {
		return err
	}
	httpAddr, err := h.freeAddr()
	if err != nil {
		return err
	}
	h.httpURL = "http://" + httpAddr
	if h.events, err = h.start("events", "events", "-grpc-addr", h.eventsAddr, "-db", filepath.Join(h.dir, "events.db"), "-auth-file", h.auth); err != nil {
		return err
	}
	if h.registrations, err = h.start("registrations", "registrations-fresh", "-grpc-addr", h.registrationsAddr,
		"-db", filepath.Join(h.dir, "registrations.db"), "-events-addr", h.eventsAddr,
		"-auth-file", h.auth, "-service-token-file", h.svcTok); err != nil {
		return err
	}
	if h.gateway, err = h.start("gateway", "gateway", "-http-addr", httpAddr, "-events-addr", h.eventsAddr,
		"-registrations-addr", h.registrationsAddr, "-rate-limit", "0"); err != nil {
		return err
	}
	for _, w := range []struct {
		addr string
		p    *procs.Proc
	}{{h.eventsAddr, h.events}, {h.registrationsAddr, h.registrations}} {
		if _, err := procs.WaitServing(ctx, w.addr, h.cfg.StartWait, w.p); err != nil {
			return err
		}
	}
	h.httpClient = &http.Client{Transport: &http.Transport{
		MaxIdleConns: 4 * h.cfg.Workers, MaxIdleConnsPerHost: 4 * h.cfg.Workers, DisableCompression: true,
	}}
	deadline := time.Now().Add(h.cfg.StartWait)
	for {
		resp, err := h.httpClient.Get(h.httpURL + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway not healthy after %s:\n%s", h.cfg.StartWait, h.gateway.Tail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if h.eventsOrg, err = dial(h.eventsAddr, organizerToken); err != nil {
		return err
	}
	for range h.cfg.Conns {
		e, err := dial(h.eventsAddr, "")
		if err != nil {
			return err
		}
		r, err := dial(h.registrationsAddr, "")
		if err != nil {
			return err
		}
		h.eventsPub, h.registrationsPub = append(h.eventsPub, e), append(h.registrationsPub, r)
	}
	return nil
}

func dial(addr, token string) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(auth.TokenCredentials(token)))
	}
	return grpc.NewClient("passthrough:///"+addr, opts...)
}

// The events the registrations are made for: one per measurement, and
// another for its second attempt (eventFor), so that none fills (see
// loadEvents).
const (
	eventGRPC         = "bench-create-grpc"
	eventGRPCTurns    = "bench-create-grpc-turns"    // in turns with the empty call
	eventGateway      = "bench-create-gateway"       // alone
	eventGatewayTurns = "bench-create-gateway-turns" // in turns with eventGRPCGateway's
	eventGRPCGateway  = "bench-create-grpc-gateway"  // in turns with the gateway's creates
	eventGRPCv7       = "bench-create-grpc-v7"
)

// eventFor is the event of a measurement's attempt.
func eventFor(event string, attempt int) string {
	if attempt == 1 {
		return event
	}
	return fmt.Sprintf("%s-%d", event, attempt)
}

// createEvent creates and publishes an event as the organizer.
func (h *harness) createEvent(ctx context.Context, id string, ev *eventsv1.Event) (*eventsv1.Event, error) {
	c := eventsv1.NewEventServiceClient(h.eventsOrg)
	if _, err := c.CreateEvent(ctx, &eventsv1.CreateEventRequest{EventId: id, Event: ev}); err != nil {
		return nil, fmt.Errorf("create event %s: %w", id, err)
	}
	pub, err := c.PublishEvent(ctx, &eventsv1.PublishEventRequest{Name: "events/" + id})
	if err != nil {
		return nil, fmt.Errorf("publish event %s: %w", id, err)
	}
	return pub, nil
}

// loadEvents creates and publishes Events events modelled on the RCM's, and
// the events the registrations go to.
func (h *harness) loadEvents(ctx context.Context) error {
	templates, err := demo.Events()
	if err != nil {
		return err
	}
	now := time.Now()
	// Quotas and capacities above what an attempt of a measurement
	// registers, so nothing fills; the rules are evaluated all the same.
	// A country's quota, the tightest (10,000 delegates, the most the API
	// takes), is reached after ~270,000 creates of the workload's mix; a
	// measurement alone makes ~150,000 of them on this machine, one in
	// turns ~200,000 (warm-ups included). The run notes any registration
	// not CONFIRMED.
	for _, event := range []string{eventGRPC, eventGRPCTurns, eventGateway, eventGatewayTurns, eventGRPCGateway, eventGRPCv7} {
		for attempt := 1; attempt <= 2; attempt++ {
			id := eventFor(event, attempt)
			if _, err := h.createEvent(ctx, id, workload.OpenEvent("Bench: "+id, 1000000, 1000000, 10000, now)); err != nil {
				return err
			}
		}
	}
	begin := time.Now()
	h.eventIDs = make([]string, h.cfg.Events)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	for range h.cfg.Workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= h.cfg.Events || firstErr.Load() != nil || ctx.Err() != nil {
					return
				}
				id, ev := workload.Event(templates, i, now)
				if _, err := h.createEvent(ctx, id, ev); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				h.eventIDs[i] = id
			}
		})
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return *p
	}
	h.note("loaded %s published events (copies of the RCM's %d real events, %d kinds in turn) in %s: %.0f create+publish pairs/s",
		thousands(h.cfg.Events), len(templates), len(workload.Kinds), time.Since(begin).Round(time.Millisecond), float64(h.cfg.Events)/time.Since(begin).Seconds())
	return ctx.Err()
}

// ---- 2-5. RPC limit, create, list, get --------------------------------------

func (h *harness) measureSystem(ctx context.Context) error {
	cfg := h.cfg
	conn := func(conns []*grpc.ClientConn, w int) *grpc.ClientConn { return conns[w%len(conns)] }

	// 2. The RPC limit.
	empty := func(ctx context.Context, w int, _ int64) error {
		_, err := healthpb.NewHealthClient(conn(h.registrationsPub, w)).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	h.measure(ctx, "empty", "gRPC health Check (registrations)", same(empty))

	// 3. CreateRegistration over gRPC.
	var waitlisted atomic.Int64
	// createAs makes call i a create for event of participant i of those
	// tagged tag (tags keep each measurement's participants apart), with a
	// request id from requestID.
	stateOpts := stateOnly(cfg.DecodeAll)
	createAs := func(event, tag string, requestID func() string) load.Call {
		return func(ctx context.Context, w int, i int64) error {
			reg, err := registrationsv1.NewRegistrationServiceClient(conn(h.registrationsPub, w)).CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
				Parent:       "events/" + event,
				Registration: workload.Registration(tag, int(i), workload.Mode(int(i))),
				RequestId:    requestID(),
			}, forCall(stateOpts, i)...)
			if err == nil && reg.GetState() != registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED {
				waitlisted.Add(1)
			}
			return err
		}
	}
	create := createAs(eventGRPC, "g", workload.RequestID)
	if err := create(ctx, 0, 0); err != nil {
		return fmt.Errorf("a first CreateRegistration: %w", err)
	}
	// createIn makes the creates of createAs for event, or for its own
	// event in a second attempt.
	createIn := func(event, tag string, requestID func() string) perAttempt {
		return func(attempt int) load.Call { return createAs(eventFor(event, attempt), tag, requestID) }
	}
	h.measure(ctx, "create-grpc", "CreateRegistration gRPC", createIn(eventGRPC, "g", workload.RequestID))
	// The target: the create in turns with the empty call.
	h.inTurns(ctx, "create-grpc-turns", "CreateRegistration gRPC, in turns", createIn(eventGRPCTurns, "t", workload.RequestID),
		"empty-turns", "gRPC health Check, in turns with the create", same(empty))

	// 4. The same through the gateway (public: no token; the gateway runs
	// with -rate-limit 0). Its answers are JSON: as with the reads below,
	// the first is decoded and checked in full and the rest, unless
	// -decode-all, only searched for their state (decoding every answer
	// took the load generator ~16 µs of CPU a call, on the servers' cores).
	confirmed := []byte(registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED.String())
	createHTTPWith := func(event, tag string, full bool) load.Call {
		return func(ctx context.Context, _ int, i int64) error {
			body := workload.AppendJSON(make([]byte, 0, 512), workload.Registration(tag, int(i), workload.Mode(int(i))))
			u := h.httpURL + "/v1/events/" + event + "/registrations?requestId=" + workload.RequestID()
			answer, err := h.doBody(ctx, http.MethodPost, u, body)
			if err != nil {
				return err
			}
			ok := bytes.Contains(answer, confirmed)
			if full {
				var reg registrationsv1.Registration
				if err := protojson.Unmarshal(answer, &reg); err != nil {
					return err
				}
				if reg.GetParticipant().GetEmail() == "" || ok != (reg.GetState() == registrationsv1.RegistrationState_REGISTRATION_STATE_CONFIRMED) {
					return fmt.Errorf("CreateRegistration through the gateway answered %s", answer)
				}
			}
			if !ok {
				waitlisted.Add(1)
			}
			return nil
		}
	}
	if err := createHTTPWith(eventGateway, "h", true)(ctx, 0, 0); err != nil {
		return fmt.Errorf("a first CreateRegistration through the gateway: %w", err)
	}
	createHTTPIn := func(event, tag string) perAttempt {
		return func(attempt int) load.Call { return createHTTPWith(eventFor(event, attempt), tag, cfg.DecodeAll) }
	}
	h.measure(ctx, "create-gateway", "CreateRegistration gateway", createHTTPIn(eventGateway, "h"))
	// The target: the gateway's create in turns with the gRPC create.
	h.inTurns(ctx, "create-gateway-turns", "CreateRegistration gateway, in turns", createHTTPIn(eventGatewayTurns, "i"),
		"create-grpc-gateway-turns", "CreateRegistration gRPC, in turns with the gateway's", createIn(eventGRPCGateway, "j", workload.RequestID))

	// 3b. The gRPC create again, with time-ordered request ids (UUIDv7)
	// instead of random ones: the request-id index, kept as sorted runs,
	// should take both at the same cost (README, "Idempotency"). It runs
	// last of the creates, on the largest indexes, so it errs on the slow side.
	createV7 := createIn(eventGRPCv7, "u", func() string { return workload.RequestIDv7(time.Now()) })
	h.measure(ctx, "create-grpc-v7", "CreateRegistration gRPC, UUIDv7 request ids", createV7)
	if n := waitlisted.Load(); n > 0 {
		h.note("%d registrations were not CONFIRMED: a country's quota filled (see loadEvents); the measurements that filled it made more creates than one event takes", n)
	}

	// 5. ListEvents and GetEvent, public. The first answer of each is
	// decoded and checked in full; the rest are read but, unless
	// -decode-all, not decoded (see skimCodec): the load generator's own
	// decoding would take the servers' CPU.
	listReq := &eventsv1.ListEventsRequest{PageSize: cfg.PageSize, Filter: cfg.Filter}
	first, err := eventsv1.NewEventServiceClient(h.eventsPub[0]).ListEvents(ctx, listReq)
	if err != nil {
		return fmt.Errorf("a first ListEvents: %w", err)
	}
	// A full page and a next one; with few events (-events), all that match.
	wantPage := min(int(cfg.PageSize), int(first.GetTotalSize()))
	if len(first.GetEvents()) != wantPage || wantPage == 0 || (first.GetNextPageToken() == "") != (first.GetTotalSize() <= cfg.PageSize) {
		return fmt.Errorf("a first ListEvents returned %d events of %d (next page %q), want %d", len(first.GetEvents()), first.GetTotalSize(), first.GetNextPageToken(), wantPage)
	}
	for _, ev := range first.GetEvents() {
		if ev.GetKind() != eventsv1.EventKind_EVENT_KIND_WORKSHOP || ev.GetOnlineMeetingUrl() != "" {
			return fmt.Errorf("ListEvents %q returned %s (kind %s, meeting link %q) to the public", cfg.Filter, ev.GetName(), ev.GetKind(), ev.GetOnlineMeetingUrl())
		}
	}
	listSize := proto.Size(first)
	h.note("ListEvents %q matches %d of the %d events; a page of %d is %d bytes of protobuf",
		cfg.Filter, first.GetTotalSize(), cfg.Events+4, cfg.PageSize, listSize)
	listOpts := skim(listSize/2, cfg.DecodeAll)
	list := func(ctx context.Context, w int, _ int64) error {
		resp, err := eventsv1.NewEventServiceClient(conn(h.eventsPub, w)).ListEvents(ctx, listReq, listOpts...)
		if err == nil && cfg.DecodeAll && len(resp.GetEvents()) != wantPage {
			err = fmt.Errorf("ListEvents returned %d events, want %d", len(resp.GetEvents()), wantPage)
		}
		return err
	}
	h.measure(ctx, "list-grpc", fmt.Sprintf("ListEvents gRPC (page %d, %s)", cfg.PageSize, cfg.Filter), same(list))

	listURL := fmt.Sprintf("%s/v1/events?pageSize=%d&filter=%s", h.httpURL, cfg.PageSize, url.QueryEscape(cfg.Filter))
	var firstHTTP eventsv1.ListEventsResponse
	listJSON, err := h.do(ctx, http.MethodGet, listURL, nil, 0, &firstHTTP)
	if err != nil {
		return fmt.Errorf("a first ListEvents through the gateway: %w", err)
	}
	if len(firstHTTP.GetEvents()) != wantPage {
		return fmt.Errorf("a first ListEvents through the gateway returned %d events, want %d", len(firstHTTP.GetEvents()), wantPage)
	}
	listHTTP := func(ctx context.Context, _ int, _ int64) error {
		if cfg.DecodeAll {
			var resp eventsv1.ListEventsResponse
			if _, err := h.do(ctx, http.MethodGet, listURL, nil, 0, &resp); err != nil {
				return err
			}
			if len(resp.GetEvents()) != wantPage {
				return fmt.Errorf("ListEvents returned %d events, want %d", len(resp.GetEvents()), wantPage)
			}
			return nil
		}
		_, err := h.do(ctx, http.MethodGet, listURL, nil, listJSON/2, nil)
		return err
	}
	h.measure(ctx, "list-gateway", "ListEvents gateway", same(listHTTP))

	name := func(i int64) string { return "events/" + h.eventIDs[int(i)%len(h.eventIDs)] }
	ev, err := eventsv1.NewEventServiceClient(h.eventsPub[0]).GetEvent(ctx, &eventsv1.GetEventRequest{Name: name(0)})
	if err != nil {
		return fmt.Errorf("a first GetEvent: %w", err)
	}
	if ev.GetName() != name(0) || ev.GetOnlineMeetingUrl() != "" {
		return fmt.Errorf("GetEvent %s returned %s (meeting link %q) to the public", name(0), ev.GetName(), ev.GetOnlineMeetingUrl())
	}
	// The events are copies of 40 real ones of various sizes: an answer is
	// at least a title, a time and a place.
	getOpts := skim(200, cfg.DecodeAll)
	get := func(ctx context.Context, w int, i int64) error {
		_, err := eventsv1.NewEventServiceClient(conn(h.eventsPub, w)).GetEvent(ctx, &eventsv1.GetEventRequest{Name: name(i)}, getOpts...)
		return err
	}
	h.measure(ctx, "get-grpc", "GetEvent gRPC", same(get))
	var evHTTP eventsv1.Event
	if _, err := h.do(ctx, http.MethodGet, h.httpURL+"/v1/"+name(0), nil, 0, &evHTTP); err != nil || evHTTP.GetName() != name(0) {
		return fmt.Errorf("a first GetEvent through the gateway: %v (got %q)", err, evHTTP.GetName())
	}
	getHTTP := func(ctx context.Context, _ int, i int64) error {
		if cfg.DecodeAll {
			var ev eventsv1.Event
			_, err := h.do(ctx, http.MethodGet, h.httpURL+"/v1/"+name(i), nil, 0, &ev)
			return err
		}
		_, err := h.do(ctx, http.MethodGet, h.httpURL+"/v1/"+name(i), nil, 200, nil)
		return err
	}
	h.measure(ctx, "get-gateway", "GetEvent gateway", same(getHTTP))

	// The RPC limit once more: on this shared machine one measurement may
	// come out low, and a low limit would flatter every ratio to it. The
	// better of the two is the limit.
	h.measure(ctx, "empty-again", "gRPC health Check (registrations), again", same(empty))
	return ctx.Err()
}

// do makes one HTTP/JSON call and returns the length of the 200 answer;
// it decodes the answer into out unless out is nil, in which case the
// answer must be at least min bytes.
func (h *harness) do(ctx context.Context, method, u string, body []byte, min int, out proto.Message) (int, error) {
	b, err := h.doBody(ctx, method, u, body)
	if err != nil {
		return 0, err
	}
	if out == nil {
		if len(b) < min {
			return 0, fmt.Errorf("%s %s: answer of %d bytes, want at least %d", method, u, len(b), min)
		}
		return len(b), nil
	}
	return len(b), protojson.Unmarshal(b, out)
}

// doBody sends a request and returns the body of its 200 answer.
func (h *harness) doBody(ctx context.Context, method, u string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, nil
}

// ---- 6-7. stored registrations, start-up -----------------------------------

// preloadPerTx is how many registrations regpreload writes per transaction.
// Every bbolt transaction frees the old copies of the pages it rewrites, and
// a file's free list is written whole on every later commit: transactions of
// 50,000 leave about 22,000 free pages (a 170 KB free list to write per
// commit), of 2,000 about 2,500, nearer what a database grown by small group
// commits holds. 2,000 takes about 30 s for a million.
const preloadPerTx = 2000

// storedRun preloads n registrations for a new event into a new database,
// starts the registrations service on it (timing the start-up), and
// measures CreateRegistration over gRPC on that event.
func (h *harness) storedRun(ctx context.Context, label string, n int, eventID string) error {
	now := time.Now()
	// capacity 0: unlimited (the API caps a capacity at 1,000,000, which a
	// preload of a million would fill).
	ev, err := h.createEvent(ctx, eventID, workload.OpenEvent("Bench: "+eventID, 0, 0, 0, now))
	if err != nil {
		return err
	}
	head, err := eventsv1.NewEventServiceClient(h.eventsOrg).ListEvents(ctx, &eventsv1.ListEventsRequest{PageSize: 1})
	if err != nil {
		return err
	}
	evFile := filepath.Join(h.dir, eventID+".json")
	b, err := protojson.Marshal(ev)
	if err != nil {
		return err
	}
	if err := os.WriteFile(evFile, b, 0o600); err != nil {
		return err
	}
	dbPath := filepath.Join(h.dir, "registrations-"+label+".db")
	begin := time.Now()
	pre := exec.CommandContext(ctx, filepath.Join(h.cfg.BinDir, "regpreload"), "-db", dbPath, "-event", evFile,
		"-n", fmt.Sprint(n), "-tx", fmt.Sprint(preloadPerTx), "-feed-sequence", fmt.Sprint(head.GetChangeSequence()))
	var out bytes.Buffer
	pre.Stdout, pre.Stderr = &out, &out
	if err := pre.Run(); err != nil {
		return fmt.Errorf("regpreload %d: %w\n%s", n, err, out.String())
	}
	info, err := os.Stat(dbPath)
	if err != nil {
		return err
	}
	h.note("preloaded %s registrations in %s (regpreload, %s per transaction): the database is %d MiB",
		thousands(n), time.Since(begin).Round(time.Millisecond), thousands(preloadPerTx), info.Size()>>20)

	// Start-up: from exec to the health check answering SERVING, with the
	// file's pages in the page cache as after any recent use.
	addr, err := h.freeAddr()
	if err != nil {
		return err
	}
	p, err := h.start("registrations", "registrations-"+label, "-grpc-addr", addr, "-db", dbPath, "-events-addr", h.eventsAddr,
		"-auth-file", h.auth, "-service-token-file", h.svcTok)
	if err != nil {
		return err
	}
	defer p.Stop()
	serving, err := procs.WaitServing(ctx, addr, h.cfg.StartWait, p)
	if err != nil {
		return err
	}
	startup := serving.Sub(p.Started)
	logf("registrations service on %d stored registrations: SERVING %s after exec", n, startup.Round(time.Millisecond))
	if n >= h.cfg.Preload {
		h.startup = startup
	} else {
		h.startupSmall = startup
	}
	if err := procs.WaitIdle(ctx, time.Minute, p, h.events); err != nil {
		return err
	}
	conns := make([]*grpc.ClientConn, h.cfg.Conns)
	for i := range conns {
		if conns[i], err = dial(addr, ""); err != nil {
			return err
		}
		defer conns[i].Close()
	}
	stateOpts := stateOnly(h.cfg.DecodeAll)
	create := func(ctx context.Context, w int, i int64) error {
		_, err := registrationsv1.NewRegistrationServiceClient(conns[w%len(conns)]).CreateRegistration(ctx, &registrationsv1.CreateRegistrationRequest{
			Parent:       "events/" + eventID,
			Registration: workload.Registration("c", int(i), workload.Mode(int(i))),
			RequestId:    workload.RequestID(),
		}, forCall(stateOpts, i)...)
		return err
	}
	if err := create(ctx, 0, 0); err != nil {
		return fmt.Errorf("a first CreateRegistration on %d stored: %w", n, err)
	}
	h.measure(ctx, "create-"+label, "CreateRegistration gRPC, "+label+" stored", same(create))
	h.recordRSS("registrations ("+label+" stored, after the creates)", p)
	p.Stop()
	return ctx.Err()
}

// ---- the report ---------------------------------------------------------------

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// thousands writes n with commas: 1,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	nproc := runtime.NumCPU()
	if out, err := exec.Command("nproc").Output(); err == nil {
		fmt.Sscan(string(out), &nproc)
	}
	kernel := ""
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		kernel = ", " + strings.TrimSpace(string(out))
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %d GiB RAM", (kb+(1<<19))>>20)
		}
	}
	return fmt.Sprintf("`nproc` = %d, %s%s%s, %s", nproc, model, mem, kernel, runtime.Version())
}

func (h *harness) report(total time.Duration) error {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cfg := h.cfg
	r := h.results
	limit := r["storage-group"]
	limitName := "Group"
	if r["storage-batch"].Rate() > limit.Rate() {
		limit, limitName = r["storage-batch"], "db.Batch"
	}
	w("Measured by `make bench` on %s. Machine: %s.\n", time.Now().Format("2006-01-02 15:04 MST"), machine())
	if out, err := exec.Command(filepath.Join(cfg.BinDir, "events"), "-version").Output(); err == nil {
		w("Binaries: version %s (`bin/events -version`).\n", strings.TrimSpace(string(out)))
	}
	w("Every figure is from this one run: %d concurrent callers (or writers), each measurement %s after a %s warm-up, the load generator on the same machine; the whole run took %s.\n",
		cfg.Workers, cfg.Window, cfg.Warmup, total.Round(time.Second))
	if !cfg.DecodeAll {
		w("The load generator decodes and checks the first answer of ListEvents and GetEvent in full and then only reads the answers (counting their bytes), " +
			"and the JSON answers of the creates through the gateway only for their state, " +
			"so that its own decoding does not take the servers' CPU (`-decode-all` decodes every one).\n\n")
	}

	type row struct {
		key, of string
		target  float64
		goal    string
	}
	rows := []row{
		{"storage-group", "", 0, ""},
		{"storage-batch", "", 0, ""},
		{"empty", "", 0, ""},
		{"empty-again", "", 0, ""},
		{"create-grpc", "rpc-limit", 0, ""},
		{"empty-turns", "", 0, ""},
		{"create-grpc-turns", "empty-turns", 0.35, "≥ 0.35 × empty call"},
		{"create-gateway", "create-grpc", 0, ""},
		{"create-grpc-gateway-turns", "", 0, ""},
		{"create-gateway-turns", "create-grpc-gateway-turns", 0.40, "≥ 0.40 × gRPC create"},
		{"create-grpc-v7", "create-grpc", 0, ""},
		{"list-grpc", "rpc-limit", 0.20, "≥ 0.20 × empty call"},
		{"list-gateway", "list-grpc", 0, ""},
		{"get-grpc", "rpc-limit", 0.50, "≥ 0.50 × empty call"},
		{"get-gateway", "get-grpc", 0, ""},
		{"create-1k", "rpc-limit", 0, ""},
		{"create-1M", "create-1k", 0.80, "≥ 0.80 × create at 1k"},
	}
	rpcKey := "empty"
	if r["empty-again"].Rate() > r["empty"].Rate() {
		rpcKey = "empty-again"
	}
	r["rpc-limit"] = r[rpcKey]
	label := map[string]string{
		"rpc-limit": "empty call", "create-grpc": "gRPC create", "list-grpc": "gRPC ListEvents",
		"get-grpc": "gRPC GetEvent", "create-1k": "create at 1k",
		"empty-turns": "empty call in the same turns", "create-grpc-gateway-turns": "gRPC create in the same turns",
	}
	passed, missed := 0, 0
	w("| measurement | requests/s | p50 | p99 | ratio | ratio to | target | result | CPU used by others |\n")
	w("|---|---:|---:|---:|---:|---|---|---|---:|\n")
	for _, rw := range rows {
		res, ok := r[rw.key]
		if !ok {
			continue
		}
		name := res.Name
		if rw.key == "storage-group" || rw.key == "storage-batch" {
			if res.Name == limit.Name {
				name += " — **storage limit**"
			}
		}
		if rw.key == rpcKey {
			name += " — **RPC limit**"
		}
		if res.Errors > 0 {
			name += fmt.Sprintf(" (%d errors)", res.Errors)
		}
		ratio, of, result := "", "", ""
		if rw.of != "" {
			if base := r[rw.of].Rate(); base > 0 {
				x := res.Rate() / base
				ratio, of = fmt.Sprintf("%.2f", x), label[rw.of]
				if rw.target > 0 {
					if x >= rw.target && res.Errors == 0 && r[rw.of].Errors == 0 {
						result = "PASS"
						passed++
					} else {
						result = "**MISS**"
						missed++
					}
				}
			} else if rw.target > 0 { // what it is compared with has no rate: not a pass
				of, result = label[rw.of]+" (not measured)", "**MISS**"
				if _, ok := r[rw.of]; ok {
					of = label[rw.of] + " (no call succeeded)"
				}
				missed++
			}
		}
		if strings.HasPrefix(rw.key, "create") && limit.Rate() > 0 && !strings.HasPrefix(rw.key, "create-gateway") {
			ratio += fmt.Sprintf(" (%.2f of storage)", res.Rate()/limit.Rate())
		}
		w("| %s | %.0f | %s | %s | %s | %s | %s | %s | %.2f cores |\n", name, res.Rate(), fmtDur(res.P50), fmtDur(res.P99), strings.TrimSpace(ratio), of, rw.goal, result, h.others[rw.key])
	}
	w("\nThe storage limit is the better of the two bbolt figures (%s here); \"of storage\" is a create's rate over it. "+
		"The RPC limit is the better of the two empty-call figures, measured first and last", limitName)
	if a, b := r["empty"].Rate(), r["empty-again"].Rate(); a > 0 && b > 0 {
		w(": they differ by %.0f %%, which is how much the machine's speed drifted during the run (a shared virtual machine); "+
			"ratios are uncertain by about as much", 100*math.Abs(a-b)/max(a, b))
	}
	w(". The two creates' targets are judged on measurements in turns (\"in turns\"): %d slices of %s of the create and %d of the call it is compared with, alternating, "+
		"each after %s of warm-up, so that the two share the machine's spells; the creates measured alone show their ratios without a target.\n\n", turns, cfg.turnWindow(), turns, cfg.turnWarmup())

	w("| process | peak RSS (VmHWM) | target | result |\n|---|---:|---|---|\n")
	const rssLimit = 256 << 20
	for _, p := range h.rss {
		result, goal := "", ""
		if !strings.HasPrefix(p.proc, "bench") {
			goal = "≤ 256 MiB"
			if p.bytes <= rssLimit {
				result = "PASS"
				passed++
			} else {
				result = "**MISS**"
				missed++
			}
		}
		w("| %s | %.1f MiB | %s | %s |\n", p.proc, float64(p.bytes)/(1<<20), goal, result)
	}
	if h.startup > 0 {
		result := "PASS"
		if h.startup >= time.Second {
			result = "**MISS**"
			missed++
		} else {
			passed++
		}
		w("\n| start-up of the registrations service (exec → health SERVING) | time | target | result |\n|---|---:|---|---|\n")
		if h.startupSmall > 0 {
			w("| on 1,000 stored registrations | %s | | |\n", fmtDur(h.startupSmall))
		}
		w("| on %s stored registrations | %s | < 1 s | %s |\n", thousands(cfg.Preload), fmtDur(h.startup), result)
	}
	w("\n**%d targets pass, %d miss.**\n", passed, missed)
	if len(h.notes) > 0 {
		w("\nNotes from the run:\n\n")
		for _, n := range h.notes {
			w("- %s\n", n)
		}
	}
	if len(h.peakLog) > 0 {
		w("\nPeak RSS (VmHWM) of the running processes, phase by phase (process log name, MiB):\n\n")
		for _, l := range h.peakLog {
			w("- %s\n", l)
		}
	}
	table := b.String()
	fmt.Println()
	fmt.Print(table)
	return writeReport(cfg.Out, table)
}

const (
	beginMark = "<!-- bench:begin (written by make bench; edit outside the markers) -->"
	endMark   = "<!-- bench:end -->"
)

// writeReport puts table between the markers of path, keeping what is
// around them (the analysis), or writes a new file.
func writeReport(path, table string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	block := beginMark + "\n" + table + endMark + "\n"
	var out string
	before, rest, found := strings.Cut(string(old), beginMark)
	_, after, foundEnd := strings.Cut(rest, endMark+"\n")
	switch {
	case found && foundEnd:
		out = before + block + after
	default:
		out = "# Benchmarks\n\n`make bench` measures Convene against the limits of the machine it runs on and writes the table below " +
			"(issue 7). Ratios measured in one run are what count; absolute numbers drift from run to run.\n\n" + block
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
