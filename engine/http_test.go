package engine_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

func TestUnknownRouteIs404(t *testing.T) {
	s := startDemo(t, engine.Config{})
	_, resp, err := websocket.DefaultDialer.Dial(s.URL("/ws/nope"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dial unknown route: err=%v resp=%v", err, resp)
	}
}

func TestPlainHTTPOnSamePort(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, 5)
		n, _ := r.Body.Read(body)
		_, _ = w.Write([]byte("hi " + string(body[:n])))
	})
	s := startDemo(t, engine.Config{HTTPHandler: mux})
	client := &http.Client{Timeout: wstest.Timeout}
	for range 3 { // keep-alive: several requests on one connection
		resp, err := client.Post("http://"+s.Addr+"/hello", "text/plain", strings.NewReader("there"))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		if string(buf[:n]) != "hi there" {
			t.Fatalf("body = %q", buf[:n])
		}
	}
}
