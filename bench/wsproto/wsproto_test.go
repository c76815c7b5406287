package wsproto

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func serverFrame(b0 byte, payload []byte) []byte {
	out := []byte{b0}
	n := len(payload)
	switch {
	case n <= 125:
		out = append(out, byte(n))
	case n <= 0xFFFF:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, payload...)
}

func TestParseFrame(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	mid := bytes.Repeat([]byte("y"), 300)
	cases := []struct {
		name    string
		in      []byte
		max     int
		fin     bool
		op      Opcode
		payload []byte
		err     error
	}{
		{"text", serverFrame(0x81, []byte("hello")), 0, true, OpText, []byte("hello"), nil},
		{"empty binary", serverFrame(0x82, nil), 0, true, OpBinary, []byte{}, nil},
		{"len16", serverFrame(0x81, mid), 0, true, OpText, mid, nil},
		{"len64", serverFrame(0x82, big), 0, true, OpBinary, big, nil},
		{"first fragment", serverFrame(0x01, []byte("ab")), 0, false, OpText, []byte("ab"), nil},
		{"continuation", serverFrame(0x80, []byte("cd")), 0, true, OpContinuation, []byte("cd"), nil},
		{"ping", serverFrame(0x89, []byte("p")), 0, true, OpPing, []byte("p"), nil},
		{"close", serverFrame(0x88, []byte{0x03, 0xE8}), 0, true, OpClose, []byte{0x03, 0xE8}, nil},
		{"masked by server", []byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}, 0, true, OpText, []byte("hi"), nil},
		{"reserved bits", serverFrame(0xC1, []byte("x")), 0, false, 0, nil, ErrProtocol},
		{"unknown opcode", serverFrame(0x83, nil), 0, false, 0, nil, ErrProtocol},
		{"fragmented control", serverFrame(0x09, nil), 0, false, 0, nil, ErrProtocol},
		{"long control", serverFrame(0x89, mid), 0, false, 0, nil, ErrProtocol},
		{"too large", serverFrame(0x81, mid), 100, false, 0, nil, ErrTooLarge},
		{"negative length", []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, 0, false, 0, nil, ErrProtocol},
	}
	for _, tc := range cases {
		t.Run("frame="+tc.name, func(t *testing.T) {
			in := append([]byte(nil), tc.in...)
			f, n, err := ParseFrame(in, tc.max)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || n != len(tc.in) {
				t.Fatalf("n=%d err=%v, want n=%d", n, err, len(tc.in))
			}
			if f.Fin != tc.fin || f.Op != tc.op || !bytes.Equal(f.Payload, tc.payload) {
				t.Errorf("got fin=%v op=%v payload=%.20q", f.Fin, f.Op, f.Payload)
			}
			// Every strict prefix asks for more bytes.
			for i := 0; i < len(tc.in); i += 1 + len(tc.in)/50 {
				pre := append([]byte(nil), tc.in[:i]...)
				if _, n, err := ParseFrame(pre, tc.max); n != 0 || err != nil {
					t.Fatalf("prefix %d: n=%d err=%v, want 0,nil", i, n, err)
				}
			}
		})
	}
}

func TestAppendFrameRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 100000} {
		p := bytes.Repeat([]byte{0xA5}, size)
		mask := [4]byte{0xde, 0xad, 0xbe, 0xef}
		b := AppendFrame([]byte("prefix"), true, OpBinary, p, mask)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("prefix lost")
		}
		b = b[len("prefix"):]
		if b[1]&0x80 == 0 {
			t.Fatalf("size %d: client frame not masked", size)
		}
		f, n, err := ParseFrame(b, 0)
		if err != nil || n != len(b) || !bytes.Equal(f.Payload, p) || f.Op != OpBinary || !f.Fin {
			t.Fatalf("size %d: n=%d/%d err=%v op=%v", size, n, len(b), err, f.Op)
		}
		if size > 0 && p[0] != 0xA5 {
			t.Fatal("AppendFrame modified its input")
		}
	}
	c := AppendClose(nil, 1000, "bye", [4]byte{1, 2, 3, 4})
	f, _, err := ParseFrame(c, 0)
	if err != nil || f.Op != OpClose || CloseCode(f.Payload) != 1000 || string(f.Payload[2:]) != "bye" {
		t.Fatalf("close frame: %v %v %q", err, f.Op, f.Payload)
	}
	if CloseCode(nil) != 1005 {
		t.Error("empty close payload should mean 1005")
	}
}

