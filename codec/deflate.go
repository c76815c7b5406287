package codec

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate (RFC 7692) without context takeover in either
// direction: every message is compressed on its own. That is what lets a
// broadcast be compressed once for all recipients, and it keeps no
// per-connection compression window (32 KiB each) in memory.
//
// A client may limit the window the server compresses with
// (server_max_window_bits below 15). compress/flate always refers up to
// 32 KiB back, so such a connection gets Huffman-only deflate: literals
// alone, no back-reference at all, valid for any window. It compresses
// less (English prose to about 64 % instead of 48 %, repetitive JSON to
// 55 % instead of 3 %) and more slowly (BenchmarkDeflate), and only those
// connections pay for it; every other one keeps the full compressor.

// DeflateFullWindow is the window, in bits, of the full compressor
// (32 KiB). A smaller agreed window gets Huffman-only deflate.
const DeflateFullWindow = 15

// ErrInflate is returned for a compressed message that does not decompress.
var ErrInflate = &CloseError{CloseInvalidPayload, "invalid compressed data"}

// deflateTail is what a sender strips from the end of each compressed
// message (RFC 7692 section 7.2.1) and a receiver appends back.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// negotiateDeflate accepts a permessage-deflate offer the server can honour
// and returns the response option: both sides without context takeover,
// and the server's window as the client limited it (window, 8–15; 0 when
// it did not).
func negotiateDeflate(opt httphead.Option) (resp httphead.Option, window uint8, ok bool) {
	if !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
		return httphead.Option{}, 0, false
	}
	var p wsflate.Parameters
	if err := p.Parse(opt); err != nil {
		return httphead.Option{}, 0, false
	}
	if p.ClientMaxWindowBits > 1 && p.ClientMaxWindowBits < 8 {
		return httphead.Option{}, 0, false
	}
	agreed := wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	if p.ServerMaxWindowBits.Defined() && p.ServerMaxWindowBits < DeflateFullWindow {
		// Accepted "with the same or smaller value" (RFC 7692 section
		// 7.1.2.1): the same.
		agreed.ServerMaxWindowBits = p.ServerMaxWindowBits
		window = uint8(p.ServerMaxWindowBits)
	}
	return agreed.Option(), window, true
}

var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// Inflate appends the decompression of one compressed message to dst. It
// stops with ErrTooBig as soon as the output would pass limit, so a small
// message that expands enormously costs at most limit bytes.
func Inflate(dst, src []byte, limit int) ([]byte, error) {
	r := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(r)
	in := io.MultiReader(bytes.NewReader(src), bytes.NewReader(deflateTail))
	if err := r.(flate.Resetter).Reset(in, nil); err != nil {
		return dst, ErrInflate
	}
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst[:start], ErrTooBig
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			// The tail ends with a sync flush, not a final block: running out
			// of input after it is the normal end of a message.
			return dst, nil
		default:
			return dst[:start], ErrInflate
		}
	}
}

var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

var huffmanDeflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.HuffmanOnly)
	return w
}}

// Deflate appends the compression of payload to dst, as one
// permessage-deflate message (sync-flushed, tail stripped), with the full
// 32 KiB window.
func Deflate(dst, payload []byte) []byte {
	return deflate(&deflaters, dst, payload)
}

// DeflateWindow is Deflate for a connection whose agreed server window is
// window bits (0 means DeflateFullWindow): below the full window the
// message is Huffman-only, with no back-reference.
func DeflateWindow(dst, payload []byte, window uint8) []byte {
	if window == 0 || window >= DeflateFullWindow {
		return deflate(&deflaters, dst, payload)
	}
	return deflate(&huffmanDeflaters, dst, payload)
}

func deflate(pool *sync.Pool, dst, payload []byte) []byte {
	buf := bytes.NewBuffer(dst)
	w := pool.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(payload)
	_ = w.Flush()
	pool.Put(w)
	out := buf.Bytes()
	return bytes.TrimSuffix(out, deflateTail)
}

// CompileDeflated returns a whole final frame carrying payload compressed,
// with RSV1 set.
func CompileDeflated(op OpCode, payload []byte) []byte {
	return CompileDeflatedWindow(op, payload, 0)
}

// CompileDeflatedWindow is CompileDeflated for an agreed server window of
// window bits (see DeflateWindow).
func CompileDeflatedWindow(op OpCode, payload []byte, window uint8) []byte {
	z := DeflateWindow(nil, payload, window)
	return AppendFrame(make([]byte, 0, FrameSize(len(z))), op, true, true, z)
}
