// Package e2e drives the real binaries — events, registrations, gateway —
// started on free loopback ports with temporary data, over real gRPC and
// real HTTP.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// binDir holds the binaries built once for the whole package.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "convene-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	if raceEnabled {
		args = append(args, "-race") // the servers run under the race detector too
	}
	args = append(args, "convene.dev/services/events/cmd/events", "convene.dev/services/registrations/cmd/registrations", "convene.dev/gateway/cmd/gateway")
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// handedOut holds every address freeAddr has returned in this test binary:
// a port handed out but not yet bound by its process is free again, and the
// kernel may offer it twice (it once gave the registrations service and the
// gateway the same port).
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// freeAddr returns a loopback address with a port that was free a moment
// ago and that no other caller in this test binary was given.
func freeAddr(t testing.TB) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
	t.Fatal("no loopback port that was not handed out already")
	return ""
}

// proc is one running binary.
type proc struct {
	t    testing.TB
	name string
	args []string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a binary; it is killed when the test ends, and its output is
// logged if the test failed.
func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args, out: &syncBuffer{}}
	p.launch()
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, p.out.String())
		}
	})
	return p
}

func (p *proc) launch() {
	p.t.Helper()
	p.cmd = exec.Command(filepath.Join(binDir, p.name), p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.done) }()
}

// stop sends sig and waits for the process to exit.
func (p *proc) stop(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// restart stops the process with sig and starts it again with the same
// arguments.
func (p *proc) restart(sig syscall.Signal) {
	p.t.Helper()
	p.stop(sig)
	p.launch()
}

// exitCode waits for the process to exit by itself and returns its code.
func (p *proc) exitCode(timeout time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

// The tokens of the test system's auth file.
const (
	organizerToken = "e2e-organizer-token"
	mxToken        = "e2e-focal-point-mx-token"
	gtToken        = "e2e-focal-point-gt-token"
	serviceToken   = "e2e-registrations-service-token"
)

// writeAuthFiles writes the auth file (hashes only, in the operators'
// format) and the registrations service's token file into dir.
func writeAuthFiles(t testing.TB, dir string) (authFile, tokenFile string) {
	t.Helper()
	hash := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	content := fmt.Sprintf(`{"tokens": [
  {"name": "secretariat", "role": "organizer", "sha256": %q},
  {"name": "mx", "role": "focal_point", "country": "MX", "sha256": %q},
  {"name": "gt", "role": "focal_point", "country": "GT", "sha256": %q},
  {"name": "registrations", "role": "service", "sha256": %q}
]}`, hash(organizerToken), hash(mxToken), hash(gtToken), hash(serviceToken))
	authFile, tokenFile = filepath.Join(dir, "auth.json"), filepath.Join(dir, "service.token")
	if err := os.WriteFile(authFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(serviceToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return authFile, tokenFile
}

// system is the three processes on their own ports and data folder.
type system struct {
	events, registrations, gateway *proc
	eventsAddr, registrationsAddr  string
	httpURL                        string
	dataDir                        string
	eventsConn, registrationsConn  *grpc.ClientConn // as the organizer
	gatewayArgs                    []string
	metricsAddr                    [3]string // events, registrations, gateway
}

// startSystem starts the three binaries (events with extra args) and waits
// until the gateway reports both backends healthy.
func startSystem(t *testing.T, eventsArgs ...string) *system {
	t.Helper()
	return startSystemWith(t, eventsArgs, nil)
}

// startSystemWith is startSystem with extra flags for the events service
// and the gateway.
func startSystemWith(t *testing.T, eventsArgs, gatewayArgs []string) *system {
	t.Helper()
	s := &system{
		eventsAddr:        freeAddr(t),
		registrationsAddr: freeAddr(t),
		dataDir:           t.TempDir(),
		gatewayArgs:       gatewayArgs,
	}
	httpAddr := freeAddr(t)
	s.httpURL = "http://" + httpAddr
	authFile, tokenFile := writeAuthFiles(t, s.dataDir)
	for i := range s.metricsAddr {
		s.metricsAddr[i] = freeAddr(t)
	}
	s.events = start(t, "events", append([]string{"-grpc-addr", s.eventsAddr, "-db", filepath.Join(s.dataDir, "events.db"), "-auth-file", authFile,
		"-metrics-addr", s.metricsAddr[0]}, eventsArgs...)...)
	s.registrations = start(t, "registrations", "-grpc-addr", s.registrationsAddr, "-db", filepath.Join(s.dataDir, "registrations.db"),
		"-events-addr", s.eventsAddr, "-auth-file", authFile, "-service-token-file", tokenFile, "-reflection", "-metrics-addr", s.metricsAddr[1])
	s.gateway = start(t, "gateway", append([]string{"-http-addr", httpAddr, "-events-addr", s.eventsAddr, "-registrations-addr", s.registrationsAddr,
		"-metrics-addr", s.metricsAddr[2]}, s.gatewayArgs...)...)
	s.eventsConn = dialGRPC(t, s.eventsAddr, organizerToken)
	s.registrationsConn = dialGRPC(t, s.registrationsAddr, organizerToken)
	s.waitHealthy(t)
	return s
}

// bearer sends a token with every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

// dialGRPC connects to addr; calls carry token when it is not empty.
func dialGRPC(t testing.TB, addr, token string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(token)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitHealthy waits until /healthz answers 200 and both gRPC health checks
// say SERVING.
func (s *system) waitHealthy(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		resp, err := http.Get(s.httpURL + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			ok = false
		}
		if resp != nil {
			resp.Body.Close()
		}
		for _, c := range []*grpc.ClientConn{s.eventsConn, s.registrationsConn} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			r, err := healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{})
			cancel()
			if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("system not healthy after 30s (last /healthz error: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpResult is a decoded HTTP response.
type httpResult struct {
	Code int
	Body map[string]any
	Raw  string
	Hdr  http.Header
}

// call sends a JSON request through the gateway as the organizer.
func (s *system) call(t testing.TB, method, path string, body any) httpResult {
	t.Helper()
	return s.callAs(t, organizerToken, "", method, path, body)
}

// callAs sends a JSON request through the gateway with a bearer token and
// a registrant's secret (either may be empty).
func (s *system) callAs(t testing.TB, token, secret, method, path string, body any) httpResult {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.httpURL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if secret != "" {
		req.Header.Set("X-Registration-Secret", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := httpResult{Code: resp.StatusCode, Raw: string(raw), Hdr: resp.Header}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &res.Body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return res
}

// reason returns the ErrorInfo reason of a JSON google.rpc.Status body.
func (r httpResult) reason() string {
	details, _ := r.Body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			s, _ := m["reason"].(string)
			return s
		}
	}
	return ""
}

// fieldViolations returns the fields named by a BadRequest detail.
func (r httpResult) fieldViolations() []string {
	var out []string
	details, _ := r.Body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		vs, _ := m["fieldViolations"].([]any)
		for _, v := range vs {
			fv, _ := v.(map[string]any)
			f, _ := fv["field"].(string)
			out = append(out, f)
		}
	}
	return out
}
