// Package web is Convene's web page for delegates and organisers: plain
// HTML, CSS and JavaScript modules embedded in the gateway binary, with no
// build step and nothing loaded from elsewhere. The page is a client of the
// same HTTP/JSON API (/v1/...) as any other; it routes in the URL fragment
// (#/events/...), so the server only ever serves "/" and its assets, and a
// registrant's secret in a private link (#/manage/...?secret=...) never
// reaches the server or its logs.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy allows the page's own scripts, styles and API calls
// and nothing else: no inline script, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// file is one embedded file, ready to serve.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the page at "/" and its assets (/assets/...), for GET and
// HEAD; every other path goes to notFound, so that unknown paths keep the
// API's JSON 404.
func Handler(notFound http.Handler) http.Handler {
	files := map[string]file{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		urlPath := "/assets/" + name
		if name == "index.html" {
			urlPath = "/"
		}
		sum := sha256.Sum256(body)
		files[urlPath] = file{body: body, contentType: contentType(name), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in: a failure here is a broken build.
		panic("web: reading the embedded files: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			notFound.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("ETag", f.etag)
		// The names carry no hash, so a browser asks again each time and
		// gets 304 while the binary is the same.
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(f.contentType, "text/html") {
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("X-Frame-Options", "DENY")
		}
		// ServeContent answers If-None-Match (with the ETag above), ranges and HEAD.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	})
}

// contentType names the type of an embedded file by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
