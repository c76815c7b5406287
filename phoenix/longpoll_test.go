package phoenix_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/phoenix"
)

// fakeSessions records what the transport asks of the server.
type fakeSessions struct {
	mu        sync.Mutex
	open      map[string][][]byte // token -> queued messages
	published []phoenix.Frame
	refuse    bool
}

func (f *fakeSessions) Open(r *http.Request) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse {
		return "", phoenix.ErrForbidden
	}
	f.open["tok"] = nil
	return "tok", nil
}

func (f *fakeSessions) Poll(ctx context.Context, token string) ([][]byte, error) {
	f.mu.Lock()
	msgs, ok := f.open[token]
	f.open[token] = nil
	f.mu.Unlock()
	if !ok {
		return nil, phoenix.ErrGone
	}
	if len(msgs) == 0 {
		<-ctx.Done()
	}
	return msgs, nil
}

func (f *fakeSessions) Publish(token string, msgs []phoenix.Frame) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.open[token]; !ok {
		return phoenix.ErrGone
	}
	f.published = append(f.published, msgs...)
	return nil
}

type answer struct {
	Status   int      `json:"status"`
	Token    string   `json:"token"`
	Messages []string `json:"messages"`
}

func call(t *testing.T, h http.Handler, method, target, body string, hdr map[string]string) (answer, *httptest.ResponseRecorder) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var a answer
	if method != http.MethodOptions {
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, target, rec.Body.String(), err)
		}
	}
	if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("%s %s: HTTP %d, CORS %q", method, target, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
	return a, rec
}

func TestLongPoll(t *testing.T) {
	fs := &fakeSessions{open: map[string][][]byte{}}
	lp := &phoenix.LongPoll{Sessions: fs, Window: 20 * time.Millisecond, MaxBatch: 3, MaxBody: 1 << 10}

	// A GET without a token opens a session.
	a, _ := call(t, lp, "GET", "/socket/longpoll?vsn=2.0.0", "", nil)
	if a.Status != 410 || a.Token != "tok" || a.Messages == nil {
		t.Fatalf("open: %+v", a)
	}
	// Nothing queued: 204 after the window.
	a, _ = call(t, lp, "GET", "/socket/longpoll?vsn=2.0.0", "", map[string]string{phoenix.TokenHeader: "tok"})
	if a.Status != 204 || a.Token != "tok" {
		t.Fatalf("empty poll: %+v", a)
	}
	// Queued messages come as JSON strings; the query token of older
	// clients (the last one) works too.
	fs.mu.Lock()
	fs.open["tok"] = [][]byte{[]byte(`[null,null,"t","e",{"a":"\"q\""}]`), []byte(`["1","2","t","phx_reply",{}]`)}
	fs.mu.Unlock()
	a, _ = call(t, lp, "GET", "/socket/longpoll?token=jwt&vsn=2.0.0&token=tok", "", nil)
	if a.Status != 200 || len(a.Messages) != 2 || a.Messages[0] != `[null,null,"t","e",{"a":"\"q\""}]` {
		t.Fatalf("poll: %+v", a)
	}
	// An unknown token on GET: a new session (410 with a token).
	a, _ = call(t, lp, "GET", "/socket/longpoll", "", map[string]string{phoenix.TokenHeader: "old"})
	if a.Status != 410 || a.Token != "tok" {
		t.Fatalf("unknown token: %+v", a)
	}

	// POST: ndjson lines, text and base64 binary, at most MaxBatch.
	body := "[\"1\",\"1\",\"t\",\"phx_join\",{}]\r\n" + `{"topic":"t","event":"e","payload":{},"ref":"2"}` + "\n\nAAEC\n[\"x\"]\n[\"dropped\"]"
	a, _ = call(t, lp, "POST", "/socket/longpoll", body, map[string]string{phoenix.TokenHeader: "tok", "Content-Type": "application/x-ndjson"})
	if a.Status != 200 || len(fs.published) != 3 {
		t.Fatalf("post: %+v, published %d", a, len(fs.published))
	}
	if p := fs.published; string(p[0].Data) != `["1","1","t","phx_join",{}]` || p[1].Binary || !p[2].Binary || string(p[2].Data) != "\x00\x01\x02" {
		t.Fatalf("published %+v", p)
	}
	// A body of another type is one message.
	fs.published = nil
	call(t, lp, "POST", "/socket/longpoll?token=tok", `["1","1","t","e",{}]`, map[string]string{"Content-Type": "application/json"})
	if len(fs.published) != 1 {
		t.Fatalf("json post: %+v", fs.published)
	}
	for _, tc := range []struct {
		name, body, token string
		status            int
	}{
		{"unknown token", `[]`, "nope", 410},
		{"no token", `[]`, "", 410},
		{"bad base64", "!!!", "tok", 400},
		{"too large", strings.Repeat("[", 2<<10), "tok", 413},
	} {
		hdr := map[string]string{"Content-Type": "application/x-ndjson"}
		if tc.token != "" {
			hdr[phoenix.TokenHeader] = tc.token
		}
		if a, _ := call(t, lp, "POST", "/socket/longpoll", tc.body, hdr); a.Status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, a.Status, tc.status)
		}
	}

	// A refused session: 403.
	fs.refuse = true
	if a, _ := call(t, lp, "GET", "/socket/longpoll", "", nil); a.Status != 403 {
		t.Fatalf("refused: %+v", a)
	}

	// CORS preflight.
	_, rec := call(t, lp, "OPTIONS", "/socket/longpoll", "", map[string]string{"Access-Control-Request-Headers": "x-phoenix-longpoll-token, content-type"})
	if got := rec.Header().Get("Access-Control-Allow-Headers"); got != "x-phoenix-longpoll-token, content-type" {
		t.Fatalf("preflight allow-headers %q", got)
	}
	body2, _ := io.ReadAll(rec.Body)
	if len(body2) != 0 {
		t.Fatalf("preflight body %q", body2)
	}
}
