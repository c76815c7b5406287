package engine_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// This file is about clients that mean harm or are merely broken: oversized
// messages and heads, handshakes that never finish, connections that never
// read, upgrade requests the server must refuse, handlers that panic.

// heapInuse is the in-use heap after two collections. The server runs in the
// test process, so deltas of it measure what the server keeps (plus what the
// test's own clients keep, which each test states).
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func TestMessageTooBig(t *testing.T) {
	s := startDemo(t, engine.Config{MaxMessageSize: 1024})
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"one frame of 1025 bytes", wstest.Text(wstest.Stars(1025))},
		{"binary frame of 1025 bytes", wstest.Binary(wstest.Pattern(1025))},
		{"fragments of 400+400+400", wstest.Fragments(codec.OpBinary, wstest.Pattern(1200), 400)},
		{"1024 bytes then a 1-byte fragment", wstest.Cat(wstest.Part(codec.OpText, false, wstest.Stars(1024)), wstest.Part(codec.OpContinuation, true, "x"))},
		{"many 1-byte fragments", wstest.Fragments(codec.OpText, wstest.Stars(1100), 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Upgrade(t, "/ws/echo")
			// The largest allowed message still works.
			if err := r.WriteFrame(codec.OpText, true, []byte(wstest.Stars(1024))); err != nil {
				t.Fatal(err)
			}
			if _, p, err := r.ReadFrame(wstest.Timeout); err != nil || len(p) != 1024 {
				t.Fatalf("1024-byte echo: %d bytes, %v", len(p), err)
			}
			if _, err := r.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			wstest.ExpectCloseThenEOF(t, r, codec.CloseTooBig)
		})
	}
}

// TestTooBigHeaderClosesAtOnce sends only the header of a 10 MB frame: the
// server must refuse it from the header alone, without waiting for (or
// buffering) the payload.
func TestTooBigHeaderClosesAtOnce(t *testing.T) {
	s := startDemo(t, engine.Config{MaxMessageSize: 1024})
	for _, tc := range []struct {
		name   string
		header []byte
	}{
		{"64-bit length", wstest.Header(codec.OpBinary, true, 10<<20)},
		{"16-bit length", wstest.Header(codec.OpText, true, 60000)},
		{"continuation past the limit", wstest.Cat(wstest.Part(codec.OpBinary, false, wstest.Stars(1000)), wstest.Header(codec.OpContinuation, true, 10<<20))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Upgrade(t, "/ws/echo")
			if _, err := r.Write(tc.header); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			wstest.ExpectCloseThenEOF(t, r, codec.CloseTooBig)
			if d := time.Since(start); d > time.Second {
				t.Fatalf("close took %v: the server waited for the payload", d)
			}
		})
	}
}

