// Package procs starts the binaries under test and reads what Linux knows
// of them: peak resident memory (VmHWM) and CPU time.
package procs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Proc is one running binary; its output goes to a log file.
type Proc struct {
	Name        string
	Log         string
	MetricsAddr string    // where it serves Prometheus metrics, if it does
	Started     time.Time // just before exec
	cmd         *exec.Cmd
	done        chan struct{}
}

// Start runs bin with args; stdout and stderr go to logPath.
func Start(name, bin, logPath string, args ...string) (*Proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits (SIGKILL after 15 s).
func (p *Proc) Stop() {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Tail returns the last lines of the process's log, for error messages.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PeakRSS returns the process's peak resident set size (VmHWM), in bytes.
func (p *Proc) PeakRSS() (int64, error) { return statusKB(p.Pid(), "VmHWM:") }

// Status returns a memory figure of /proc/PID/status (such as "RssAnon:"), in bytes.
func (p *Proc) Status(key string) (int64, error) { return statusKB(p.Pid(), key) }

func statusKB(pid int, key string) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), key); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// CPUTicks returns the process's user+system CPU time in clock ticks.
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count from after it.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return utime + stime, nil
}

// WaitIdle waits until none of the processes uses more than 3 % of a core
// over a whole second (background work such as following a change feed
// has finished), or until timeout.
func WaitIdle(ctx context.Context, timeout time.Duration, ps ...*Proc) error {
	const window, maxTicks = time.Second, 3 // ticks are 1/100 s
	deadline := time.Now().Add(timeout)
	for {
		before := make([]int64, len(ps))
		for i, p := range ps {
			t, err := CPUTicks(p.Pid())
			if err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
			before[i] = t
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(window):
		}
		busy := ""
		for i, p := range ps {
			t, err := CPUTicks(p.Pid())
			if err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
			if t-before[i] > maxTicks {
				busy = p.Name
			}
		}
		if busy == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still busy after %s", busy, timeout)
		}
	}
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WaitServing polls the gRPC health service at addr until it answers
// SERVING, and returns when it did. Each attempt uses a new connection, so
// that gRPC's reconnect backoff never delays the answer.
func WaitServing(ctx context.Context, addr string, timeout time.Duration, p *Proc) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if p != nil && p.Exited() {
			return time.Time{}, fmt.Errorf("%s exited:\n%s", p.Name, p.Tail(20))
		}
		if ok := checkOnce(ctx, addr); ok {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s not SERVING after %s", addr, timeout)
		}
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func checkOnce(ctx context.Context, addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// SystemBusyTicks returns the CPU time all processes have used, in clock
// ticks, from /proc/stat (user, nice, system, irq, softirq and steal).
func SystemBusyTicks() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, errors.New("unexpected /proc/stat")
	}
	var busy int64
	for i, f := range fields[1:9] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, nil
}

// Foreign measures the CPU that processes other than ours use: the
// benchmark shares the machine, and a run disturbed by others is flagged.
type Foreign struct {
	ours       func() []int
	sys0, our0 int64
	start      time.Time
}

// NewForeign watches the CPU of everything but the pids that ours returns
// (this process is always counted as ours).
func NewForeign(ours func() []int) *Foreign { return &Foreign{ours: ours} }

func (f *Foreign) sample() (sys, our int64) {
	sys, _ = SystemBusyTicks()
	for _, pid := range append(f.ours(), os.Getpid()) {
		if t, err := CPUTicks(pid); err == nil {
			our += t
		}
	}
	return sys, our
}

// Start begins a measurement.
func (f *Foreign) Start() { f.sys0, f.our0 = f.sample(); f.start = time.Now() }

// Cores returns the cores that others used on average since Start.
func (f *Foreign) Cores() float64 {
	sys, our := f.sample()
	secs := time.Since(f.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return max(0, float64((sys-f.sys0)-(our-f.our0))/100/secs)
}

// WaitQuiet waits until others use less than maxCores over a second, or
// until timeout; it returns what they used last.
func (f *Foreign) WaitQuiet(ctx context.Context, maxCores float64, timeout time.Duration) float64 {
	deadline := time.Now().Add(timeout)
	for {
		f.Start()
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(time.Second):
		}
		c := f.Cores()
		if c < maxCores || time.Now().After(deadline) {
			return c
		}
	}
}
