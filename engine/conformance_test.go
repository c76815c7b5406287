package engine_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// This file checks RFC 6455 server behaviour byte by byte on /ws/echo, with
// a raw client that can send what no client library would. The cases follow
// the Autobahn TestSuite's groups 1–7 and 9 (at sizes that fit the default
// 64 KiB message limit), so CI covers them without the suite.

// expect is one thing the server must send back, in order.
type expect struct {
	op      codec.OpCode    // OpText or OpBinary (echo), OpPong or OpClose
	payload string          // echo and pong payload
	code    codec.CloseCode // OpClose only; CloseNoStatus means an empty body
}

func echoText(s string) expect   { return expect{op: codec.OpText, payload: s} }
func echoBinary(s string) expect { return expect{op: codec.OpBinary, payload: s} }
func pong(s string) expect       { return expect{op: codec.OpPong, payload: s} }
func closed(c codec.CloseCode) expect {
	return expect{op: codec.OpClose, code: c}
}

// rfcCase is one conversation after the upgrade: the bytes sent, how they
// are cut into writes, and what must come back. When want ends with a close
// the server must also close the TCP connection; otherwise the connection
// must still be healthy, which the test proves with a final close handshake.
type rfcCase struct {
	name string
	send []byte
	chop int // write send in pieces of chop bytes; 0 = one write
	want []expect
}

