package codec_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/ripple-rt/ripple/codec"
)

var mask = [4]byte{0xa1, 0xb2, 0xc3, 0xd4}

func frame(op codec.OpCode, fin bool, payload string) []byte {
	return codec.AppendMasked(nil, op, fin, mask, []byte(payload))
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// decodeAll runs a Decoder over input and returns the units it produced,
// rendered as "kind:payload", and the first error.
func decodeAll(d *codec.Decoder, input []byte) ([]string, error) {
	var out []string
	buf := append([]byte(nil), input...)
	for len(buf) > 0 {
		m, n, err := d.Decode(buf)
		if err != nil {
			return out, err
		}
		if m.Kind != codec.KindNone {
			out = append(out, render(m))
		}
		if n == 0 {
			break
		}
		buf = buf[n:]
	}
	return out, nil
}

func render(m codec.Message) string {
	names := map[codec.Kind]string{codec.KindText: "text", codec.KindBinary: "binary", codec.KindPing: "ping", codec.KindPong: "pong", codec.KindClose: "close"}
	if m.Kind == codec.KindClose {
		return names[m.Kind] + ":" + string(rune('0'+m.Code/1000)) + ":" + m.Reason
	}
	return names[m.Kind] + ":" + string(m.Payload)
}

func unmasked(op codec.OpCode, payload string) []byte {
	return codec.AppendFrame(nil, op, true, false, []byte(payload))
}

func withRsv(f []byte, bits byte) []byte {
	f = append([]byte(nil), f...)
	f[0] |= bits << 4
	return f
}

// head is f cut after its header and the first n bytes of its payload:
// a frame still arriving.
func head(f []byte, n int) []byte {
	h, hn, _ := codec.ParseHeader(f)
	if int64(n) >= h.Length {
		panic("head: the whole frame")
	}
	return f[:hn+n]
}

// mixed is text of one- to four-byte runes whose boundaries fall at every
// offset of a chunk.
var mixed = strings.Repeat("a\u00fc\u20ac\U0001D11E", 1500)

func TestDecoder(t *testing.T) {
	long := strings.Repeat("x", 70000)
	tests := []struct {
		name  string
		max   int
		input []byte
		want  []string
		err   error
	}{
		{"text", 0, frame(codec.OpText, true, "hello"), []string{"text:hello"}, nil},
		{"binary", 0, frame(codec.OpBinary, true, "\x00\xff"), []string{"binary:\x00\xff"}, nil},
		{"empty text", 0, frame(codec.OpText, true, ""), []string{"text:"}, nil},
		{"16-bit length", 0, frame(codec.OpText, true, strings.Repeat("a", 300)), []string{"text:" + strings.Repeat("a", 300)}, nil},
		{"64-bit length", 100000, frame(codec.OpBinary, true, long), []string{"binary:" + long}, nil},
		{"fragments with ping between", 0, cat(frame(codec.OpText, false, "a"), frame(codec.OpPing, true, "p"), frame(codec.OpContinuation, false, "b"), frame(codec.OpContinuation, true, "c")),
			[]string{"ping:p", "text:abc"}, nil},
		{"two messages", 0, cat(frame(codec.OpText, true, "1"), frame(codec.OpBinary, true, "2")), []string{"text:1", "binary:2"}, nil},
		{"pong", 0, frame(codec.OpPong, true, "x"), []string{"pong:x"}, nil},
		{"close with code", 0, frame(codec.OpClose, true, "\x03\xe8bye"), []string{"close:1:bye"}, nil},
		{"close empty", 0, frame(codec.OpClose, true, ""), []string{"close:1:"}, nil},
		{"utf8 split across fragments", 0, cat(frame(codec.OpText, false, "\xe2\x82"), frame(codec.OpContinuation, true, "\xac")), []string{"text:€"}, nil},

		{"unmasked", 0, unmasked(codec.OpText, "x"), nil, codec.ErrUnmasked},
		{"rsv1 without deflate", 0, withRsv(frame(codec.OpText, true, "x"), 4), nil, codec.ErrReservedBits},
		{"rsv2", 0, withRsv(frame(codec.OpText, true, "x"), 2), nil, codec.ErrReservedBits},
		{"reserved opcode 3", 0, frame(3, true, "x"), nil, codec.ErrReservedOpcode},
		{"reserved control opcode 11", 0, frame(11, true, ""), nil, codec.ErrReservedOpcode},
		{"fragmented ping", 0, frame(codec.OpPing, false, "x"), nil, codec.ErrControlFragment},
		{"long ping", 0, frame(codec.OpPing, true, strings.Repeat("x", 126)), nil, codec.ErrControlTooLong},
		{"continuation first", 0, frame(codec.OpContinuation, true, "x"), nil, codec.ErrNoContinuation},
		{"text inside fragmented", 0, cat(frame(codec.OpText, false, "a"), frame(codec.OpText, true, "b")), nil, codec.ErrNotContinued},
		{"invalid utf8", 0, frame(codec.OpText, true, "\xff"), nil, codec.ErrInvalidUTF8},
		{"invalid utf8 in fragment fails fast", 0, frame(codec.OpText, false, "ok\xc0\xaf"), nil, codec.ErrInvalidUTF8},
		{"surrogate prefix fails fast", 0, frame(codec.OpText, false, "\xed\xa0"), nil, codec.ErrInvalidUTF8},
		{"truncated utf8 at end", 0, cat(frame(codec.OpText, false, "\xe2\x82"), frame(codec.OpContinuation, true, "")), nil, codec.ErrInvalidUTF8},
		{"close 1 byte", 0, frame(codec.OpClose, true, "\x03"), nil, codec.ErrCloseBody},
		{"close bad code 1005", 0, frame(codec.OpClose, true, "\x03\xed"), nil, codec.ErrCloseBody},
		{"close bad code 999", 0, frame(codec.OpClose, true, "\x03\xe7"), nil, codec.ErrCloseBody},
		{"close bad utf8 reason", 0, frame(codec.OpClose, true, "\x03\xe8\xff"), nil, codec.ErrCloseBody},
		{"too big single", 10, frame(codec.OpText, true, "01234567890"), nil, codec.ErrTooBig},
		// A text frame still arriving is checked as far as it has come:
		// these inputs end before their frame does, so only an early
		// check fails them.
		{"invalid utf8 in a frame still arriving fails fast", 0, head(frame(codec.OpText, true, "\xce\xba\xe1\xbd\xb9\xf4\x90\x80\x80 and more"), 9), nil, codec.ErrInvalidUTF8},
		{"split surrogate in a frame still arriving fails fast", 0, head(frame(codec.OpText, true, "\xce\xba\xed\xa0 and more"), 4), nil, codec.ErrInvalidUTF8},
		{"invalid utf8 in a fragment still arriving fails fast", 0, cat(frame(codec.OpText, false, "\xe2\x82"), head(frame(codec.OpContinuation, true, "\x41 and more"), 1)), nil, codec.ErrInvalidUTF8},
		{"incomplete rune in a frame still arriving waits", 0, head(frame(codec.OpText, true, "\xe2\x82\xac\xf0\x9d\x84\x9e"), 6), nil, nil},
		{"binary frame still arriving is not checked", 0, head(frame(codec.OpBinary, true, "\xff\xfe and more"), 2), nil, nil},
		{"rune split across a fragment and a frame arriving", 0, cat(frame(codec.OpText, false, "\xf0\x9d"), frame(codec.OpContinuation, false, "\x84"), frame(codec.OpContinuation, true, "\x9e"+strings.Repeat("\xe2\x82\xac", 400))),
			[]string{"text:\U0001D11E" + strings.Repeat("€", 400)}, nil},
		{"long text of mixed runes", 0, frame(codec.OpText, true, mixed), []string{"text:" + mixed}, nil},
		{"long text with a bad byte near the end", 0, frame(codec.OpText, true, mixed[:len(mixed)-1]+"\xff"), nil, codec.ErrInvalidUTF8},
		{"too big fragments", 10, cat(frame(codec.OpText, false, "012345"), frame(codec.OpContinuation, true, "678901")), nil, codec.ErrTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole input at once, then byte by byte: same result.
			for _, step := range []int{len(tt.input), 1, 7} {
				d := &codec.Decoder{MaxMessageSize: int32(tt.max)}
				got, err := decodeChunked(d, tt.input, step)
				if !errors.Is(err, tt.err) {
					t.Fatalf("step %d: err = %v, want %v", step, err, tt.err)
				}
				if tt.err == nil && strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Fatalf("step %d: got %q, want %q", step, got, tt.want)
				}
			}
		})
	}
}

