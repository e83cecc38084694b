package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestObserveMetrics: requests are counted under their route, method and
// code from many goroutines at once, and methods outside the standard ones
// share one label, so that a client cannot make series without end.
func TestObserveMetrics(t *testing.T) {
	m := newHTTPMetrics(prometheus.NewRegistry())
	h := observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
	}), slog.New(slog.NewJSONHandler(io.Discard, nil)), m)
	methods := []string{http.MethodGet, http.MethodPost, "BREW", "PROPFIND"}
	const perMethod = 50
	var wg sync.WaitGroup
	for _, method := range methods {
		for range perMethod {
			wg.Go(func() {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/v1/events/rcm-2026/registrations", nil))
			})
		}
	}
	wg.Wait()
	for _, c := range []struct {
		method, code string
		want         float64
	}{{"GET", "200", perMethod}, {"POST", "201", perMethod}, {"other", "200", 2 * perMethod}} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues("registrations", c.method, c.code)); got != c.want {
			t.Errorf("requests{method=%s,code=%s} = %v, want %v", c.method, c.code, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 3 {
		t.Errorf("%d request series, want 3", n)
	}
	if n := testutil.CollectAndCount(m.duration); n != 3 {
		t.Errorf("%d duration series, want 3", n)
	}
}
