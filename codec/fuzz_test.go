package codec_test

import (
	"bytes"
	"testing"

	"github.com/ripple-rt/ripple/codec"
)

// FuzzDecoder feeds arbitrary bytes, whole and in chunks: the Decoder must
// never panic, and both feeds must agree on messages and errors.
func FuzzDecoder(f *testing.F) {
	seeds := [][]byte{
		frame(codec.OpText, true, "hello"),
		cat(frame(codec.OpText, false, "a"), frame(codec.OpPing, true, "p"), frame(codec.OpContinuation, true, "b")),
		cat(frame(codec.OpBinary, false, "\x00"), frame(codec.OpContinuation, false, ""), frame(codec.OpContinuation, true, "\xff")),
		frame(codec.OpClose, true, "\x03\xe8bye"),
		frame(codec.OpText, true, "\xe2\x82\xac"),
		frame(codec.OpText, false, "\xed\xa0"),
		unmasked(codec.OpText, "x"),
		{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0},
		{0x81, 0xfe, 0x01},
	}
	for _, s := range seeds {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, input []byte, step uint8) {
		st := int(step%16) + 1
		a, errA := decodeChunked(&codec.Decoder{MaxMessageSize: 1 << 16}, input, len(input)+1)
		b, errB := decodeChunked(&codec.Decoder{MaxMessageSize: 1 << 16}, input, st)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("whole: %v, chunked by %d: %v", errA, st, errB)
		}
		if errA == nil && len(a) != len(b) {
			t.Fatalf("whole: %q, chunked: %q", a, b)
		}
	})
}

// FuzzHandshake parses arbitrary request heads: no panic, and an accepted
// upgrade always answers 101.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte(goodHead))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	f.Add([]byte("POST /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		if n := codec.HeadEnd(head); n > 0 {
			head = head[:n]
		}
		_ = codec.IsUpgrade(head)
		var out bytes.Buffer
		_, _, err := codec.Upgrade(head, &out, codec.UpgradeConfig{})
		if err == nil && !bytes.HasPrefix(out.Bytes(), []byte("HTTP/1.1 101 ")) {
			t.Fatalf("accepted without 101: %q", out.Bytes())
		}
		// A reused Upgrader answers as a fresh one, whatever it answered
		// before.
		var up codec.Upgrader
		cfg := codec.UpgradeConfig{Deflate: true}
		_, _, _ = up.Upgrade([]byte(deflateHead), &bytes.Buffer{}, cfg)
		sameAnswer(t, &up, head, cfg)
	})
}
