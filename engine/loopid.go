package engine

import (
	"bytes"
	"runtime"
	"strconv"
)

// goid returns the calling goroutine's id, read from the header of its
// stack trace ("goroutine 42 [running]:"). It costs a few microseconds, so
// it is only used by helpers that might wait for another server.
func goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return -1
	}
	return id
}

// onLoop reports whether the caller runs on one of the engine's event
// loops, where nothing may wait for another server.
func (e *Engine) onLoop() bool {
	g := goid()
	for _, sh := range e.shards {
		if sh.gid.Load() == g {
			return true
		}
	}
	return false
}
