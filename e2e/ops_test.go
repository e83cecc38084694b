package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEventsServiceDown: with the events service down, reads through the
// gateway answer 503 within 2 seconds, a registration for an event the
// registrations service has not seen fails with 503 and writes nothing,
// /healthz names the backend that is down; when it is back, everything
// works again without restarting anything else.
func TestEventsServiceDown(t *testing.T) {
	s := startSystem(t)
	s.publishedEvent(t, "known", map[string]any{})
	if r := s.call(t, "POST", "/v1/events/known/registrations", registrationJSON("A", "a@example.org", "MX")); r.Code != 200 {
		t.Fatalf("register: %d %s", r.Code, r.Raw)
	}
	s.events.stop(syscall.SIGKILL)

	start := time.Now()
	r := s.call(t, "GET", "/v1/events", nil)
	if r.Code != http.StatusServiceUnavailable || time.Since(start) > 2*time.Second {
		t.Errorf("list with events down: %d after %v, want 503 within 2s: %s", r.Code, time.Since(start), r.Raw)
	}
	start = time.Now()
	r = s.call(t, "POST", "/v1/events/unseen/registrations", registrationJSON("B", "b@example.org", "MX"))
	if r.Code != http.StatusServiceUnavailable || time.Since(start) > 2*time.Second {
		t.Errorf("register for an unseen event with events down: %d after %v, want 503 within 2s: %s", r.Code, time.Since(start), r.Raw)
	}
	if l := s.call(t, "GET", "/v1/events/unseen/registrations", nil); l.Body["totalSize"] != nil {
		t.Errorf("the failed registration was written: %s", l.Raw)
	}
	h := s.call(t, "GET", "/healthz", nil)
	backends, _ := h.Body["backends"].(map[string]any)
	if h.Code != http.StatusServiceUnavailable || backends["events"] == "SERVING" || backends["registrations"] != "SERVING" {
		t.Errorf("healthz with events down: %d %s", h.Code, h.Raw)
	}
	// A known event still takes registrations from the copy the feed keeps.
	if r := s.call(t, "POST", "/v1/events/known/registrations", registrationJSON("C", "c@example.org", "GT")); r.Code != 200 {
		t.Errorf("register for a known event with events down: %d %s", r.Code, r.Raw)
	}

	s.events.launch()
	s.waitHealthy(t)
	if r := s.call(t, "GET", "/v1/events", nil); r.Code != 200 {
		t.Errorf("list after the events service came back: %d %s", r.Code, r.Raw)
	}
	s.publishedEvent(t, "later", map[string]any{})
	if r := s.call(t, "POST", "/v1/events/later/registrations", registrationJSON("D", "d@example.org", "MX")); r.Code != 200 {
		t.Errorf("register after the events service came back: %d %s", r.Code, r.Raw)
	}
}

// TestDatabaseInUseAndGarbage: a second process on a database in use stops
// within 2 seconds with a message naming the file; a file that is not a
// bbolt database stops the start with a clear message and is left as it was.
func TestDatabaseInUseAndGarbage(t *testing.T) {
	s := startSystem(t)
	db := filepath.Join(s.dataDir, "events.db")
	authFile := filepath.Join(s.dataDir, "auth.json")
	second := start(t, "events", "-grpc-addr", freeAddr(t), "-db", db, "-auth-file", authFile, "-metrics-addr", "")
	code, exited := second.exitCode(2 * time.Second)
	if !exited || code == 0 || !strings.Contains(second.out.String(), db) {
		t.Errorf("second process: exited %v with %d, output %q; want a non-zero exit within 2s naming %s", exited, code, second.out.String(), db)
	}

	garbage := filepath.Join(t.TempDir(), "garbage.db")
	content := strings.Repeat("not a database ", 1000)
	os.WriteFile(garbage, []byte(content), 0o600)
	bad := start(t, "registrations", "-grpc-addr", freeAddr(t), "-db", garbage, "-insecure-dev", "-metrics-addr", "")
	code, exited = bad.exitCode(5 * time.Second)
	if !exited || code == 0 || !strings.Contains(bad.out.String(), "not a valid bbolt database") {
		t.Errorf("garbage file: exited %v with %d, output %q", exited, code, bad.out.String())
	}
	if b, _ := os.ReadFile(garbage); string(b) != content {
		t.Error("the garbage file was changed")
	}
}

