//go:build linux

package loadgen

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/wsproto"
)

func TestReasonAndHint(t *testing.T) {
	cases := []struct {
		err    error
		reason string
		hint   string // substring; "" means no hint
	}{
		{&DialError{Stage: "socket", Err: unix.EMFILE}, "socket emfile", "ulimit -n"},
		{&DialError{Stage: "connect", Err: unix.EADDRNOTAVAIL}, "connect eaddrnotavail", "-sources"},
		{&DialError{Stage: "socket", Err: unix.ENFILE}, "socket enfile", "fs.file-max"},
		{&DialError{Stage: "connect", Err: unix.ENOBUFS}, "connect enobufs", "tcp_mem"},
		{&DialError{Stage: "connect", Err: unix.ECONNREFUSED}, "connect econnrefused", ""},
		{&DialError{Stage: "handshake", Err: &wsproto.StatusError{Code: 503}}, "http 503", ""},
		{&DialError{Stage: "handshake", Err: ErrTimeout}, "handshake timeout", ""},
		{&CloseError{Code: 1008, Reason: "slow consumer"}, "close 1008", ""},
		{ErrServerEOF, "server eof", ""},
		{fmt.Errorf("wrapped: %w", unix.ECONNRESET), "econnreset", ""},
		{errors.New("other"), "other", ""},
	}
	for _, tc := range cases {
		if got := Reason(tc.err); got != tc.reason {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.reason)
		}
		hint := LimitHint(tc.err)
		if (tc.hint == "") != (hint == "") || !strings.Contains(hint, tc.hint) {
			t.Errorf("LimitHint(%v) = %q, want it to mention %q", tc.err, hint, tc.hint)
		}
	}
}
