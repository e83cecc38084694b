package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"code":5}`)
	})
	h := Handler(notFound)
	do := func(method, path string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	tests := []struct {
		method, path string
		code         int
		contentType  string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/assets/app.css", 200, "text/css; charset=utf-8"},
		{"GET", "/assets/js/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/assets/js/views/organiser.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/assets/icon.svg", 200, "image/svg+xml"},
		{"GET", "/index.html", 404, "application/json"},
		{"GET", "/assets/", 404, "application/json"},
		{"GET", "/assets/nope.js", 404, "application/json"},
		{"GET", "/v2/anything", 404, "application/json"},
		{"POST", "/", 405, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		w := do(tt.method, tt.path, nil)
		if w.Code != tt.code || w.Header().Get("Content-Type") != tt.contentType {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, w.Code, w.Header().Get("Content-Type"), tt.code, tt.contentType)
		}
	}

	page := do("GET", "/", nil)
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if got := page.Header().Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy = %q", got)
	}
	if got := page.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	if !strings.Contains(page.Body.String(), `<script type="module" src="/assets/js/app.js">`) {
		t.Error("the page does not load its script")
	}

	// A browser that has the file gets 304.
	etag := page.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if w := do("GET", "/", map[string]string{"If-None-Match": etag}); w.Code != http.StatusNotModified {
		t.Errorf("GET / with its ETag = %d, want 304", w.Code)
	}
}
