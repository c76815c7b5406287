package codec_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
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
		{"permessage-deflate; server_max_window_bits=10", true},
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

// TestNegotiateDeflateWindow: an offer that limits the server's window is
// accepted with the same limit, which the Accept carries; a limit of 15 is
// no limit.
func TestNegotiateDeflateWindow(t *testing.T) {
	for _, tt := range []struct {
		offer  string
		window uint8 // Accept.DeflateWindow
		resp   string
	}{
		{"permessage-deflate; server_max_window_bits=8", 8, "server_max_window_bits=8"},
		{"permessage-deflate; server_max_window_bits=9", 9, "server_max_window_bits=9"},
		{"permessage-deflate; server_max_window_bits=9; client_max_window_bits", 9, "server_max_window_bits=9"},
		{"permessage-deflate; server_no_context_takeover; server_max_window_bits=14", 14, "server_max_window_bits=14"},
		{"permessage-deflate; server_max_window_bits=15", 0, ""},
		{"permessage-deflate", 0, ""},
	} {
		head := strings.Replace(goodHead, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: "+tt.offer+"\r\n\r\n", 1)
		var out bytes.Buffer
		_, acc, err := codec.Upgrade([]byte(head), &out, codec.UpgradeConfig{Deflate: true})
		if err != nil {
			t.Fatalf("%s: %v", tt.offer, err)
		}
		resp, _ := http.ReadResponse(bufio.NewReader(&out), nil)
		ext := resp.Header.Get("Sec-Websocket-Extensions")
		if !acc.Deflate || acc.DeflateWindow != tt.window {
			t.Fatalf("%s: deflate %v, window %d, want %d", tt.offer, acc.Deflate, acc.DeflateWindow, tt.window)
		}
		if tt.resp != "" && !strings.Contains(ext, tt.resp) || tt.resp == "" && strings.Contains(ext, "server_max_window_bits") {
			t.Fatalf("%s: response %q, want %q", tt.offer, ext, tt.resp)
		}
	}
}

// TestDeflateWindow decodes what DeflateWindow produces with a deflate
// decoder of its own that measures how far back each match refers: below
// the full window there is none at all (Huffman-only), so no client window
// is ever exceeded; the full window keeps the matching compressor.
func TestDeflateWindow(t *testing.T) {
	payloads := map[string][]byte{
		"empty":  nil,
		"text":   []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2000)),
		"json":   []byte(strings.Repeat(`{"event":"presence_diff","payload":{"joins":{"u1":{"metas":[{"phx_ref":"F1","state":"online"}]}}}}`, 500)),
		"zeros":  make([]byte, 100<<10),
		"binary": pattern(70 << 10),
	}
	var narrow []byte
	for name, p := range payloads {
		for _, window := range []uint8{0, 8, 9, 12, 14, 15} {
			z := codec.DeflateWindow(nil, p, window)
			got, far, err := inflateTrace(append(z, 0x00, 0x00, 0xff, 0xff))
			if err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%s window=%d: %d bytes back of %d, %v", name, window, len(got), len(p), err)
			}
			if back, err := codec.Inflate(nil, z, 1<<20); err != nil || !bytes.Equal(back, p) {
				t.Fatalf("%s window=%d: Inflate: %d bytes, %v", name, window, len(back), err)
			}
			full := window == 0 || window == codec.DeflateFullWindow
			switch {
			case !full && far != 0:
				t.Fatalf("%s window=%d: a match %d bytes back", name, window, far)
			case full && far > 1<<codec.DeflateFullWindow:
				t.Fatalf("%s window=%d: a match %d bytes back", name, window, far)
			case full && name == "text" && far == 0:
				t.Fatalf("%s window=%d: no match at all: not the full compressor", name, window)
			}
			// The engine shares one frame among the narrow windows.
			if !full && name == "json" {
				if narrow == nil {
					narrow = z
				} else if !bytes.Equal(z, narrow) {
					t.Fatalf("window=%d compresses otherwise than another narrow window", window)
				}
			}
		}
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// BenchmarkDeflate compresses a 16 KiB JSON message with the full window
// and with a narrow one; ratio is compressed/plain.
func BenchmarkDeflate(b *testing.B) {
	msg := []byte(strings.Repeat(`{"user":"ann","text":"hello ripple, see you at 10","ts":1700000000}`, 250))[:16<<10]
	for _, window := range []uint8{15, 9} {
		b.Run("window="+itoa(int(window)), func(b *testing.B) {
			var z []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				z = codec.DeflateWindow(z[:0], msg, window)
			}
			b.ReportMetric(float64(len(z))/float64(len(msg)), "ratio")
		})
	}
}

