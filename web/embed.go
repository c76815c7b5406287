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
	"regexp"
	"strings"
	"time"
)

// static holds the page. Naming the directory (not static/*) leaves out
// files that begin with "." or "_", such as editor swap files.
//
//go:embed static
var static embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	// Immutable after construction.
	name        string
	body        []byte
	contentType string
	etag        string
}

// assets maps a request path ("/", "/app.js", ...) to its file.
// Immutable after package initialisation.
var assets = loadAssets()

func loadAssets() map[string]*asset {
	m := make(map[string]*asset)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := &asset{
			name:        path.Base(p),
			body:        body,
			contentType: contentType(p),
			etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
		m["/"+strings.TrimPrefix(p, "static/")] = a
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("web: reading embedded files: " + err.Error())
	}
	if idx, ok := m["/index.html"]; ok {
		m["/"] = idx
	}
	return m
}

// contentType returns the media type for an embedded file. The common
// types are fixed here so the answer never depends on the host's mime
// tables.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
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

// Handler returns the http.Handler that serves the demo page: GET (or
// HEAD) / answers index.html and /<file> answers that embedded file with
// its content type, an ETag and security headers. Any other path is 404
// (there is no directory listing) and any other method is 405.
//
// The handler is stateless and safe for concurrent use.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", csp(r.Host))
	// ServeContent answers If-None-Match with 304 and handles HEAD and Range.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

// validHost matches a plain host[:port] or [ipv6]:port, nothing that could
// break out of a header value or a CSP source expression.
var validHost = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)

// csp returns the Content-Security-Policy: only this origin's scripts,
// styles and WebSocket endpoints. 'self' covers ws:/wss: in current
// browsers; the explicit ws:// and wss:// sources help older ones.
func csp(host string) string {
	connect := "'self'"
	if validHost.MatchString(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src " + connect + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}
