package codec_test

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/codec"
)

func TestDeflateRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", strings.Repeat("hello ripple ", 1000), "\x00\xff\x10"} {
		z := codec.Deflate(nil, []byte(s))
		got, err := codec.Inflate(nil, z, 1<<20)
		if err != nil || string(got) != s {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", len(s), len(got), err)
		}
	}
}

func TestInflateLimits(t *testing.T) {
	bomb := codec.Deflate(nil, make([]byte, 10<<20)) // 10 MiB of zeros
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	if _, err := codec.Inflate(nil, bomb, 64<<10); !errors.Is(err, codec.ErrTooBig) {
		t.Fatalf("bomb: %v", err)
	}
	if _, err := codec.Inflate(nil, []byte{0xff, 0xff, 0xff}, 1024); !errors.Is(err, codec.ErrInflate) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestNegotiateDeflate(t *testing.T) {
	tests := []struct {
		offer  string
		accept bool
	}{
		{"permessage-deflate", true},
		{"permessage-deflate; client_max_window_bits", true},
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", true},
		{"permessage-deflate; server_max_window_bits=15", true},
		{"permessage-deflate; server_max_window_bits=10", false},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", true},
		{"permessage-deflate; bogus=1", false},
		{"x-webkit-deflate-frame", false},
	}
	for _, tt := range tests {
		head := strings.Replace(goodHead, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: "+tt.offer+"\r\n\r\n", 1)
		var out bytes.Buffer
		_, acc, err := codec.Upgrade([]byte(head), &out, codec.UpgradeConfig{Deflate: true})
		if err != nil {
			t.Fatalf("%s: %v", tt.offer, err)
		}
		resp, _ := http.ReadResponse(bufio.NewReader(&out), nil)
		ext := resp.Header.Get("Sec-Websocket-Extensions")
		if acc.Deflate != tt.accept || (ext != "") != tt.accept {
			t.Fatalf("%s: accepted %v, response %q", tt.offer, acc.Deflate, ext)
		}
		if tt.accept && (!strings.Contains(ext, "server_no_context_takeover") || !strings.Contains(ext, "client_no_context_takeover")) {
			t.Fatalf("%s: response %q", tt.offer, ext)
		}
	}
}