// decodeChunked feeds input step bytes at a time, keeping unconsumed bytes
// as an event loop's inbound buffer would.
func decodeChunked(d *codec.Decoder, input []byte, step int) ([]string, error) {
	var out []string
	var buf []byte
	for i := 0; i < len(input); i += step {
		buf = append(buf, input[i:min(i+step, len(input))]...)
		for {
			m, n, err := d.Decode(buf)
			if err != nil {
				return out, err
			}
			if m.Kind != codec.KindNone {
				out = append(out, render(m))
			}
			buf = buf[n:]
			if n == 0 || m.Kind == codec.KindNone {
				break
			}
		}
	}
	return out, nil
}

func TestTooBigIsDetectedFromTheHeader(t *testing.T) {
	d := &codec.Decoder{MaxMessageSize: 1024}
	f := frame(codec.OpBinary, true, strings.Repeat("x", 5000))
	// Only the header has arrived: the limit must trip before the payload is buffered.
	if _, _, err := d.Decode(f[:8]); !errors.Is(err, codec.ErrTooBig) {
		t.Fatalf("err = %v", err)
	}
}

func TestCompileAndParseHeader(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		f := codec.Compile(codec.OpBinary, make([]byte, n))
		if len(f) != codec.FrameSize(n) {
			t.Fatalf("n=%d: size %d, want %d", n, len(f), codec.FrameSize(n))
		}
		h, hn, err := codec.ParseHeader(f)
		if err != nil || !h.Fin || h.Op != codec.OpBinary || h.Masked || h.Length != int64(n) || hn+n != len(f) {
			t.Fatalf("n=%d: header %+v %d %v", n, h, hn, err)
		}
	}
	if _, _, err := codec.ParseHeader([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}); !errors.Is(err, codec.ErrLength) {
		t.Fatalf("64-bit length with MSB: %v", err)
	}
}