func response(status, accept string, extra ...string) []byte {
	s := "HTTP/1.1 " + status + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n"
	for _, e := range extra {
		s += e + "\r\n"
	}
	return []byte(s + "\r\n")
}

func TestParseResponse(t *testing.T) {
	key := MakeKey([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	good := AcceptKey(key[:])
	// RFC 6455 section 1.3 example.
	if got := AcceptKey([]byte("dGhlIHNhbXBsZSBub25jZQ==")); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %s", got)
	}
	cases := []struct {
		name   string
		in     []byte
		n      int
		status int
		err    error
	}{
		{"ok", response("101 Switching Protocols", good), len(response("101 Switching Protocols", good)), 0, nil},
		{"ok with frame after", append(response("101 Switching Protocols", good), 0x81, 0), len(response("101 Switching Protocols", good)), 0, nil},
		{"lowercase headers", []byte("HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\nsec-websocket-accept: " + good + "\r\n\r\n"), -1, 0, nil},
		{"incomplete", response("101 Switching Protocols", good)[:40], 0, 0, nil},
		{"404", []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), 0, 404, nil},
		{"bad accept", response("101 Switching Protocols", "nope"), 0, 0, ErrBadHandshake},
		{"garbage", []byte("SSH-2.0-OpenSSH\r\n\r\n"), 0, 0, ErrBadHandshake},
		{"too long", []byte("HTTP/1.1 101 OK\r\nX: " + strings.Repeat("a", MaxResponseHeader)), 0, 0, ErrHeaderTooLong},
	}
	for _, tc := range cases {
		t.Run("response="+tc.name, func(t *testing.T) {
			n, err := ParseResponse(tc.in, key[:])
			var se *StatusError
			switch {
			case tc.status != 0:
				if !errors.As(err, &se) || se.Code != tc.status {
					t.Fatalf("err = %v, want status %d", err, tc.status)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				want := tc.n
				if want < 0 {
					want = len(tc.in)
				}
				if n != want {
					t.Fatalf("n = %d, want %d", n, want)
				}
			}
		})
	}
	req := string(AppendRequest(nil, "127.0.0.1:80", "/ws/room/a?x=1", key[:]))
	for _, want := range []string{"GET /ws/room/a?x=1 HTTP/1.1\r\n", "Host: 127.0.0.1:80\r\n", "Sec-WebSocket-Key: " + string(key[:]) + "\r\n", "Sec-WebSocket-Version: 13\r\n", "\r\n\r\n"} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add(serverFrame(0x81, []byte(`{"type":"echo","payload":{"t":1,"s":2}}`)), 0)
	f.Add(serverFrame(0x82, bytes.Repeat([]byte("z"), 200)), 100)
	f.Add(serverFrame(0x89, []byte("ping")), 0)
	f.Add(append(serverFrame(0x01, []byte("frag")), serverFrame(0x80, []byte("ment"))...), 0)
	f.Add([]byte{0x81, 0xFE, 0xFF}, 0)
	f.Add([]byte{0x82, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 0)
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'}, 0)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 {
			max = -max
		}
		in := append([]byte(nil), b...)
		// Parse the stream frame by frame, as the loop does.
		for off := 0; off < len(in); {
			f, n, err := ParseFrame(in[off:], max)
			if err != nil || n == 0 {
				return
			}
			if n < 2 || off+n > len(in) || len(f.Payload) > n {
				t.Fatalf("n=%d off=%d len=%d payload=%d", n, off, len(in), len(f.Payload))
			}
			if max > 0 && len(f.Payload) > max {
				t.Fatalf("payload %d over max %d", len(f.Payload), max)
			}
			off += n
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	key := MakeKey([16]byte{9})
	f.Add(response("101 Switching Protocols", AcceptKey(key[:])))
	f.Add([]byte("HTTP/1.1 404 Not Found\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 101\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseResponse(b, key[:])
		if err == nil && (n < 0 || n > len(b)) {
			t.Fatalf("n=%d len=%d", n, len(b))
		}
	})
}
