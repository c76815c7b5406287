package engine_test

import (
	"bufio"
	"context"
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

// runIdleClients answers "open N" by opening N more connections, with "ok"
// once done.
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
	b.Cleanup(c.stop)
	return c
}

// stop ends the child process and with it its connections.
func (c *idleClients) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.in.Close()
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
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

// BenchmarkIdleConn opens conns connections on a fresh server, where they
// then stay idle, as ripple-bench's idle scenario does (route=echo:
// /ws/echo, no extra headers), or as a room's members do (route=room: one
// path of a route with a param, each connection joined to the room); an
// op is one server and its batch. live-B/conn is what the
// server holds per open connection (its live heap after a collection,
// gnet's share and the growth of its tables included), alloc-B/conn and
// allocs/conn what opening one allocated, garbage included.
func BenchmarkIdleConn(b *testing.B) {
	const conns = 5000
	echo := func(ev *engine.Event) engine.Reply {
		if ev.Type == engine.Message {
			return engine.Reply{Send: ev.Message, Binary: ev.Binary}
		}
		return engine.Reply{}
	}
	room := func(ev *engine.Event) engine.Reply {
		if ev.Type == engine.Connect {
			return engine.Reply{Join: []string{"room:" + ev.Params.Get("id")}}
		}
		return engine.Reply{}
	}
	for _, tc := range []struct {
		name, pattern, path string
		handler             engine.Handler
	}{
		{"echo", "/ws/echo", "/ws/echo", echo},
		// Every connection on one path with a param, a member of its room.
		{"room", "/ws/room/:id", "/ws/room/bench", room},
	} {
		b.Run(fmt.Sprintf("route=%s/conns=%d", tc.name, conns), func(b *testing.B) {
			benchIdleConn(b, conns, engine.Route{Pattern: tc.pattern, Handler: tc.handler}, tc.path)
		})
	}
}

func benchIdleConn(b *testing.B, conns int, rt engine.Route, path string) {
	var live, allocs, bytes uint64
	b.ReportAllocs()
	b.StopTimer()
	for range b.N {
		srv := engine.New(engine.Config{Loops: 1})
		if err := srv.Handle(rt); err != nil {
			b.Fatal(err)
		}
		if err := srv.Start("127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		clients := startIdleClients(b, srv.Addr().String(), path)
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
		clients.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := srv.Shutdown(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N * conns)
	b.ReportMetric(float64(live)/n, "live-B/conn")
	b.ReportMetric(float64(bytes)/n, "alloc-B/conn")
	b.ReportMetric(float64(allocs)/n, "allocs/conn")
}
