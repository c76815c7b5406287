package engine_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// The clients of BenchmarkIdleConn live in a child process (this test binary
// again), so that their memory is not the server's.
const idleClientsEnv = "RIPPLE_BENCH_IDLE_CLIENTS" // "addr path"

// runIdleClients answers "open N" by opening N more connections and "close"
// by closing all of them, with "ok" once done.
func runIdleClients(spec string) int {
	addr, path, _ := strings.Cut(spec, " ")
	var conns []*wstest.Raw
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "open":
			n, _ := strconv.Atoi(arg)
			for i := range n {
				c, err := wstest.Upgrade(addr, path)
				if err != nil {
					fmt.Fprintln(os.Stderr, "idle client", i, err)
					return 1
				}
				conns = append(conns, c)
			}
		case "close":
			for _, c := range conns {
				c.Close()
			}
			conns = nil
		}
		fmt.Println("ok")
	}
	return 0
}

type idleClients struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startIdleClients(b *testing.B, addr, path string) *idleClients {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s", idleClientsEnv, addr, path))
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &idleClients{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	b.Cleanup(func() {
		c.in.Close()
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	return c
}

func (c *idleClients) do(b *testing.B, cmd string) {
	fmt.Fprintln(c.in, cmd)
	if !c.out.Scan() || c.out.Text() != "ok" {
		b.Fatalf("idle clients: %s: %q", cmd, c.out.Text())
	}
}

// heapLive is the live heap after a full collection.
func heapLive() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

// BenchmarkIdleConn opens conns connections that then stay idle, as
// ripple-bench's idle scenario does (/ws/echo, no extra headers), and
// closes them again; an op is one batch. live-B/conn is what the server
// holds per open connection (its live heap after a collection, gnet's
// share included), alloc-B/conn and allocs/conn what opening one
// allocated, garbage included.
func BenchmarkIdleConn(b *testing.B) {
	const conns = 5000
	b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
		srv := wstest.StartEngine(b, engine.Config{Loops: 1}, engine.Route{Pattern: "/ws/echo", Handler: func(ev *engine.Event) engine.Reply {
			if ev.Type == engine.Message {
				return engine.Reply{Send: ev.Message, Binary: ev.Binary}
			}
			return engine.Reply{}
		}})
		clients := startIdleClients(b, srv.Addr, "/ws/echo")
		var live, allocs, bytes uint64
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			before := heapLive()
			b.StartTimer()
			clients.do(b, "open "+strconv.Itoa(conns))
			for srv.LocalCount() < conns {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			after := heapLive()
			live += after.HeapAlloc - before.HeapAlloc
			allocs += after.Mallocs - before.Mallocs
			bytes += after.TotalAlloc - before.TotalAlloc
			clients.do(b, "close")
			for srv.LocalCount() > 0 {
				time.Sleep(time.Millisecond)
			}
			b.StartTimer()
		}
		n := float64(b.N * conns)
		b.ReportMetric(float64(live)/n, "live-B/conn")
		b.ReportMetric(float64(bytes)/n, "alloc-B/conn")
		b.ReportMetric(float64(allocs)/n, "allocs/conn")
	})
}