// rfcCases is the protocol table. Names start with the Autobahn case group
// they mirror.
func rfcCases() []rfcCase {
	var cs []rfcCase
	add := func(c ...rfcCase) { cs = append(cs, c...) }

	// 1: framing — text and binary at the length-encoding boundaries; 65,536
	// bytes needs the 64-bit length form.
	for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		add(rfcCase{name: fmt.Sprintf("1.1/text len=%d", n), send: wstest.Text(wstest.Stars(n)), want: []expect{echoText(wstest.Stars(n))}})
		add(rfcCase{name: fmt.Sprintf("1.2/binary len=%d", n), send: wstest.Binary(wstest.Pattern(n)), want: []expect{echoBinary(wstest.Pattern(n))}})
	}
	add(
		rfcCase{name: "1.1.8/text 65536 chopped 997", send: wstest.Text(wstest.Stars(65536)), chop: 997, want: []expect{echoText(wstest.Stars(65536))}},
		rfcCase{name: "1.2.8/binary 65536 chopped 997", send: wstest.Binary(wstest.Pattern(65536)), chop: 997, want: []expect{echoBinary(wstest.Pattern(65536))}},
		rfcCase{name: "1.x/64-bit length with the top bit set", send: []byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4},
			want: []expect{closed(codec.CloseProtocolError)}},
	)

	// 2: pings and pongs.
	ten := bytes.Repeat(wstest.Ping("payload"), 10)
	var tenPongs []expect
	for range 10 {
		tenPongs = append(tenPongs, pong("payload"))
	}
	add(
		rfcCase{name: "2.1/ping empty", send: wstest.Ping(""), want: []expect{pong("")}},
		rfcCase{name: "2.2/ping text payload", send: wstest.Ping("Hello, world!"), want: []expect{pong("Hello, world!")}},
		rfcCase{name: "2.3/ping binary payload", send: wstest.Ping("\x00\xff\xfe\xfd\xfc\xfb\x00\xff"), want: []expect{pong("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")}},
		rfcCase{name: "2.4/ping 125 bytes", send: wstest.Ping(wstest.Stars(125)), want: []expect{pong(wstest.Stars(125))}},
		rfcCase{name: "2.5/ping 126 bytes", send: wstest.Ping(wstest.Stars(126)), want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "2.6/ping 125 bytes chopped 1", send: wstest.Ping(wstest.Stars(125)), chop: 1, want: []expect{pong(wstest.Stars(125))}},
		rfcCase{name: "2.7/unsolicited pong empty", send: wstest.Pong(""), want: nil},
		rfcCase{name: "2.8/unsolicited pong with payload", send: wstest.Pong("unsolicited"), want: nil},
		rfcCase{name: "2.9/unsolicited pong then ping", send: wstest.Cat(wstest.Pong("unsolicited"), wstest.Ping("solicited")), want: []expect{pong("solicited")}},
		rfcCase{name: "2.10/ten pings", send: ten, want: tenPongs},
		rfcCase{name: "2.11/ten pings chopped 1", send: ten, chop: 1, want: tenPongs},
	)

	// 3: reserved bits, with no extension negotiated.
	add(
		rfcCase{name: "3.1/text RSV3", send: wstest.WithRSV(wstest.Text("Hello"), 1), want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "3.2/echo then text RSV2 then ping", send: wstest.Cat(wstest.Text("Hello"), wstest.WithRSV(wstest.Text("Hello"), 2), wstest.Ping("")),
			want: []expect{echoText("Hello"), closed(codec.CloseProtocolError)}},
		rfcCase{name: "3.3/echo then text RSV2|RSV3 then ping chopped", send: wstest.Cat(wstest.Text("Hello"), wstest.WithRSV(wstest.Text("Hello"), 3), wstest.Ping("")), chop: 1,
			want: []expect{echoText("Hello"), closed(codec.CloseProtocolError)}},
		rfcCase{name: "3.4/text RSV1 without permessage-deflate", send: wstest.Cat(wstest.Text("Hello"), wstest.WithRSV(wstest.Text("Hello"), 4), wstest.Ping("")), chop: 1,
			want: []expect{echoText("Hello"), closed(codec.CloseProtocolError)}},
		rfcCase{name: "3.5/binary RSV1|RSV3", send: wstest.WithRSV(wstest.Binary("\xff\xfe"), 5), want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "3.6/ping RSV1|RSV2", send: wstest.WithRSV(wstest.Ping("Hello"), 6), want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "3.7/close RSV all", send: wstest.WithRSV(wstest.CloseFrame(1000, ""), 7), want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "3.x/continuation RSV1", send: wstest.Cat(wstest.Part(codec.OpText, false, "a"), wstest.WithRSV(wstest.Part(codec.OpContinuation, true, "b"), 4)),
			want: []expect{closed(codec.CloseProtocolError)}},
	)

	// 4: reserved opcodes, alone and after a valid exchange.
	for _, op := range []codec.OpCode{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		add(
			rfcCase{name: fmt.Sprintf("4.x/opcode %#x", byte(op)), send: wstest.Part(op, true, ""), want: []expect{closed(codec.CloseProtocolError)}},
			rfcCase{name: fmt.Sprintf("4.x/echo then opcode %#x with payload then ping", byte(op)),
				send: wstest.Cat(wstest.Text("Hello"), wstest.Part(op, true, "reserved"), wstest.Ping("")),
				want: []expect{echoText("Hello"), closed(codec.CloseProtocolError)}},
		)
	}

	// 5: fragmentation.
	add(
		rfcCase{name: "5.1/fragmented ping", send: wstest.Cat(wstest.Part(codec.OpPing, false, "frag1"), wstest.Part(codec.OpContinuation, true, "frag2")),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.2/fragmented pong", send: wstest.Cat(wstest.Part(codec.OpPong, false, "frag1"), wstest.Part(codec.OpContinuation, true, "frag2")),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.3/text in 2 fragments", send: wstest.Fragments(codec.OpText, "fragment1fragment2", 9), want: []expect{echoText("fragment1fragment2")}},
		rfcCase{name: "5.4/text in 2 fragments chopped 1", send: wstest.Fragments(codec.OpText, "fragment1fragment2", 9), chop: 1,
			want: []expect{echoText("fragment1fragment2")}},
		rfcCase{name: "5.6/ping between fragments",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "fragment1"), wstest.Ping("ping payload"), wstest.Part(codec.OpContinuation, true, "fragment2")),
			want: []expect{pong("ping payload"), echoText("fragment1fragment2")}},
		rfcCase{name: "5.8/ping between fragments chopped 1",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "fragment1"), wstest.Ping("ping payload"), wstest.Part(codec.OpContinuation, true, "fragment2")), chop: 1,
			want: []expect{pong("ping payload"), echoText("fragment1fragment2")}},
		rfcCase{name: "5.x/pong and ping between binary fragments",
			send: wstest.Cat(wstest.Part(codec.OpBinary, false, "\x00"), wstest.Pong("x"), wstest.Part(codec.OpContinuation, false, ""), wstest.Ping("y"), wstest.Part(codec.OpContinuation, true, "\xff")),
			want: []expect{pong("y"), echoBinary("\x00\xff")}},
		rfcCase{name: "5.9/continuation FIN without a start", send: wstest.Cat(wstest.Part(codec.OpContinuation, true, "non-continuation payload"), wstest.Text("Hello")),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.11/continuation FIN without a start chopped 1", send: wstest.Cat(wstest.Part(codec.OpContinuation, true, "non-continuation payload"), wstest.Text("Hello")), chop: 1,
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.12/continuation without FIN without a start", send: wstest.Cat(wstest.Part(codec.OpContinuation, false, "non-continuation payload"), wstest.Text("Hello")),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.15/fragment after a finished fragmented message",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "fragment1"), wstest.Part(codec.OpContinuation, true, "fragment2"),
				wstest.Part(codec.OpContinuation, false, "fragment3"), wstest.Part(codec.OpText, true, "fragment4")),
			want: []expect{echoText("fragment1fragment2"), closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.17/continuations then text", send: wstest.Cat(wstest.Part(codec.OpContinuation, true, "a"), wstest.Part(codec.OpContinuation, true, "b"), wstest.Text("c")),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.18/text frame inside a fragmented text message",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "fragment1"), wstest.Part(codec.OpText, true, "fragment2")),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.x/binary frame inside a fragmented text message",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "fragment1"), wstest.Binary("x")),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.19/five fragments with pings between",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "fragment1"), wstest.Part(codec.OpContinuation, false, "fragment2"), wstest.Ping("pongme 1!"),
				wstest.Part(codec.OpContinuation, false, "fragment3"), wstest.Ping("pongme 2!"), wstest.Part(codec.OpContinuation, false, "fragment4"),
				wstest.Part(codec.OpContinuation, true, "fragment5")),
			want: []expect{pong("pongme 1!"), pong("pongme 2!"), echoText("fragment1fragment2fragment3fragment4fragment5")}},
		rfcCase{name: "5.20/five fragments with pings between chopped 3",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "fragment1"), wstest.Part(codec.OpContinuation, false, "fragment2"), wstest.Ping("pongme 1!"),
				wstest.Part(codec.OpContinuation, false, "fragment3"), wstest.Ping("pongme 2!"), wstest.Part(codec.OpContinuation, false, "fragment4"),
				wstest.Part(codec.OpContinuation, true, "fragment5")), chop: 3,
			want: []expect{pong("pongme 1!"), pong("pongme 2!"), echoText("fragment1fragment2fragment3fragment4fragment5")}},
		rfcCase{name: "5.x/fragmented control frame: close", send: wstest.Cat(wstest.Part(codec.OpClose, false, "\x03\xe8"), wstest.Part(codec.OpContinuation, true, "")),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.x/control frame over 125 bytes: close", send: wstest.CloseFrame(1000, wstest.Stars(124)),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "5.x/control frame over 125 bytes: pong", send: wstest.Pong(wstest.Stars(126)),
			want: []expect{closed(codec.CloseProtocolError)}},
	)

	// 6: UTF-8 in text messages, whole, fragmented at every byte, and with
	// zero-length fragments.
	add(
		rfcCase{name: "6.1.1/empty text", send: wstest.Text(""), want: []expect{echoText("")}},
		rfcCase{name: "6.1.2/three empty fragments", send: wstest.Cat(wstest.Part(codec.OpText, false, ""), wstest.Part(codec.OpContinuation, false, ""), wstest.Part(codec.OpContinuation, true, "")),
			want: []expect{echoText("")}},
		rfcCase{name: "6.1.3/empty fragments around a payload", send: wstest.Cat(wstest.Part(codec.OpText, false, ""), wstest.Part(codec.OpContinuation, false, "middle frame payload"), wstest.Part(codec.OpContinuation, true, "")),
			want: []expect{echoText("middle frame payload")}},
		rfcCase{name: "6.x/empty binary", send: wstest.Binary(""), want: []expect{echoBinary("")}},
	)
	valid := []string{
		"Hello-µ@ßöäüàá-UTF-8!!",
		"κόσμε",
		"\x00",             // U+0000
		"\xc2\x80",         // U+0080
		"\xe0\xa0\x80",     // U+0800
		"\xf0\x90\x80\x80", // U+10000
		"\x7f",             // U+007F
		"\xdf\xbf",         // U+07FF
		"\xef\xbf\xbf",     // U+FFFF (a noncharacter, still valid)
		"\xf4\x8f\xbf\xbf", // U+10FFFF
		"\xed\x9f\xbf",     // U+D7FF
		"\xee\x80\x80",     // U+E000
		"\xef\xbf\xbd",     // U+FFFD
	}
	for i, s := range valid {
		add(
			rfcCase{name: fmt.Sprintf("6.valid.%d/whole", i), send: wstest.Text(s), want: []expect{echoText(s)}},
			rfcCase{name: fmt.Sprintf("6.valid.%d/one byte per fragment", i), send: wstest.Fragments(codec.OpText, s, 1), want: []expect{echoText(s)}},
		)
	}
	invalid := []string{
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", // "κόσμε" + surrogate + "edited"
		"\xf4\x90\x80\x80",     // above U+10FFFF
		"\xf8\x88\x80\x80\x80", // 5-byte form
		"\x80",                 // lone continuation byte
		"\xbf",
		"\xc0\xaf",         // overlong '/'
		"\xe0\x80\xaf",     // overlong '/'
		"\xf0\x80\x80\xaf", // overlong '/'
		"\xc1\xbf",         // overlong U+007F
		"\xed\xa0\x80",     // U+D800 surrogate
		"\xed\xbf\xbf",     // U+DFFF surrogate
		"\xfe",
		"\xff",
		"\xc0",                     // truncated
		"\xe0\x80",                 // truncated
		"\xce\xba\xe1\xbd",         // "κ" + truncated 3-byte
		"Hello\xc3(\xa9lo",         // bad continuation
		"\xed\xa0\x80\xed\xb0\x80", // surrogate pair encoded in UTF-8 (CESU-8)
	}
	for i, s := range invalid {
		add(
			rfcCase{name: fmt.Sprintf("6.invalid.%d/whole", i), send: wstest.Text(s), want: []expect{closed(codec.CloseInvalidPayload)}},
			rfcCase{name: fmt.Sprintf("6.invalid.%d/one byte per fragment", i), send: wstest.Fragments(codec.OpText, s, 1), want: []expect{closed(codec.CloseInvalidPayload)}},
			rfcCase{name: fmt.Sprintf("6.invalid.%d/echo first", i), send: wstest.Cat(wstest.Text("ok"), wstest.Text(s), wstest.Text("never echoed")),
				want: []expect{echoText("ok"), closed(codec.CloseInvalidPayload)}},
		)
	}
	// 6.4: fail fast — invalid bytes in a fragment are refused before the
	// message is finished, and in a frame before the frame is. The rest is
	// never sent here, so only an early check produces the close.
	add(
		rfcCase{name: "6.4.1/fail fast on a code point above U+10FFFF",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), wstest.Part(codec.OpContinuation, false, "\xf4\x90\x80\x80")),
			want: []expect{closed(codec.CloseInvalidPayload)}},
		rfcCase{name: "6.4.2/fail fast on a split surrogate",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4"), wstest.Part(codec.OpContinuation, false, "\x90")),
			want: []expect{closed(codec.CloseInvalidPayload)}},
		rfcCase{name: "6.4.x/fail fast on a bad first fragment", send: wstest.Part(codec.OpText, false, "ok\xff"),
			want: []expect{closed(codec.CloseInvalidPayload)}},
		// 6.4.3–4: the same inside one frame whose end never comes.
		rfcCase{name: "6.4.3/fail fast on a code point above U+10FFFF inside a frame",
			send: arriving("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited", 15),
			want: []expect{closed(codec.CloseInvalidPayload)}},
		rfcCase{name: "6.4.3/fail fast on a code point above U+10FFFF inside a frame chopped 1",
			send: arriving("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited", 15), chop: 1,
			want: []expect{closed(codec.CloseInvalidPayload)}},
		rfcCase{name: "6.4.4/fail fast on a split code point inside a frame",
			send: arriving("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited", 13),
			want: []expect{closed(codec.CloseInvalidPayload)}},
		rfcCase{name: "6.4.4/fail fast on a split code point inside a frame chopped 1",
			send: arriving("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited", 13), chop: 1,
			want: []expect{closed(codec.CloseInvalidPayload)}},
		rfcCase{name: "6.4.x/fail fast inside a fragment's frame after a split code point",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "\xf0\x9d"), wstest.Header(codec.OpContinuation, true, 10), []byte("\x84\x41")),
			want: []expect{closed(codec.CloseInvalidPayload)}},
		rfcCase{name: "6.x/binary is not checked", send: wstest.Binary("\xff\xfe\xed\xa0\x80"), want: []expect{echoBinary("\xff\xfe\xed\xa0\x80")}},
	)

	// 7: the closing handshake.
	add(
		rfcCase{name: "7.1.1/echo then close", send: wstest.Cat(wstest.Text("Hello World!"), wstest.CloseFrame(1000, "")),
			want: []expect{echoText("Hello World!"), closed(codec.CloseNormal)}},
		rfcCase{name: "7.1.2/close twice", send: wstest.Cat(wstest.CloseFrame(1000, ""), wstest.CloseFrame(1000, "")), want: []expect{closed(codec.CloseNormal)}},
		rfcCase{name: "7.1.3/ping after close", send: wstest.Cat(wstest.CloseFrame(1000, ""), wstest.Ping("Hello World!")), want: []expect{closed(codec.CloseNormal)}},
		rfcCase{name: "7.1.4/text after close", send: wstest.Cat(wstest.CloseFrame(1000, ""), wstest.Text("Hello World!")), want: []expect{closed(codec.CloseNormal)}},
		rfcCase{name: "7.1.5/close between fragments",
			send: wstest.Cat(wstest.Part(codec.OpText, false, "fragment1"), wstest.CloseFrame(1000, ""), wstest.Part(codec.OpContinuation, true, "fragment2")),
			want: []expect{closed(codec.CloseNormal)}},
		rfcCase{name: "7.3.1/close with empty body", send: wstest.Frame(codec.OpClose, true, nil), want: []expect{closed(codec.CloseNoStatus)}},
		rfcCase{name: "7.3.2/close with 1-byte body", send: wstest.Frame(codec.OpClose, true, []byte{0x03}), want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "7.3.3/close 1000", send: wstest.CloseFrame(1000, ""), want: []expect{closed(codec.CloseNormal)}},
		rfcCase{name: "7.3.4/close 1000 with reason", send: wstest.CloseFrame(1000, "Hello World!"), want: []expect{closed(codec.CloseNormal)}},
		rfcCase{name: "7.3.5/close 1000 with 123-byte reason", send: wstest.CloseFrame(1000, wstest.Stars(123)), want: []expect{closed(codec.CloseNormal)}},
		rfcCase{name: "7.3.6/close 1000 with 124-byte reason", send: wstest.CloseFrame(1000, wstest.Stars(124)), want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "7.5.1/close reason invalid UTF-8",
			send: wstest.CloseFrame(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"),
			want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "7.x/close chopped 1", send: wstest.CloseFrame(1001, "bye"), chop: 1, want: []expect{closed(codec.CloseGoingAway)}},
	)
	for _, c := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		add(rfcCase{name: fmt.Sprintf("7.7/valid close code %d is echoed", c), send: wstest.CloseFrame(c, "ok"), want: []expect{closed(codec.CloseCode(c))}})
	}
	for _, c := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		add(rfcCase{name: fmt.Sprintf("7.9/invalid close code %d", c), send: wstest.CloseFrame(c, ""), want: []expect{closed(codec.CloseProtocolError)}})
	}

	// 9 (small): the largest default message in one frame and in many
	// fragments, and many small messages in one write.
	big := wstest.Pattern(64 << 10)
	many, manyWant := []byte(nil), []expect(nil)
	for i := range 1000 {
		s := fmt.Sprintf("message %04d", i)
		many = append(many, wstest.Text(s)...)
		manyWant = append(manyWant, echoText(s))
	}
	add(
		rfcCase{name: "9.1/text 64 KiB", send: wstest.Text(wstest.Stars(64 << 10)), want: []expect{echoText(wstest.Stars(64 << 10))}},
		rfcCase{name: "9.2/binary 64 KiB", send: wstest.Binary(big), want: []expect{echoBinary(big)}},
		rfcCase{name: "9.3/text 64 KiB in 64-byte fragments", send: wstest.Fragments(codec.OpText, wstest.Stars(64<<10), 64), want: []expect{echoText(wstest.Stars(64 << 10))}},
		rfcCase{name: "9.4/binary 64 KiB in 1-byte fragments", send: wstest.Fragments(codec.OpBinary, big[:4096], 1), want: []expect{echoBinary(big[:4096])}},
		rfcCase{name: "9.7/1000 text messages in one write", send: many, want: manyWant},
		rfcCase{name: "9.x/1000 text messages chopped 7", send: many, chop: 7, want: manyWant},
	)

	// Masking.
	add(
		rfcCase{name: "mask/unmasked text", send: wstest.Unmasked(codec.OpText, "Hello"), want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "mask/unmasked ping", send: wstest.Unmasked(codec.OpPing, ""), want: []expect{closed(codec.CloseProtocolError)}},
		rfcCase{name: "mask/echo then unmasked close", send: wstest.Cat(wstest.Text("a"), wstest.Unmasked(codec.OpClose, "\x03\xe8")),
			want: []expect{echoText("a"), closed(codec.CloseProtocolError)}},
	)
	return cs
}