func TestHandshakeLimits(t *testing.T) {
	s := startDemo(t, engine.Config{HandshakeTimeout: 200 * time.Millisecond})
	pad := "X-Pad: " + strings.Repeat("a", 9<<10) + "\r\n"
	big := strings.Replace(wstest.Request("/ws/echo"), "\r\n\r\n", "\r\n"+pad+"\r\n", 1)

	t.Run("head over 8 KiB is 431", func(t *testing.T) {
		r, err := wstest.DialRaw(s.Addr, big)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		wstest.ExpectStatus(t, r, http.StatusRequestHeaderFieldsTooLarge)
	})
	t.Run("unfinished head over 8 KiB is 431 at once", func(t *testing.T) {
		r, err := wstest.DialRaw(s.Addr, big[:len(big)-4]) // no blank line
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		start := time.Now()
		wstest.ExpectStatus(t, r, http.StatusRequestHeaderFieldsTooLarge)
		if d := time.Since(start); d > 150*time.Millisecond {
			t.Fatalf("431 after %v: the server waited for the handshake timeout", d)
		}
	})
	for _, tc := range []struct{ name, head string }{
		{"nothing sent", ""},
		{"half a head", wstest.Request("/ws/echo")[:30]},
		{"head without the blank line", strings.TrimSuffix(wstest.Request("/ws/echo"), "\r\n")},
	} {
		t.Run("timeout/"+tc.name, func(t *testing.T) {
			start := time.Now()
			r, err := wstest.DialRaw(s.Addr, tc.head)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			wstest.ExpectStatus(t, r, http.StatusRequestTimeout)
			d := time.Since(start)
			if d < 200*time.Millisecond || d > 2*time.Second {
				t.Fatalf("408 after %v, want about 200ms", d)
			}
		})
	}
	// A head that arrives just in time is upgraded.
	t.Run("complete within the timeout", func(t *testing.T) {
		head := wstest.Request("/ws/echo")
		r, err := wstest.DialRaw(s.Addr, head[:20])
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		time.Sleep(50 * time.Millisecond) // part of the scenario: a slow but honest client
		if _, err := io.WriteString(r, head[20:]); err != nil {
			t.Fatal(err)
		}
		if resp, err := r.Response(); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		// The upgraded connection is not subject to the handshake timeout.
		time.Sleep(300 * time.Millisecond) // longer than HandshakeTimeout, on purpose
		if err := r.WriteFrame(codec.OpText, true, []byte("late")); err != nil {
			t.Fatal(err)
		}
		if _, p, err := r.ReadFrame(wstest.Timeout); err != nil || string(p) != "late" {
			t.Fatalf("echo after the handshake deadline: %q %v", p, err)
		}
	})
}

