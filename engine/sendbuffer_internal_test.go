package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSendBuffer reads SO_SNDBUF of an accepted connection: SendBuffer as
// Linux reports it (doubled), the default for zero, and the kernel's own
// size for a negative SendBuffer (on loopback about 3.9 MB at once).
func TestSendBuffer(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  int
		want int // SO_SNDBUF reported; 0 for "not 2*DefaultSendBuffer"
	}{
		{"default", 0, 2 * DefaultSendBuffer},
		{"32KiB", 32 << 10, 64 << 10},
		{"kernel", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{Loops: 1, SendBuffer: tc.set})
			if err := e.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = e.Shutdown(ctx)
			}()
			c, err := net.Dial("tcp", e.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sh := e.shards[0]
			got := make(chan int, 1)
			for deadline := time.Now().Add(10 * time.Second); ; {
				// The shard has a loop once its first connection is open.
				v := -1
				if sh.post(func() {
					if len(sh.conns) == 0 {
						got <- -1
						return
					}
					n, err := unix.GetsockoptInt(sh.conns[0].gc.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF)
					if err != nil {
						n = -2
					}
					got <- n
				}) {
					v = <-got
				}
				if v == -1 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond) // not accepted yet
					continue
				}
				switch {
				case v < 0:
					t.Fatalf("no connection or no SO_SNDBUF (%d)", v)
				case tc.want != 0 && v != tc.want:
					t.Fatalf("SO_SNDBUF %d, want %d", v, tc.want)
				case tc.want == 0 && v == 2*DefaultSendBuffer:
					t.Fatalf("SO_SNDBUF %d: set although SendBuffer is negative", v)
				}
				t.Logf("SO_SNDBUF %d", v)
				return
			}
		})
	}
}