// arriving is the start of a text frame carrying text: its header and the
// first n bytes of its payload, the rest never sent.
func arriving(text string, n int) []byte {
	return append(wstest.Header(codec.OpText, true, uint64(len(text))), text[:n]...)
}

func TestRFC6455(t *testing.T) {
	s := startDemo(t, engine.Config{})
	for _, tc := range rfcCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runRFCCase(t, s, tc)
		})
	}
}

func runRFCCase(t *testing.T, s *wstest.Engine, tc rfcCase) {
	r := s.Upgrade(t, "/ws/echo")
	send := tc.send
	step := tc.chop
	if step <= 0 {
		step = len(send)
	}
	for len(send) > 0 {
		k := min(step, len(send))
		_ = r.SetWriteDeadline(time.Now().Add(wstest.Timeout))
		if _, err := r.Write(send[:k]); err != nil {
			break // the server may close before reading everything
		}
		send = send[k:]
	}
	want := tc.want
	healthy := len(want) == 0 || want[len(want)-1].op != codec.OpClose
	if healthy {
		// Prove the connection still works: a close handshake.
		if _, err := r.Write(wstest.CloseFrame(1000, "done")); err != nil {
			t.Fatal(err)
		}
		want = append(slices.Clone(want), closed(codec.CloseNormal))
	}
	for i, w := range want {
		h, p, err := r.ReadFrame(wstest.Timeout)
		if err != nil {
			t.Fatalf("frame %d: want %s, got error %v", i, w, err)
		}
		if !h.Fin || h.Masked || h.Rsv != 0 {
			t.Fatalf("frame %d: bad server header %+v", i, h)
		}
		if h.Op != w.op {
			t.Fatalf("frame %d: got %s %q, want %s", i, wstest.OpName(h.Op), wstest.Trunc(p), w)
		}
		if w.op == codec.OpClose {
			code, reason, err := codec.ParseCloseBody(p)
			if err != nil || code != w.code {
				t.Fatalf("close: got code %d reason %q (%v), want %d", code, reason, err, w.code)
			}
			continue
		}
		if string(p) != w.payload {
			t.Fatalf("frame %d: %s payload %q, want %q", i, wstest.OpName(h.Op), wstest.Trunc(p), wstest.Trunc([]byte(w.payload)))
		}
	}
	if err := r.ExpectEOF(wstest.Timeout); err != nil {
		t.Fatalf("server did not close the TCP connection after the close frame: %v", err)
	}
}

