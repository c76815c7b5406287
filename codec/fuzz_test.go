package codec_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/ripple-rt/ripple/codec"
)

// FuzzDecoder feeds arbitrary bytes, whole and in chunks: the Decoder must
// never panic, and both feeds must agree on messages and errors. The same
// bytes then make the payload of a text message, in one frame and in two
// fragments, arriving in chunks: it must fail exactly when the bytes are
// not UTF-8, and a frame still arriving must fail exactly when the bytes
// so far cannot begin UTF-8 (checkTextPayload).
func FuzzDecoder(f *testing.F) {
	seeds := [][]byte{
		frame(codec.OpText, true, "hello"),
		cat(frame(codec.OpText, false, "a"), frame(codec.OpPing, true, "p"), frame(codec.OpContinuation, true, "b")),
		cat(frame(codec.OpBinary, false, "\x00"), frame(codec.OpContinuation, false, ""), frame(codec.OpContinuation, true, "\xff")),
		frame(codec.OpClose, true, "\x03\xe8bye"),
		frame(codec.OpText, true, "\xe2\x82\xac"),
		frame(codec.OpText, false, "\xed\xa0"),
		// A text frame still arriving, valid so far, then not.
		head(frame(codec.OpText, true, "\xce\xba\xe1\xbd\xb9\xf4\x90\x80\x80 edited"), 7),
		head(frame(codec.OpText, true, "\xce\xba\xe1\xbd\xb9\xf4\x90\x80\x80 edited"), 9),
		cat(frame(codec.OpText, false, "\xf0\x9d"), head(frame(codec.OpContinuation, true, "\x84\x9e\xe2\x82\xac!"), 3)),
		[]byte("\xe2\x82\xac\xf0\x9d\x84\x9e\xed\x9f\xbf\xf4\x8f\xbf\xbf"),
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
		checkTextPayload(t, input, st)
	})
}

// checkTextPayload sends payload as a text message, in one frame and in two
// fragments cut at step, step bytes at a time: the message must fail
// exactly when payload is not UTF-8, and each frame still arriving exactly
// when the bytes so far cannot begin UTF-8.
func checkTextPayload(t *testing.T, payload []byte, step int) {
	if len(payload) > 1<<12 {
		return
	}
	cut := min(step, len(payload))
	for _, wire := range [][]byte{
		frame(codec.OpText, true, string(payload)),
		cat(frame(codec.OpText, false, string(payload[:cut])), frame(codec.OpContinuation, true, string(payload[cut:]))),
	} {
		got, err := decodeChunked(&codec.Decoder{}, wire, step)
		if valid := utf8.Valid(payload); (err == nil) != valid || (valid && len(got) != 1) {
			t.Fatalf("text %q in %d-byte chunks: %q, %v", payload, step, got, err)
		}
	}
	whole := frame(codec.OpText, true, string(payload))
	hn := len(whole) - len(payload)
	d, ok := &codec.Decoder{}, validPrefixLen(payload)
	for i := 0; i < len(payload); i += step {
		_, _, err := d.Decode(append([]byte(nil), whole[:hn+i]...))
		if (err == nil) != (i <= ok) {
			t.Fatalf("text frame cut after %q: %v (%d bytes can begin UTF-8)", payload[:i], err, ok)
		}
		if err != nil {
			break
		}
	}
}

// validPrefixLen is the length of the longest prefix of b that can begin
// valid UTF-8: valid runes, then possibly the first bytes of one more.
func validPrefixLen(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			i += n
			continue
		}
		k := 0
		for k < utf8.UTFMax-1 && i+k < len(b) && runePrefixes()[string(b[i:i+k+1])] {
			k++
		}
		return i + k
	}
	return len(b)
}

// runePrefixes is the set of proper prefixes of every rune's UTF-8
// encoding, found by encoding them all.
var runePrefixes = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	var buf [utf8.UTFMax]byte
	for r := rune(0x80); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		n := utf8.EncodeRune(buf[:], r)
		for i := 1; i < n; i++ {
			m[string(buf[:i])] = true
		}
	}
	return m
})

// FuzzHandshake parses arbitrary request heads: no panic, and an accepted
// upgrade always answers 101.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte(goodHead))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	f.Add([]byte("POST /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	// permessage-deflate offers limiting the server's window.
	f.Add([]byte(strings.Replace(goodHead, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; client_max_window_bits\r\n\r\n", 1)))
	f.Add([]byte(strings.Replace(goodHead, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=8\r\n\r\n", 1)))
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
