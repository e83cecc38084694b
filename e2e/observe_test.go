package e2e

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %d", addr, resp.StatusCode)
	}
	return string(b)
}

// TestMetrics: each process serves Prometheus metrics on its own address:
// gRPC server and client counts and latencies by method and code, HTTP
// request metrics at the gateway, database statistics, registrations by state.
func TestMetrics(t *testing.T) {
	s := startSystem(t)
	s.publishedEvent(t, "metered", map[string]any{})
	if r := s.call(t, "POST", "/v1/events/metered/registrations", registrationJSON("A", "a@example.org", "MX")); r.Code != 200 {
		t.Fatal(r.Raw)
	}
	s.call(t, "GET", "/v1/events/metered/registrationStats", nil)
	s.call(t, "GET", "/v1/events/nope", nil)

	want := map[int][]string{
		0: { // events
			`grpc_server_handled_total{grpc_code="OK",grpc_method="PublishEvent",grpc_service="convene.events.v1.EventService",grpc_type="unary"} 1`,
			`grpc_server_handled_total{grpc_code="NotFound",grpc_method="GetEvent"`,
			`grpc_server_handling_seconds_bucket{grpc_method="CreateEvent"`,
			`convene_db_size_bytes{path=`,
			`convene_db_commits_total{path=`,
		},
		1: { // registrations
			`grpc_server_handled_total{grpc_code="OK",grpc_method="CreateRegistration",grpc_service="convene.registrations.v1.RegistrationService",grpc_type="unary"} 1`,
			`grpc_client_handled_total{grpc_code="OK",grpc_method="GetEvent",grpc_service="convene.events.v1.EventService"`,
			`grpc_client_started_total{grpc_method="WatchEventChanges"`,
			`convene_registrations{state="CONFIRMED"} 1`,
			`convene_db_writes_total{path=`,
			`convene_db_committer_busy_seconds_total{path=`,
			`convene_db_commit_waits_total{path=`,
			`convene_db_spill_seconds_total{path=`,
		},
		2: { // gateway
			`convene_http_requests_total{code="200",method="POST",route="registrations"} 1`,
			`convene_http_requests_total{code="404",method="GET",route="events"} 1`,
			`convene_http_request_duration_seconds_bucket{method="GET",route="registrationStats"`,
			`grpc_client_handled_total{grpc_code="OK",grpc_method="CreateRegistration"`,
		},
	}
	for i, lines := range want {
		got := scrape(t, s.metricsAddr[i])
		for _, w := range lines {
			if !strings.Contains(got, w) {
				t.Errorf("process %d metrics lack %s", i, w)
			}
		}
	}
}

// TestRequestID: the gateway takes X-Request-Id (or makes one), passes it
// to both services — registrations passes it on to events — and returns it.
func TestRequestID(t *testing.T) {
	s := startSystem(t)
	s.publishedEvent(t, "traced", map[string]any{})
	req, _ := http.NewRequest("GET", s.httpURL+"/v1/events/traced/registrationStats", nil)
	req.Header.Set("X-Request-Id", "rcm-req-0042")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "rcm-req-0042" {
		t.Errorf("response X-Request-Id = %q", got)
	}
	eventually(t, "the id in every process's log", func() bool {
		for _, p := range []*proc{s.gateway, s.registrations, s.events} {
			if !strings.Contains(p.out.String(), `"request_id":"rcm-req-0042"`) {
				return false
			}
		}
		return true
	})
	// Without one, the gateway makes one.
	r := s.call(t, "GET", "/v1/events", nil)
	if id := r.Hdr.Get("X-Request-Id"); len(id) < 16 {
		t.Errorf("made-up request id = %q", id)
	}
}

// tracedStats publishes an event and asks the gateway for its
// registration statistics (gateway → registrations → events) in the trace
// traceID, as a W3C traceparent.
func (s *system) tracedStats(t *testing.T, eventID, traceID string) {
	t.Helper()
	s.publishedEvent(t, eventID, map[string]any{})
	req, _ := http.NewRequest("GET", s.httpURL+"/v1/events/"+eventID+"/registrationStats", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stats: %d", resp.StatusCode)
	}
}

// TestTraceContext: a W3C traceparent sent to the gateway travels to the
// registrations service and on to the events service; each logs its trace id.
func TestTraceContext(t *testing.T) {
	s := startSystem(t)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	s.tracedStats(t, "traced", traceID)
	eventually(t, "the trace id in every process's log", func() bool {
		for _, p := range []*proc{s.gateway, s.registrations, s.events} {
			if !strings.Contains(p.out.String(), `"trace_id":"`+traceID+`"`) {
				return false
			}
		}
		return true
	})
}

// TestProfiles: Go's profiles are not served unless -pprof asks for them,
// and then only on the metrics address.
func TestProfiles(t *testing.T) {
	get := func(addr, path string) int {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s%s: %v", addr, path, err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	s := startSystemWith(t, []string{"-pprof"}, nil)
	if code := get(s.metricsAddr[0], "/debug/pprof/heap?debug=1"); code != http.StatusOK {
		t.Errorf("events -pprof: /debug/pprof/heap answered %d", code)
	}
	if code := get(s.metricsAddr[0], "/debug/pprof/profile?seconds=1"); code != http.StatusOK {
		t.Errorf("events -pprof: a CPU profile answered %d", code)
	}
	for _, i := range []int{1, 2} { // registrations and gateway, without the flag
		if code := get(s.metricsAddr[i], "/debug/pprof/"); code != http.StatusNotFound {
			t.Errorf("process %d without -pprof: /debug/pprof/ answered %d, want 404", i, code)
		}
	}
	if code := get(strings.TrimPrefix(s.httpURL, "http://"), "/debug/pprof/"); code == http.StatusOK {
		t.Errorf("the public HTTP address serves profiles")
	}
}

// otlpCollector is an OTLP/gRPC trace receiver: it keeps, by service name,
// the spans it is sent.
type otlpCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string][]*tracev1.Span
}

func (c *otlpCollector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			c.spans[service] = append(c.spans[service], ss.GetSpans()...)
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// namesIn returns the names of the spans service sent in trace traceID.
func (c *otlpCollector) namesIn(service, traceID string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for _, sp := range c.spans[service] {
		if hex.EncodeToString(sp.GetTraceId()) == traceID {
			names = append(names, sp.GetName())
		}
	}
	return names
}

// TestOTLPExport: with -otlp-endpoint (here CONVENE_OTLP_ENDPOINT, for all
// three), each process exports its spans of a request to an OTLP/gRPC
// collector, in the caller's trace, and flushes them on SIGTERM.
func TestOTLPExport(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &otlpCollector{spans: map[string][]*tracev1.Span{}}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, col)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	t.Setenv("CONVENE_OTLP_ENDPOINT", lis.Addr().String())

	s := startSystem(t)
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	s.tracedStats(t, "exported", traceID)
	for _, p := range []*proc{s.gateway, s.registrations, s.events} {
		p.stop(syscall.SIGTERM) // flushes the spans not exported yet
	}
	want := map[string]string{
		"convene-gateway":       "GetRegistrationStats",
		"convene-registrations": "convene.registrations.v1.RegistrationService/GetRegistrationStats",
		"convene-events":        "convene.events.v1.EventService/GetEvent",
	}
	for service, name := range want {
		names := col.namesIn(service, traceID)
		if !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, name) }) {
			t.Errorf("%s exported %q in the trace, want a span %q", service, names, name)
		}
	}
}