func (w expect) String() string {
	if w.op == codec.OpClose {
		return fmt.Sprintf("close %d", w.code)
	}
	return fmt.Sprintf("%s %q", wstest.OpName(w.op), wstest.Trunc([]byte(w.payload)))
}

// TestRFC6455ErrorsDoNotDisturbOthers checks that protocol errors on some
// connections cost the others nothing: every hostile case of the table runs
// while a well-behaved client keeps echoing on the same server.
func TestRFC6455ErrorsDoNotDisturbOthers(t *testing.T) {
	s := startDemo(t, engine.Config{})
	good := s.Upgrade(t, "/ws/echo")
	n := 0
	for _, tc := range rfcCases() {
		if w := tc.want; len(w) == 0 || w[len(w)-1].op != codec.OpClose || w[len(w)-1].code == codec.CloseNormal {
			continue
		}
		r := s.Upgrade(t, "/ws/echo")
		if _, err := r.Write(tc.send); err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("still here %d", n)
		if err := good.WriteFrame(codec.OpText, true, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, p, err := good.ReadFrame(wstest.Timeout); err != nil || string(p) != msg {
			t.Fatalf("after %s: good client got %q, %v", tc.name, p, err)
		}
		if _, _, err := r.ReadClose(wstest.Timeout); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		r.Close()
		n++
	}
	wstest.Eventually(t, "only the good client left", func() bool { return s.Count() == 1 })
	t.Logf("%d hostile connections closed, the good one echoed throughout", n)
}

// TestLargeEcho echoes messages much larger than the outbound queue cap
// (MaxOutbound, 1 MiB by default) to a client that reads them at once: a
// single large reply is not a slow consumer. Autobahn's cases 9.1.5–9.2.6
// send 8 and 16 MiB the same way.
func TestLargeEcho(t *testing.T) {
	s := startDemo(t, engine.Config{MaxMessageSize: 8 << 20})
	for _, tc := range []struct {
		name  string
		op    codec.OpCode
		size  int
		frags int
	}{
		{"text 1 MiB in 16 fragments", codec.OpText, 1 << 20, 16},
		// More than the kernel's socket buffer (4 MiB at most by default)
		// plus MaxOutbound, so the reply must queue in the server.
		{"binary 6 MiB", codec.OpBinary, 6 << 20, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Upgrade(t, "/ws/echo")
			payload := []byte(wstest.Stars(tc.size))
			go func() { // the server may answer before the last byte is sent
				_ = r.SetWriteDeadline(time.Now().Add(wstest.Timeout))
				_, _ = r.Write(wstest.Fragments(tc.op, string(payload), tc.size/tc.frags))
			}()
			h, p, err := r.ReadFrame(wstest.Timeout)
			if err != nil {
				t.Fatalf("no echo: %v", err)
			}
			if h.Op == codec.OpClose {
				code, reason, _ := codec.ParseCloseBody(p)
				t.Fatalf("closed %d %q instead of echoing %d bytes", code, reason, tc.size)
			}
			if h.Op != tc.op || !bytes.Equal(p, payload) {
				t.Fatalf("echo: %s of %d bytes", wstest.OpName(h.Op), len(p))
			}
			if _, err := r.Write(wstest.CloseFrame(1000, "")); err != nil {
				t.Fatal(err)
			}
			wstest.ExpectCloseThenEOF(t, r, codec.CloseNormal)
		})
	}
}
