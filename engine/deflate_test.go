package engine_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

func dialDeflate(t *testing.T, s *wstest.Engine, path string) *wstest.Client {
	t.Helper()
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: wstest.Timeout}
	conn, resp, err := d.Dial(s.URL(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("deflate not negotiated: %q", ext)
	}
	c := wstest.Wrap(conn)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDeflateEchoAndSharedBroadcast(t *testing.T) {
	s := startDemo(t, engine.Config{})
	echo := dialDeflate(t, s, "/ws/echo")
	echo.EnableWriteCompression(true)
	big := strings.Repeat("compress me please ", 500)
	wstest.Send(t, echo, big)
	if got := wstest.ReadString(t, echo); got != big {
		t.Fatalf("deflate echo: %d bytes back", len(got))
	}

	// A room of compressed and plain members: one compression for all.
	var members []*wstest.Client
	for i := range 6 {
		if i%2 == 0 {
			members = append(members, dialDeflate(t, s, "/ws/room/z"))
		} else {
			members = append(members, s.Dial(t, "/ws/room/z"))
		}
	}
	wstest.Eventually(t, "members", func() bool { return len(s.ClientsIn("room:z")) == 6 })
	before := s.Stats().Compressions.Load()
	msg := `{"text":"` + strings.Repeat("z", 2000) + `"}`
	if n := s.BroadcastRoom("room:z", []byte(msg)); n != 6 {
		t.Fatalf("recipients %d", n)
	}
	for _, m := range members {
		if got := wstest.ReadString(t, m); got != msg {
			t.Fatalf("member got %d bytes", len(got))
		}
	}
	if n := s.Stats().Compressions.Load() - before; n != 1 {
		t.Fatalf("broadcast compressed %d times, want once", n)
	}
}

func TestDeflateBombIsTooBig(t *testing.T) {
	s := startDemo(t, engine.Config{MaxMessageSize: 64 << 10})
	head := strings.Replace(wstest.Request("/ws/echo"), "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", 1)
	r, err := wstest.DialRaw(s.Addr, head)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if resp, err := r.Response(); err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade %v %v", resp, err)
	}
	bomb := codec.Deflate(nil, make([]byte, 50<<20)) // 50 MiB of zeros in ~50 KiB
	f := wstest.Frame(codec.OpBinary, true, bomb)
	f[0] |= 0x40 // RSV1: compressed
	if _, err := r.Write(f); err != nil {
		t.Fatal(err)
	}
	code, _, err := r.ReadClose(wstest.Timeout)
	if err != nil || code != codec.CloseTooBig {
		t.Fatalf("close %d %v, want 1009", code, err)
	}
}

// dialNarrow upgrades on path offering permessage-deflate with the server's
// window limited to 9 bits, as Autobahn's cases 13.3 and 13.5 do, and
// checks that the server accepts it with that limit.
func dialNarrow(t *testing.T, s *wstest.Engine, path string) *wstest.Raw {
	t.Helper()
	head := strings.Replace(wstest.Request(path), "\r\n\r\n",
		"\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; client_max_window_bits\r\n\r\n", 1)
	r, err := wstest.DialRaw(s.Addr, head)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	resp, err := r.Response()
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade %v %v", resp, err)
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") || !strings.Contains(ext, "server_max_window_bits=9") {
		t.Fatalf("narrow window not accepted: %q", ext)
	}
	return r
}

// readNarrow reads a compressed frame and checks it is the narrow-window
// compression of want.
func readNarrow(t *testing.T, r *wstest.Raw, want string) {
	t.Helper()
	h, p, err := r.ReadFrame(wstest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	if h.Rsv != 4 {
		t.Fatalf("frame not compressed: %+v", h)
	}
	if got, err := codec.Inflate(nil, p, 1<<20); err != nil || string(got) != want {
		t.Fatalf("inflated %d bytes (%v), want %d", len(got), err, len(want))
	}
	if !bytes.Equal(p, codec.DeflateWindow(nil, []byte(want), 9)) {
		t.Fatal("compressed otherwise than for a 9-bit window")
	}
}

// TestDeflateNarrowWindow: a client that limits the server's window gets
// compressed messages within it, its own and broadcasts alike, and a
// broadcast is compressed once per kind of window, not per recipient.
func TestDeflateNarrowWindow(t *testing.T) {
	s := startDemo(t, engine.Config{})
	echo := dialNarrow(t, s, "/ws/echo")
	big := strings.Repeat("compress me within 512 bytes ", 300)
	f := wstest.Frame(codec.OpText, true, codec.Deflate(nil, []byte(big)))
	f[0] |= 0x40 // RSV1: compressed
	if _, err := echo.Write(f); err != nil {
		t.Fatal(err)
	}
	readNarrow(t, echo, big)

	narrow := []*wstest.Raw{dialNarrow(t, s, "/ws/room/w"), dialNarrow(t, s, "/ws/room/w")}
	full := dialDeflate(t, s, "/ws/room/w")
	wstest.Eventually(t, "members", func() bool { return len(s.ClientsIn("room:w")) == 3 })
	before := s.Stats().Compressions.Load()
	msg := `{"text":"` + strings.Repeat("w", 2000) + `"}`
	if n := s.BroadcastRoom("room:w", []byte(msg)); n != 3 {
		t.Fatalf("recipients %d", n)
	}
	for _, r := range narrow {
		readNarrow(t, r, msg)
	}
	if got := wstest.ReadString(t, full); got != msg {
		t.Fatalf("full-window member got %d bytes", len(got))
	}
	if n := s.Stats().Compressions.Load() - before; n != 2 {
		t.Fatalf("broadcast compressed %d times, want twice (full and narrow window)", n)
	}
}