// inflateTrace decodes a raw deflate stream (RFC 1951) and reports the
// farthest back any match refers. It is slow and simple, after zlib's
// puff.c: a second decoder, independent of compress/flate.
func inflateTrace(in []byte) (out []byte, far int, err error) {
	br := &bitReader{in: in}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("inflateTrace: %v", r)
		}
	}()
	for final := false; !final && br.pos < len(br.in); {
		final = br.bits(1) == 1
		switch br.bits(2) {
		case 0: // stored
			br.nbit, br.bitbuf = 0, 0
			n := int(br.in[br.pos]) | int(br.in[br.pos+1])<<8
			br.pos += 4
			out = append(out, br.in[br.pos:br.pos+n]...)
			br.pos += n
		case 1:
			var l [288]int
			for i := range l {
				l[i] = [4]int{8, 9, 7, 8}[boolIdx(i >= 144)+boolIdx(i >= 256)+boolIdx(i >= 280)]
			}
			var d [30]int
			for i := range d {
				d[i] = 5
			}
			out, far = br.codes(out, far, newHuff(l[:]), newHuff(d[:]))
		case 2:
			nlen, ndist, ncode := int(br.bits(5))+257, int(br.bits(5))+1, int(br.bits(4))+4
			var cl [19]int
			for i := range ncode {
				cl[[]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}[i]] = int(br.bits(3))
			}
			lencode := newHuff(cl[:])
			var lengths []int
			for len(lengths) < nlen+ndist {
				sym := br.decode(lencode)
				switch {
				case sym < 16:
					lengths = append(lengths, sym)
				case sym == 16:
					prev := lengths[len(lengths)-1]
					for range 3 + br.bits(2) {
						lengths = append(lengths, prev)
					}
				case sym == 17:
					lengths = append(lengths, make([]int, 3+br.bits(3))...)
				default:
					lengths = append(lengths, make([]int, 11+br.bits(7))...)
				}
			}
			out, far = br.codes(out, far, newHuff(lengths[:nlen]), newHuff(lengths[nlen:]))
		default:
			return out, far, errors.New("inflateTrace: block type 3")
		}
	}
	return out, far, nil
}

func boolIdx(b bool) int {
	if b {
		return 1
	}
	return 0
}

type bitReader struct {
	in     []byte
	pos    int
	bitbuf uint32
	nbit   uint
}

func (br *bitReader) bits(n uint) uint32 {
	for br.nbit < n {
		br.bitbuf |= uint32(br.in[br.pos]) << br.nbit
		br.pos++
		br.nbit += 8
	}
	v := br.bitbuf & (1<<n - 1)
	br.bitbuf >>= n
	br.nbit -= n
	return v
}

// huff is a canonical Huffman code: how many codes of each length, and
// the symbols in code order.
type huff struct {
	count  [16]int
	symbol []int
}

func newHuff(lengths []int) *huff {
	h := &huff{}
	for _, l := range lengths {
		h.count[l]++
	}
	var offs [16]int
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	h.symbol = make([]int, len(lengths))
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = sym
			offs[l]++
		}
	}
	return h
}

func (br *bitReader) decode(h *huff) int {
	code, first, index := 0, 0, 0
	for l := 1; l <= 15; l++ {
		code |= int(br.bits(1))
		if count := h.count[l]; code-count < first {
			return h.symbol[index+code-first]
		} else {
			index += count
			first = (first + count) << 1
			code <<= 1
		}
	}
	panic("bad code")
}

var (
	lenBase  = []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = []uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = []int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtr = []uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// codes decodes one block's literals and matches.
func (br *bitReader) codes(out []byte, far int, lit, dist *huff) ([]byte, int) {
	for {
		sym := br.decode(lit)
		switch {
		case sym < 256:
			out = append(out, byte(sym))
		case sym == 256:
			return out, far
		default:
			sym -= 257
			n := lenBase[sym] + int(br.bits(lenExtra[sym]))
			ds := br.decode(dist)
			d := distBase[ds] + int(br.bits(distExtr[ds]))
			far = max(far, d)
			for range n {
				out = append(out, out[len(out)-d])
			}
		}
	}
}
