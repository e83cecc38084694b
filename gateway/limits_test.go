package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	l := newRateLimiter(1, 3)
	now := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := l.allow("10.0.0.1", now); !ok {
			t.Fatalf("call %d within the burst was refused", i)
		}
	}
	ok, wait := l.allow("10.0.0.1", now)
	if ok || wait <= 0 || wait > time.Second {
		t.Errorf("fourth call: allowed %v, wait %v; want refused for up to 1s", ok, wait)
	}
	if ok, _ := l.allow("10.0.0.2", now); !ok {
		t.Error("another address was limited")
	}
	if ok, _ := l.allow("10.0.0.1", now.Add(1100*time.Millisecond)); !ok {
		t.Error("a token did not come back after a second")
	}
	l.allow("10.0.0.3", now)
	l.allow("10.0.0.1", now.Add(20*time.Minute)) // sweeps idle clients
	if _, ok := l.clients["10.0.0.3"]; ok {
		t.Error("an idle client was not forgotten")
	}
}

func TestLimitRateOnlyPublicCreates(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	h := limitRate(ok, newRateLimiter(0.001, 1))
	do := func(method, path, auth string) int {
		r := httptest.NewRequest(method, path, strings.NewReader("{}"))
		r.RemoteAddr = "192.0.2.1:5555"
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusTooManyRequests && (w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"code":8`)) {
			t.Errorf("429 without Retry-After or a RESOURCE_EXHAUSTED status: %v %s", w.Header(), w.Body)
		}
		return w.Code
	}
	if c := do("POST", "/v1/events/e/registrations", ""); c != 200 {
		t.Fatalf("first public create: %d", c)
	}
	if c := do("POST", "/v1/events/e/registrations", ""); c != http.StatusTooManyRequests {
		t.Errorf("second public create: %d, want 429", c)
	}
	if c := do("POST", "/v1/events/e/registrations", "Bearer x"); c != 200 {
		t.Errorf("create with a token: %d, want not limited", c)
	}
	if c := do("GET", "/v1/events/e/registrations", ""); c != 200 {
		t.Errorf("a list: %d, want not limited", c)
	}
	if c := do("POST", "/v1/events/e/registrations/r:cancel", ""); c != 200 {
		t.Errorf("a cancel: %d, want not limited", c)
	}
}

func TestCORS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	h := cors(ok, parseOrigins("https://rcm.example.org, https://crmsv.example.org/"))
	pre := httptest.NewRequest("OPTIONS", "/v1/events", nil)
	pre.Header.Set("Origin", "https://crmsv.example.org")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, pre)
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "https://crmsv.example.org" {
		t.Errorf("preflight from an allowed origin: %d %v", w.Code, w.Header())
	}
	evil := httptest.NewRequest("GET", "/v1/events", nil)
	evil.Header.Set("Origin", "https://evil.example")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, evil)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an unknown origin got %q", w.Header().Get("Access-Control-Allow-Origin"))
	}
	w = httptest.NewRecorder()
	cors(ok, nil).ServeHTTP(w, pre)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("with no origins configured, CORS headers were sent")
	}
}
