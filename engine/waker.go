package engine

import (
	"context"
	"net"
	"os"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// waker brings a loop back once it has polled its sockets again. It is a
// socket pair: gnet watches one end like any connection, the shard writes a
// byte to the other. The byte makes the watched end readable after the
// round's ready sockets were taken from epoll, so its OnTraffic runs in the
// next poll round, behind the sockets that were ready before it.
//
// gnet's own task queue cannot do this: a task posted from a running task
// runs in the same round, before any socket is read again.
type waker struct {
	// Immutable after construction.
	sh *shard
	fd int // the end the shard writes to; closed with the watched end
}

// enrollWaker gives sh a waker on lp. It returns at once; the waker is the
// shard's from its OnOpen on. Until then, and if it cannot be had, resumes
// are posted from a goroutine instead (wakeNextRound).
func (sh *shard) enrollWaker(lp gnet.EventLoop) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		sh.e.log.Warn("no waker for an event loop", "loop", sh.idx, "err", err)
		return
	}
	f := os.NewFile(uintptr(fds[0]), "ripple-waker")
	nc, err := net.FileConn(f) // a duplicate of fds[0]
	_ = f.Close()
	if err == nil {
		// gnet takes a duplicate of nc's descriptor and closes nc.
		_, err = lp.Enroll(gnet.NewContext(context.Background(), &waker{sh: sh, fd: fds[1]}), nc)
	}
	if err != nil {
		_ = unix.Close(fds[1])
		sh.e.log.Warn("no waker for an event loop", "loop", sh.idx, "err", err)
	}
}

// wakeNextRound has resume run in the loop's next poll round. Loop only;
// called at most once per resume.
func (sh *shard) wakeNextRound() {
	if w := sh.waker; w != nil {
		if _, err := unix.Write(w.fd, []byte{1}); err == nil {
			return
		}
	}
	// No waker (yet): a task posted from another goroutine also runs after
	// the loop's current round, though maybe not the very next one.
	go sh.post(sh.resume)
}

// onOpen adopts the waker for its shard. On the loop.
func (w *waker) onOpen() { w.sh.waker = w }

// onTraffic swallows the wake-up byte and resumes the shard's writes. On
// the loop.
func (w *waker) onTraffic(gc gnet.Conn) {
	_, _ = gc.Discard(gc.InboundBuffered())
	if w.sh.resuming {
		w.sh.resume()
	}
}

// onClose runs when the engine stops: the shard falls back to goroutines
// and the written end is closed. On the loop.
func (w *waker) onClose() {
	if w.sh.waker == w {
		w.sh.waker = nil
	}
	_ = unix.Close(w.fd)
}
