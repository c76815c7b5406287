//go:build linux

package loadgen

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/wsproto"
)

// Sentinel errors.
var (
	ErrTimeout      = errors.New("loadgen: handshake timeout")
	ErrServerEOF    = errors.New("loadgen: server closed the connection without a close frame")
	ErrStopped      = errors.New("loadgen: loop stopped")
	ErrLocalClose   = errors.New("loadgen: closed locally")
	ErrLimitReached = errors.New("loadgen: system limit reached")
)

// DialError reports a connection that never opened.
type DialError struct {
	Stage string // "socket", "bind", "connect", "handshake", "session" (an Opener's opening)
	Err   error
}

func (e *DialError) Error() string { return "loadgen: " + e.Stage + ": " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// CloseError reports an open connection that the server closed with a close
// frame.
type CloseError struct {
	Code   uint16
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("loadgen: server closed with %d %q", e.Code, e.Reason)
}

// Reason returns a short, stable label for err, used to group failures.
func Reason(err error) string {
	var de *DialError
	var ce *CloseError
	var se *wsproto.StatusError
	var errno unix.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se):
		return fmt.Sprintf("http %d", se.Code)
	case errors.As(err, &ce):
		return fmt.Sprintf("close %d", ce.Code)
	case errors.Is(err, ErrTimeout):
		return "handshake timeout"
	case errors.Is(err, ErrServerEOF):
		return "server eof"
	case errors.As(err, &errno):
		stage := ""
		if errors.As(err, &de) {
			stage = de.Stage + " "
		}
		return stage + strings.ToLower(errnoName(errno))
	case errors.As(err, &de):
		return de.Stage + ": " + de.Err.Error()
	}
	return err.Error()
}

func errnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return e.Error()
}

// LimitHint explains how to lift the system limit behind err, or returns "" when
// err is not a limit.
func LimitHint(err error) string {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return ""
	}
	switch errno {
	case unix.EMFILE:
		return "the process ran out of file descriptors (EMFILE): raise `ulimit -n` (hard limit; " +
			"fs.nr_open caps it), or spread connections over more processes with -procs"
	case unix.ENFILE:
		return "the system ran out of file descriptors (ENFILE): raise `sysctl -w fs.file-max=...`"
	case unix.EADDRNOTAVAIL:
		return "no free local port for a source address (EADDRNOTAVAIL): use more source addresses " +
			"(-sources), widen `sysctl net.ipv4.ip_local_port_range`, or wait for TIME_WAIT sockets to expire"
	case unix.ENOBUFS, unix.ENOMEM:
		return "the kernel ran out of socket memory (" + errnoName(errno) + "): raise " +
			"net.ipv4.tcp_mem / net.core.rmem_max / wmem_max, or add RAM"
	}
	return ""
}
