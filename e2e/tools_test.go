package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tool returns the path of a pinned tool that `make tools` installs in bin/.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run `make tools` (make test does)", p)
	}
	return p
}

// TestGRPCHealthProbe: both services answer grpc-health-probe, the standard
// tool that load balancers and Kubernetes use.
func TestGRPCHealthProbe(t *testing.T) {
	s := startSystem(t)
	probe := tool(t, "grpc-health-probe")
	for _, addr := range []string{s.eventsAddr, s.registrationsAddr} {
		out, err := exec.Command(probe, "-addr", addr).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SERVING") {
			t.Errorf("grpc-health-probe %s: %v %s", addr, err, out)
		}
	}
	s.events.stop(syscall.SIGKILL)
	if out, err := exec.Command(probe, "-addr", s.eventsAddr, "-connect-timeout", "500ms").CombinedOutput(); err == nil {
		t.Errorf("grpc-health-probe of a stopped service succeeded: %s", out)
	}
}

// TestGRPCurl: with -reflection, grpcurl lists and describes every method
// and calls them, as the README shows.
func TestGRPCurl(t *testing.T) {
	s := startSystem(t, "-demo", "-reflection")
	grpcurl := tool(t, "grpcurl")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(grpcurl, append([]string{"-plaintext"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("grpcurl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run(s.eventsAddr, "list"); !strings.Contains(out, "convene.events.v1.EventService") || !strings.Contains(out, "grpc.health.v1.Health") {
		t.Errorf("list events: %s", out)
	}
	for _, svc := range []struct{ addr, name string }{
		{s.eventsAddr, "convene.events.v1.EventService"},
		{s.registrationsAddr, "convene.registrations.v1.RegistrationService"},
	} {
		methods := strings.Fields(run(svc.addr, "list", svc.name))
		if len(methods) < 8 {
			t.Errorf("%s lists %d methods: %v", svc.name, len(methods), methods)
		}
		for _, m := range methods {
			if out := run(svc.addr, "describe", m); !strings.Contains(out, "rpc ") {
				t.Errorf("describe %s: %s", m, out)
			}
		}
	}
	out := run("-d", `{"page_size": 3, "filter": "kind = CONFERENCE"}`, s.eventsAddr, "convene.events.v1.EventService/ListEvents")
	if !strings.Contains(out, "xxv-regional-conference-on-migration") {
		t.Errorf("ListEvents: %s", out)
	}
	out = run("-H", "authorization: Bearer "+organizerToken, "-d", `{"parent": "events/xxv-regional-conference-on-migration"}`,
		s.registrationsAddr, "convene.registrations.v1.RegistrationService/ListRegistrations")
	if strings.Contains(out, "ERROR") {
		t.Errorf("ListRegistrations: %s", out)
	}
	if out := run(s.registrationsAddr, "grpc.health.v1.Health/Check"); !strings.Contains(out, "SERVING") {
		t.Errorf("health: %s", out)
	}
}