func TestCloseBody(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	b := codec.CloseBody(codec.CloseNormal, long)
	if len(b) > 125 {
		t.Fatalf("close body %d bytes", len(b))
	}
	code, reason, err := codec.ParseCloseBody(b)
	if err != nil || code != codec.CloseNormal || !strings.HasPrefix(long, reason) {
		t.Fatalf("round trip: %v %q %v", code, reason, err)
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{16, 512, 16 << 10} {
		f := frame(codec.OpText, true, strings.Repeat("a", size))
		b.Run("size="+itoa(size), func(b *testing.B) {
			var d codec.Decoder
			buf := make([]byte, len(f))
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(buf, f)
				if _, _, err := d.Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeArriving decodes a text frame that arrives in pieces, as
// an event loop sees a large message: every piece is checked as it comes,
// then the whole frame is unmasked and delivered.
func BenchmarkDecodeArriving(b *testing.B) {
	for _, tc := range []struct{ size, piece int }{{16 << 10, 1460}, {1 << 20, 64 << 10}} {
		f := frame(codec.OpText, true, strings.Repeat("a", tc.size))
		b.Run("size="+itoa(tc.size)+"/piece="+itoa(tc.piece), func(b *testing.B) {
			d := codec.Decoder{MaxMessageSize: 1 << 21}
			buf := make([]byte, len(f))
			b.ReportAllocs()
			b.SetBytes(int64(tc.size))
			for b.Loop() {
				copy(buf, f)
				for end := tc.piece; ; end += tc.piece {
					m, _, err := d.Decode(buf[:min(end, len(buf))])
					if err != nil {
						b.Fatal(err)
					}
					if m.Kind == codec.KindText {
						break
					}
				}
			}
		})
	}
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}

// TestDecoderRelease: Release drops a message in progress and its buffer
// and keeps the configuration; a Decoder is 16 bytes, since every
// connection has one.
func TestDecoderRelease(t *testing.T) {
	d := &codec.Decoder{MaxMessageSize: 100, Deflate: true}
	if m, _, err := d.Decode(frame(codec.OpText, false, "part")); err != nil || m.Kind != codec.KindNone {
		t.Fatalf("first fragment: %v %v", m.Kind, err)
	}
	if d.Buffered() == 0 {
		t.Fatal("no reassembly buffer after a fragment")
	}
	d.Release()
	if d.Buffered() != 0 || d.MaxMessageSize != 100 || !d.Deflate {
		t.Fatalf("after Release: buffered %d, %+v", d.Buffered(), d)
	}
	if _, _, err := d.Decode(frame(codec.OpContinuation, true, "rest")); !errors.Is(err, codec.ErrNoContinuation) {
		t.Fatalf("continuation after Release: %v, want ErrNoContinuation", err)
	}
	if n := unsafe.Sizeof(codec.Decoder{}); n != 16 {
		t.Fatalf("Decoder is %d bytes, want 16", n)
	}
}
