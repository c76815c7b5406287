package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/web"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(srv.Close)

	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		contains           string
	}{
		{name: "root", method: "GET", path: "/", status: 200, contentType: "text/html; charset=utf-8", contains: `<script src="app.js"`},
		{name: "index", method: "GET", path: "/index.html", status: 200, contentType: "text/html; charset=utf-8", contains: "<title>Ripple chat</title>"},
		{name: "script", method: "GET", path: "/app.js", status: 200, contentType: "text/javascript; charset=utf-8", contains: "/socket/websocket"},
		{name: "style", method: "GET", path: "/style.css", status: 200, contentType: "text/css; charset=utf-8", contains: ".chat-view"},
		{name: "head", method: "HEAD", path: "/app.js", status: 200, contentType: "text/javascript; charset=utf-8"},
		{name: "unknown", method: "GET", path: "/nope.js", status: 404},
		{name: "static dir", method: "GET", path: "/static/", status: 404},
		{name: "static file", method: "GET", path: "/static/app.js", status: 404},
		{name: "traversal", method: "GET", path: "/../web/embed.go", status: 404},
		{name: "post", method: "POST", path: "/", status: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tt.status, body)
			}
			if tt.status != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") {
				t.Errorf("Content-Security-Policy = %q, want script-src 'self'", got)
			}
			if tt.method == "HEAD" {
				if len(body) != 0 {
					t.Errorf("HEAD body has %d bytes", len(body))
				}
				return
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body does not contain %q", tt.contains)
			}
		})
	}
}

func TestHandlerETag(t *testing.T) {
	h := web.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/style.css", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req := httptest.NewRequest("GET", "/style.css", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("conditional GET status = %d, want 304", rec.Code)
	}
}

// The page must not load anything from another origin and must not put
// user data into HTML.
func TestPageIsSelfContained(t *testing.T) {
	h := web.Handler()
	for _, p := range []string{"/", "/app.js", "/style.css"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		body := rec.Body.String()
		for _, bad := range []string{"http://", "https://", "//cdn", "@import", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"} {
			if bad == "http://" && p == "/" {
				// The inline SVG favicon names the SVG namespace.
				body = strings.ReplaceAll(body, "http://www.w3.org/2000/svg", "")
			}
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
	}
}

func TestCSPHost(t *testing.T) {
	tests := []struct {
		host string
		want string
	}{
		{host: "127.0.0.1:8080", want: "connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;"},
		{host: "[::1]:9000", want: "connect-src 'self' ws://[::1]:9000 wss://[::1]:9000;"},
		{host: "evil; script-src *", want: "connect-src 'self';"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			web.Handler().ServeHTTP(rec, req)
			if got := rec.Header().Get("Content-Security-Policy"); !strings.Contains(got, tt.want) {
				t.Errorf("CSP = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}