// TestSIGTERM: health goes NOT_SERVING, in-flight calls finish, open feed
// streams close, the process exits 0.
func TestSIGTERM(t *testing.T) {
	s := startSystem(t)
	for _, p := range []*proc{s.gateway, s.registrations, s.events} {
		p.stop(syscall.SIGTERM)
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited %d after SIGTERM, want 0\n%s", p.name, code, p.out.String())
		}
	}
}

// TestBackupAndRestore: an online backup of each database, taken with the
// binaries' backup command while registrations are being written, starts a
// service that serves the same data.
func TestBackupAndRestore(t *testing.T) {
	s := startSystem(t)
	s.publishedEvent(t, "backed-up", map[string]any{})
	for i := range 20 {
		if r := s.call(t, "POST", "/v1/events/backed-up/registrations", registrationJSON("P", fmt.Sprintf("p%d@example.org", i), "MX")); r.Code != 200 {
			t.Fatalf("register: %d %s", r.Code, r.Raw)
		}
	}
	tokenFile := filepath.Join(t.TempDir(), "organizer.token")
	os.WriteFile(tokenFile, []byte(organizerToken+"\n"), 0o600)

	// Writes go on during the backup.
	ctx, stop := context.WithCancel(context.Background())
	writing := make(chan int)
	go func() {
		n := 0
		for ctx.Err() == nil {
			s.call(t, "POST", "/v1/events/backed-up/registrations", registrationJSON("W", fmt.Sprintf("w%d@example.org", n), "GT"))
			n++
		}
		writing <- n
	}()
	dir := t.TempDir()
	for _, b := range []struct{ bin, addr string }{{"events", s.eventsAddr}, {"registrations", s.registrationsAddr}} {
		out, err := exec.Command(filepath.Join(binDir, b.bin), "backup", "-addr", b.addr, "-token-file", tokenFile,
			"-o", filepath.Join(dir, b.bin+".db")).CombinedOutput()
		if err != nil {
			t.Fatalf("%s backup: %v\n%s", b.bin, err, out)
		}
	}
	stop()
	t.Logf("%d registrations written during the backup", <-writing)
	if out, err := exec.Command(filepath.Join(binDir, "events"), "backup", "-addr", s.eventsAddr, "-o", filepath.Join(dir, "x.db")).CombinedOutput(); err == nil {
		t.Errorf("a backup without a token succeeded: %s", out)
	}

	// Restore: start a second system's services on the copies.
	before := s.call(t, "GET", "/v1/events/backed-up", nil)
	restored := &system{eventsAddr: freeAddr(t), registrationsAddr: freeAddr(t), dataDir: dir}
	authFile, svcToken := writeAuthFiles(t, dir)
	restored.events = start(t, "events", "-grpc-addr", restored.eventsAddr, "-db", filepath.Join(dir, "events.db"), "-auth-file", authFile, "-metrics-addr", "")
	restored.registrations = start(t, "registrations", "-grpc-addr", restored.registrationsAddr, "-db", filepath.Join(dir, "registrations.db"),
		"-events-addr", restored.eventsAddr, "-auth-file", authFile, "-service-token-file", svcToken, "-metrics-addr", "")
	httpAddr := freeAddr(t)
	restored.httpURL = "http://" + httpAddr
	restored.gateway = start(t, "gateway", "-http-addr", httpAddr, "-events-addr", restored.eventsAddr, "-registrations-addr", restored.registrationsAddr, "-metrics-addr", "")
	restored.eventsConn = dialGRPC(t, restored.eventsAddr, organizerToken)
	restored.registrationsConn = dialGRPC(t, restored.registrationsAddr, organizerToken)
	restored.waitHealthy(t)

	after := restored.call(t, "GET", "/v1/events/backed-up", nil)
	if after.Code != 200 || after.Body["etag"] != before.Body["etag"] {
		t.Errorf("restored event = %d %s, want %s", after.Code, after.Raw, before.Raw)
	}
	list := restored.call(t, "GET", "/v1/events/backed-up/registrations?pageSize=100&filter="+"participant.country_code%20%3D%20MX", nil)
	if list.Body["totalSize"] != float64(20) {
		t.Errorf("restored registrations of MX = %v, want the 20 written before the backup", list.Body["totalSize"])
	}
}
