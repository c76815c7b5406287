package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/ripple-rt/ripple"
	"github.com/ripple-rt/ripple/internal/wstest"
	"github.com/ripple-rt/ripple/phoenix"
	"github.com/ripple-rt/ripple/webhook"
)

// startChannelServer runs a server whose channel "orders::id" is the
// backend at url.
func startChannelServer(t *testing.T, cfg webhook.Config) string {
	t.Helper()
	srv := ripple.New(ripple.Config{Logger: quietLog()})
	cfg.Route, cfg.Secret = "orders::id", secret
	h, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Channel(cfg.Route, h.Handle, ripple.Workers()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wstest.Timeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv.Addr().String()
}

// TestChannel: a webhook owns a topic pattern. Its events carry topic,
// event and ref (and the join params after the join); its answers' reply
// is the phx_reply; a 4xx refuses the join, not the connection.
func TestChannel(t *testing.T) {
	b := newBackend(t, func(w http.ResponseWriter, _ *http.Request, ev webhook.Event) {
		switch {
		case ev.Type == "connect" && ev.Params["id"] == "13":
			writeJSON(w, 403, map[string]any{"error": "not your order"})
		case ev.Type == "connect":
			writeJSON(w, 200, map[string]any{"reply": map[string]any{"status": "ok", "response": map[string]any{"order": ev.Params["id"]}}})
		case ev.Type == "message" && ev.Event == "ship":
			writeJSON(w, 200, map[string]any{
				"reply":          map[string]any{"status": "ok", "response": map[string]any{"shipped": true}},
				"broadcast_room": map[string]any{"event": "shipped", "payload": json.RawMessage(*ev.Message)},
			})
		case ev.Type == "message":
			writeJSON(w, 500, map[string]any{})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	addr := startChannelServer(t, webhook.Config{URL: b.URL})
	c := wstest.DialPhx(t, wstest.PhxURL(addr, phoenix.V2, "lang=en"))

	if m := c.Join(t, "orders:7", map[string]any{"token": "x"}); m.Status() != "ok" || string(m.Response()) != `{"order":"7"}` {
		t.Fatalf("join: %v", m)
	}
	ev := b.next(t)
	if ev.Type != "connect" || ev.Topic != "orders:7" || ev.Event != "phx_join" || ev.Ref != c.JoinRef("orders:7") ||
		*ev.Message != `{"token":"x"}` || ev.Route != "orders::id" || ev.Path != "/socket/websocket" || ev.Query["lang"] != "en" {
		t.Fatalf("join event %+v", ev)
	}
	ref := c.Push(t, "orders:7", "ship", map[string]any{"by": "post"})
	if m := c.ReplyTo(t, ref); string(m.Response()) != `{"shipped":true}` {
		t.Fatalf("ship reply: %v", m)
	}
	if m := c.Event(t, "orders:7", "shipped"); string(m.Payload) != `{"by":"post"}` {
		t.Fatalf("broadcast: %v", m)
	}
	ev = b.next(t)
	if ev.Type != "message" || ev.Event != "ship" || ev.Ref != ref || string(ev.JoinParams) != `{"token":"x"}` {
		t.Fatalf("message event %+v", ev)
	}
	// A failed message with a ref gets an error reply.
	if m := c.Call(t, "orders:7", "cancel", map[string]any{}); m.Status() != "error" || string(m.Response()) != `{"reason":"backend unavailable"}` {
		t.Fatalf("failed message: %v", m)
	}
	b.next(t)
	// A 4xx refuses the join with the answer's error; the socket stays.
	if m := c.Join(t, "orders:13", nil); m.Status() != "error" || string(m.Response()) != `{"reason":"not your order"}` {
		t.Fatalf("refused join: %v", m)
	}
	b.next(t)
	// Leave: the disconnect event says why.
	c.Push(t, "orders:7", phoenix.EventLeave, map[string]any{})
	c.Event(t, "orders:7", phoenix.EventClose)
	if ev := b.next(t); ev.Type != "disconnect" || ev.Event != "phx_leave" || ev.Topic != "orders:7" {
		t.Fatalf("leave event %+v", ev)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