// TestSlowloris holds 5,000 connections that each send one byte of their
// request head per second, for three seconds, while normal clients keep
// connecting and echoing; then it checks what the held connections cost.
func TestSlowloris(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 connections")
	}
	const (
		n       = 5000
		rounds  = 3
		drivers = 4
		// Server memory per slow connection (the client's own cost,
		// measured separately, is subtracted). Measured on 2 cores, with
		// and without -race: about 1.8 KiB, of which about 1 KiB is gnet's
		// inbound ring buffer holding the partial head. The bound leaves
		// margin for GC noise.
		maxPerConn = 3 << 10
	)
	client := clientConnCost(t)
	s := startDemo(t, engine.Config{})
	head := []byte(wstest.Request("/ws/echo"))
	before := heapInuse()
	accepted := s.Stats().Accepted.Load()

	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	dial := func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			c, err := net.DialTimeout("tcp", s.Addr, wstest.Timeout)
			if err != nil {
				return err
			}
			conns[i] = c
		}
		return nil
	}
	if err := parallel(drivers, n, dial); err != nil {
		t.Fatal(err)
	}
	wstest.Eventually(t, "5,000 accepted", func() bool { return s.Stats().Accepted.Load()-accepted >= n })

	// Normal clients meanwhile: connect, echo, disconnect, until the slow
	// rounds are over.
	stop := make(chan struct{})
	var echoes atomic.Int64
	var slowest atomic.Int64
	normalErr := make(chan error, 1)
	go func() {
		defer close(normalErr)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if err := echoOnce(s, fmt.Sprintf("normal %d", i)); err != nil {
				normalErr <- err
				return
			}
			d := int64(time.Since(start))
			if d > slowest.Load() {
				slowest.Store(d)
			}
			echoes.Add(1)
		}
	}()

	start := time.Now()
	for round := range rounds {
		if round > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(round) * time.Second))) // one byte per second
		}
		err := parallel(drivers, n, func(lo, hi int) error {
			for i := lo; i < hi; i++ {
				_ = conns[i].SetWriteDeadline(time.Now().Add(wstest.Timeout))
				if _, err := conns[i].Write(head[round : round+1]); err != nil {
					return fmt.Errorf("slow conn %d, round %d: %w", i, round, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	held := int64(heapInuse()) - int64(before)
	close(stop)
	if err := <-normalErr; err != nil {
		t.Fatalf("normal client during slowloris: %v", err)
	}
	// The slow connections were never answered nor dropped: none of them has
	// anything to read.
	for _, i := range []int{0, n / 2, n - 1} {
		_ = conns[i].SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if k, err := conns[i].Read(make([]byte, 1)); k != 0 || !isTimeout(err) {
			t.Fatalf("slow conn %d: read %d bytes, %v; want nothing yet", i, k, err)
		}
	}
	per := held/n - client
	t.Logf("%d slow connections: heap +%d KiB, %d B each on the server (+%d B on the client); %d normal echoes meanwhile, slowest %v",
		n, held>>10, per, client, echoes.Load(), time.Duration(slowest.Load()))
	if echoes.Load() < 10 {
		t.Fatalf("only %d normal echoes in %ds", echoes.Load(), rounds)
	}
	if d := time.Duration(slowest.Load()); d > 2*time.Second {
		t.Fatalf("a normal client took %v to connect and echo", d)
	}
	if per > maxPerConn {
		t.Fatalf("%d B per slow connection on the server, want < %d", per, maxPerConn)
	}
}

// clientConnCost is the heap a test's raw TCP client costs per connection
// (its net.TCPConn and the test's bookkeeping) after sending a few bytes,
// measured against a listener that never accepts, so no server is involved.
func clientConnCost(t *testing.T) int64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 1000 // under the listen backlog
	conns := make([]net.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	before := heapInuse()
	for i := range conns {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), wstest.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		if _, err := c.Write([]byte("GET")); err != nil {
			t.Fatal(err)
		}
	}
	return (int64(heapInuse()) - int64(before)) / n
}

// parallel splits [0, n) among k goroutines and returns the first error.
func parallel(k, n int, fn func(lo, hi int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, k)
	for g := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[g] = fn(g*n/k, (g+1)*n/k)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// echoOnce dials /ws/echo with gorilla, echoes msg and closes.
func echoOnce(s *wstest.Engine, msg string) error {
	c, err := wstest.DialURL(s.URL("/ws/echo"))
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(wstest.Timeout))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return err
	}
	_, got, err := c.Next(wstest.Timeout)
	if err != nil {
		return err
	}
	if string(got) != msg {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// TestSlowConsumer has one room member that never reads (with a 4 KiB
// receive buffer) and three that read everything, and publishes messages of
// 1 KiB until the server cuts the stalled one: it is closed with 1008 "slow
// consumer", the readers get every message in order, and the server does
// not keep the undelivered backlog.
//
// The publisher waits for the readers after every batch of 10 messages, so
// that they are never behind by more than 10 KiB: they keep up, only the
// stalled member does not.
//
// The cut comes once the kernel's send buffer (SendBuffer, which Linux
// doubles) and MaxOutbound have filled: the stalled client, reading at
// last, gets no more than that, its own receive buffer and the last round
// of writes before the close frame. (Left to the kernel, the send buffer
// grows to about 4 MiB on loopback, and the cut came after some 3 MiB.)
func TestSlowConsumer(t *testing.T) {
	for _, sendBuffer := range []int{0, 16 << 10} {
		t.Run(fmt.Sprintf("send-buffer=%d", sendBuffer), func(t *testing.T) {
			testSlowConsumer(t, sendBuffer)
		})
	}
}

func testSlowConsumer(t *testing.T, sendBuffer int) {
	const (
		size        = 1 << 10
		frame       = size + 4 // a 16-bit length
		batch       = 10
		maxOutbound = 64 << 10
		rcvbuf      = 4 << 10
		// What the server may still hold once the stalled member is gone:
		// its queue is capped at 64 KiB and freed with it. Measured: under
		// 200 KiB, the readers' goroutines and buffers included.
		maxHeld = 1 << 20
	)
	kernel := sendBuffer
	if kernel == 0 {
		kernel = engine.DefaultSendBuffer
	}
	// Linux doubles both buffers; a round of writes is at most a batch.
	limit := maxOutbound + 2*kernel + 2*rcvbuf + batch*frame
	maxMsgs := 2 * limit / size // the cut must have come long before
	s := startDemo(t, engine.Config{MaxOutbound: maxOutbound, SendBuffer: sendBuffer})

	slow := dialSmallBuffer(t, s.Addr, "/ws/room/x", rcvbuf)
	readers := make([]*wstest.Client, 3)
	for i := range readers {
		readers[i] = s.Dial(t, "/ws/room/x")
	}
	wstest.Eventually(t, "4 members", func() bool { return len(s.ClientsIn("room:x")) == 4 })
	before := heapInuse()

	var wg sync.WaitGroup
	errs := make([]error, len(readers))
	progress := make([]atomic.Int64, len(readers))
	for i, c := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; seq++ {
				_, m, err := c.Next(wstest.Timeout)
				if err != nil {
					errs[i] = fmt.Errorf("reader %d, message %d: %w", i, seq, err)
					return
				}
				if string(m) == "end" {
					return
				}
				if got := string(m[:8]); got != fmt.Sprintf("%08d", seq) || len(m) != size {
					errs[i] = fmt.Errorf("reader %d: message %d is %q… (%d bytes)", i, seq, got, len(m))
					return
				}
				progress[i].Store(int64(seq + 1))
			}
		}()
	}
	caughtUp := func(n int) bool {
		for i := range progress {
			if progress[i].Load() < int64(n) && errs[i] == nil {
				return false
			}
		}
		return true
	}
	pad := strings.Repeat("x", size-8)
	sent := 0
	for sent < maxMsgs && s.Stats().SlowConsumers.Load() == 0 {
		for range batch {
			if n := s.BroadcastRoom("room:x", []byte(fmt.Sprintf("%08d%s", sent, pad))); n < 3 {
				t.Fatalf("message %d reached %d members (slow consumers cut so far: %d): a member that reads was cut",
					sent, n, s.Stats().SlowConsumers.Load())
			}
			sent++
		}
		wstest.Eventually(t, "readers caught up", func() bool { return caughtUp(sent) })
	}
	s.BroadcastRoom("room:x", []byte("end"))
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().SlowConsumers.Load(); n != 1 {
		t.Fatalf("SlowConsumers = %d after %d messages of %d B, want 1", n, sent, size)
	}
	t.Logf("stalled member cut after at most %d messages of %d B", sent, size)

	// The stalled client reads now: what was queued before the cut, in
	// order, then close 1008 "slow consumer", which it answers.
	got := 0
	for {
		h, p, err := slow.ReadFrame(wstest.Timeout)
		if err != nil {
			t.Fatalf("stalled client: no close frame after %d messages: %v", got, err)
		}
		if h.Op == codec.OpClose {
			code, reason, _ := codec.ParseCloseBody(p)
			if code != codec.ClosePolicyViolation || reason != "slow consumer" {
				t.Fatalf("stalled client: close %d %q, want 1008 \"slow consumer\"", code, reason)
			}
			break
		}
		if want := fmt.Sprintf("%08d", got); string(p[:8]) != want {
			t.Fatalf("stalled client: message %q, want %s", p[:8], want)
		}
		got++
	}
	if _, err := slow.Write(wstest.CloseFrame(1008, "")); err != nil {
		t.Fatal(err)
	}
	if err := slow.ExpectEOF(wstest.Timeout); err != nil {
		t.Fatal(err)
	}
	t.Logf("stalled client then read %d messages (%d B; at most %d B allowed) and its close frame", got, got*frame, limit)
	if got*frame > limit {
		t.Errorf("the stalled client was cut after %d B, want at most %d B: MaxOutbound %d, SendBuffer %d (doubled), its receive buffer %d (doubled), a round of %d B",
			got*frame, limit, maxOutbound, kernel, rcvbuf, batch*frame)
	}

	wstest.Eventually(t, "stalled member gone", func() bool { return len(s.ClientsIn("room:x")) == 3 })
	held := int64(heapInuse()) - int64(before)
	t.Logf("heap delta with the stalled member gone: %+d KiB", held>>10)
	if held > maxHeld {
		t.Errorf("server holds %d KiB after the slow consumer was closed, want < %d KiB", held>>10, maxHeld>>10)
	}
}

// dialSmallBuffer upgrades a raw connection whose receive buffer is set to
// rcvbuf bytes before connecting (so the TCP window stays small).
func dialSmallBuffer(t *testing.T, addr, path string, rcvbuf int) *wstest.Raw {
	t.Helper()
	d := net.Dialer{Timeout: wstest.Timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.(*net.TCPConn).SetReadBuffer(rcvbuf); err != nil {
		t.Fatal(err)
	}
	r, err := wstest.UpgradeConn(c, path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUpgradeRejections(t *testing.T) {
	var events sync.Map // connection id -> []string of "type:user"
	rec := func(ev *engine.Event) engine.Reply {
		v, _ := events.LoadOrStore(ev.ConnectionID, &eventLog{})
		v.(*eventLog).add(ev.Type.String() + ":" + ev.User)
		if ev.Type == engine.Message {
			return engine.Reply{Send: []byte("hello " + ev.User)}
		}
		return engine.Reply{}
	}
	s := startDemo(t, engine.Config{
		AllowedOrigins: []string{"https://ok.example"},
		Auth: func(r *codec.Request) (string, error) {
			if r.Path != "/ws/auth" {
				return "", nil
			}
			switch r.Query().Get("token") {
			case "alice-token":
				return "alice", nil
			case "banned":
				return "", &codec.Reject{Status: http.StatusForbidden, Reason: "banned"}
			}
			return "", errors.New("bad token")
		},
	}, engine.Route{Pattern: "/ws/auth", Handler: rec})

	key := "Sec-WebSocket-Key: " + wstest.Key()
	std := []string{"Host: ripple.test", "Upgrade: websocket", "Connection: Upgrade", key, "Sec-WebSocket-Version: 13"}
	without := func(drop string) []string {
		var out []string
		for _, h := range std {
			if !strings.HasPrefix(h, drop) {
				out = append(out, h)
			}
		}
		return out
	}
	with := func(extra ...string) []string { return append(append([]string(nil), std...), extra...) }
	for _, tc := range []struct {
		name   string
		head   string
		status int
		header [2]string // a response header that must be present
	}{
		// The server answers 400 with Allow: GET (RFC 9110 would have 405
		// with the same header; RFC 6455 only asks for an HTTP error).
		{"POST with Upgrade", wstest.Head("POST /ws/echo HTTP/1.1", std...), http.StatusBadRequest, [2]string{"Allow", "GET"}},
		{"HTTP/1.0", wstest.Head("GET /ws/echo HTTP/1.0", std...), http.StatusHTTPVersionNotSupported, [2]string{}},
		{"missing Sec-WebSocket-Key", wstest.Head("GET /ws/echo HTTP/1.1", without("Sec-WebSocket-Key")...), http.StatusBadRequest, [2]string{}},
		{"short Sec-WebSocket-Key", wstest.Head("GET /ws/echo HTTP/1.1", append(without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: c2hvcnQ=")...), http.StatusBadRequest, [2]string{}},
		{"Sec-WebSocket-Key not base64", wstest.Head("GET /ws/echo HTTP/1.1", append(without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!")...), http.StatusBadRequest, [2]string{}},
		{"Sec-WebSocket-Key of 17 bytes", wstest.Head("GET /ws/echo HTTP/1.1", append(without("Sec-WebSocket-Key"), "Sec-WebSocket-Key: "+base64.StdEncoding.EncodeToString(make([]byte, 17)))...), http.StatusBadRequest, [2]string{}},
		{"missing Sec-WebSocket-Version", wstest.Head("GET /ws/echo HTTP/1.1", without("Sec-WebSocket-Version")...), http.StatusBadRequest, [2]string{}},
		{"Sec-WebSocket-Version 8", wstest.Head("GET /ws/echo HTTP/1.1", append(without("Sec-WebSocket-Version"), "Sec-WebSocket-Version: 8")...), http.StatusUpgradeRequired, [2]string{"Sec-WebSocket-Version", "13"}},
		{"missing Connection", wstest.Head("GET /ws/echo HTTP/1.1", without("Connection")...), http.StatusBadRequest, [2]string{}},
		{"Connection without upgrade", wstest.Head("GET /ws/echo HTTP/1.1", append(without("Connection"), "Connection: keep-alive")...), http.StatusBadRequest, [2]string{}},
		{"missing Host", wstest.Head("GET /ws/echo HTTP/1.1", without("Host")...), http.StatusBadRequest, [2]string{}},
		{"unknown route", wstest.Head("GET /ws/nope HTTP/1.1", std...), http.StatusNotFound, [2]string{}},
		{"Origin not allowed", wstest.Head("GET /ws/echo HTTP/1.1", with("Origin: https://evil.example")...), http.StatusForbidden, [2]string{}},
		{"Origin allowed", wstest.Head("GET /ws/echo HTTP/1.1", with("Origin: https://ok.example")...), http.StatusSwitchingProtocols, [2]string{"Upgrade", "websocket"}},
		{"no Origin", wstest.Head("GET /ws/echo HTTP/1.1", std...), http.StatusSwitchingProtocols, [2]string{"Upgrade", "websocket"}},
		{"auth: no token", wstest.Head("GET /ws/auth HTTP/1.1", std...), http.StatusUnauthorized, [2]string{"Www-Authenticate", `Bearer realm="ripple"`}},
		{"auth: bad token", wstest.Head("GET /ws/auth?token=nope HTTP/1.1", std...), http.StatusUnauthorized, [2]string{}},
		{"auth: hook's own status", wstest.Head("GET /ws/auth?token=banned HTTP/1.1", std...), http.StatusForbidden, [2]string{}},
		{"auth: origin checked first", wstest.Head("GET /ws/auth?token=alice-token HTTP/1.1", with("Origin: https://evil.example")...), http.StatusForbidden, [2]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := wstest.DialRaw(s.Addr, tc.head)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			resp, err := r.Response()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if k, v := tc.header[0], tc.header[1]; k != "" && !strings.Contains(resp.Header.Get(k), v) {
				t.Errorf("header %s = %q, want %q (response headers %v)", k, resp.Header.Get(k), v, resp.Header)
			}
			if tc.status != http.StatusSwitchingProtocols {
				if err := r.ExpectEOF(wstest.Timeout); err != nil {
					t.Fatalf("connection not closed after %d: %v", tc.status, err)
				}
			}
		})
	}

	// An accepted user is on every event of the connection.
	c, err := wstest.DialURL(s.URL("/ws/auth?token=alice-token"))
	if err != nil {
		t.Fatal(err)
	}
	wstest.Send(t, c, "hi")
	if got := wstest.ReadString(t, c); got != "hello alice" {
		t.Fatalf("reply = %q", got)
	}
	c.Close()
	var log *eventLog
	wstest.Eventually(t, "disconnect event", func() bool {
		events.Range(func(_, v any) bool { log = v.(*eventLog); return false })
		return log != nil && len(log.get()) == 3
	})
	if got := strings.Join(log.get(), " "); got != "connect:alice message:alice disconnect:alice" {
		t.Fatalf("events = %s", got)
	}
}

type eventLog struct {
	mu sync.Mutex
	ev []string
}

func (l *eventLog) add(s string) { l.mu.Lock(); l.ev = append(l.ev, s); l.mu.Unlock() }
func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ev...)
}

// TestPanicsCloseOnlyTheirConnection extends TestHandlerPanicCloses1011 to
// panics in connect events and in Workers routes.
func TestPanicsCloseOnlyTheirConnection(t *testing.T) {
	boom := func(ev *engine.Event) engine.Reply {
		if ev.Type == engine.Connect && ev.Request.Query().Get("panic") == "connect" {
			panic("connect boom")
		}
		if ev.Type == engine.Message && string(ev.Message) == "boom" {
			panic("message boom")
		}
		if ev.Type == engine.Message {
			return engine.Reply{Send: ev.Message}
		}
		return engine.Reply{}
	}
	quietLog := slog.New(slog.DiscardHandler) // the panics are expected
	s := startDemo(t, engine.Config{Logger: quietLog}, engine.Route{Pattern: "/ws/boom", Handler: boom})
	srvW := wstest.StartEngine(t, engine.Config{Logger: quietLog}, engine.Route{Pattern: "/ws/boom", Handler: boom, Workers: true})

	for _, addr := range []string{s.Addr, srvW.Addr} {
		good, err := wstest.DialURL("ws://" + addr + "/ws/boom")
		if err != nil {
			t.Fatal(err)
		}
		defer good.Close()
		for _, q := range []string{"?panic=connect", ""} {
			bad, err := wstest.DialURL("ws://" + addr + "/ws/boom" + q)
			if err != nil {
				t.Fatal(err)
			}
			if q == "" {
				wstest.Send(t, bad, "boom")
			}
			if code, _ := wstest.ExpectClose(t, bad); code != websocket.CloseInternalServerErr {
				t.Fatalf("%s%s: close %d, want 1011", addr, q, code)
			}
			bad.Close()
			wstest.Send(t, good, "fine")
			if got := wstest.ReadString(t, good); got != "fine" {
				t.Fatalf("other connection got %q", got)
			}
		}
	}
}

// TestGarbageNeverHurtsOthers throws random bytes, before and after the
// upgrade, at the server from many connections while a room of well-behaved
// members exchanges numbered messages; none is lost and the server lives.
func TestGarbageNeverHurtsOthers(t *testing.T) {
	s := startDemo(t, engine.Config{})
	members := make([]*wstest.Client, 3)
	for i := range members {
		members[i] = s.Dial(t, "/ws/room/calm")
	}
	wstest.Eventually(t, "members", func() bool { return len(s.ClientsIn("room:calm")) == 3 })

	const attackers, perAttacker = 8, 30
	var closedByServer atomic.Int64
	var wg sync.WaitGroup
	for a := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perAttacker {
				junk := make([]byte, 1+(a*perAttacker+i)%3000)
				_, _ = rand.Read(junk)
				var head string
				if i%2 == 0 {
					head = wstest.Request("/ws/room/calm")
				}
				r, err := wstest.DialRaw(s.Addr, head)
				if err != nil {
					continue
				}
				_, _ = r.Write(junk)
				// Most are closed at once; junk that looks like the start
				// of a long frame or head waits for more, so do not wait.
				if r.ExpectEOF(100*time.Millisecond) == nil {
					closedByServer.Add(1)
				}
				r.Close()
			}
		}()
	}
	for seq := range 300 {
		wstest.Send(t, members[seq%3], fmt.Sprintf(`{"seq":%d}`, seq))
	}
	// Every member gets all 300, each sender's in the order it sent them.
	for i, m := range members {
		next := [3]int{0, 1, 2}
		for range 300 {
			var seq int
			if _, err := fmt.Sscanf(wstest.ReadString(t, m), `{"seq":%d}`, &seq); err != nil {
				t.Fatal(err)
			}
			if seq != next[seq%3] {
				t.Fatalf("member %d: seq %d, want %d from sender %d", i, seq, next[seq%3], seq%3)
			}
			next[seq%3] += 3
		}
	}
	wg.Wait()
	if err := echoOnce(s, "alive"); err != nil {
		t.Fatalf("server after garbage: %v", err)
	}
	t.Logf("%d of %d garbage connections closed by the server within 100ms", closedByServer.Load(), attackers*perAttacker)
}
