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

// ErrInflate is returned for a compressed message that does not decompress.
var ErrInflate = &CloseError{CloseInvalidPayload, "invalid compressed data"}

// deflateTail is what a sender strips from the end of each compressed
// message (RFC 7692 section 7.2.1) and a receiver appends back.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// negotiateDeflate accepts a permessage-deflate offer the server can honour
// and returns the response option: both sides without context takeover.
// Offers that limit the server's window below 15 bits are declined
// (compress/flate always uses a 32 KiB window).
func negotiateDeflate(opt httphead.Option) (httphead.Option, bool) {
	if !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
		return httphead.Option{}, false
	}
	var p wsflate.Parameters
	if err := p.Parse(opt); err != nil {
		return httphead.Option{}, false
	}
	if p.ServerMaxWindowBits.Defined() && p.ServerMaxWindowBits != 15 {
		return httphead.Option{}, false
	}
	if p.ClientMaxWindowBits > 1 && p.ClientMaxWindowBits < 8 {
		return httphead.Option{}, false
	}
	return wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}.Option(), true
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

// Deflate appends the compression of payload to dst, as one
// permessage-deflate message (sync-flushed, tail stripped).
func Deflate(dst, payload []byte) []byte {
	buf := bytes.NewBuffer(dst)
	w := deflaters.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(payload)
	_ = w.Flush()
	deflaters.Put(w)
	out := buf.Bytes()
	return bytes.TrimSuffix(out, deflateTail)
}

// CompileDeflated returns a whole final frame carrying payload compressed,
// with RSV1 set.
func CompileDeflated(op OpCode, payload []byte) []byte {
	z := Deflate(nil, payload)
	return AppendFrame(make([]byte, 0, FrameSize(len(z))), op, true, true, z)
}
