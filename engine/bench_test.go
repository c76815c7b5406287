package engine_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/codec"
	"github.com/ripple-rt/ripple/engine"
	"github.com/ripple-rt/ripple/internal/wstest"
)

// The subscribers of BenchmarkBroadcastRoom live in a child process (this
// test binary again), so that 10,000 of them fit under a 20,000 open-file
// limit next to the server's 10,000 sockets.
const subscriberEnv = "RIPPLE_BENCH_SUBSCRIBERS" // "addr path n [topic]"

func TestMain(m *testing.M) {
	if spec := os.Getenv(subscriberEnv); spec != "" {
		os.Exit(runSubscribers(spec))
	}
	if spec := os.Getenv(idleClientsEnv); spec != "" {
		os.Exit(runIdleClients(spec))
	}
	os.Exit(m.Run())
}

// runSubscribers opens n connections, counts the frames they receive and
// answers every line on stdin with the total so far. With a topic, they are
// Phoenix clients that join it first (its reply is not counted).
func runSubscribers(spec string) int {
	f := strings.Fields(spec)
	n, _ := strconv.Atoi(f[2])
	var frames atomic.Int64
	for i := range n {
		c, err := wstest.Upgrade(f[0], f[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "subscriber", i, err)
			return 1
		}
		if len(f) > 3 {
			join := `["1","1","` + f[3] + `","phx_join",{}]`
			if err := c.WriteFrame(codec.OpText, true, []byte(join)); err != nil {
				fmt.Fprintln(os.Stderr, "subscriber", i, err)
				return 1
			}
			if _, _, err := c.ReadFrame(time.Minute); err != nil {
				fmt.Fprintln(os.Stderr, "subscriber", i, "join:", err)
				return 1
			}
		}
		go func() {
			for {
				if _, _, err := c.ReadFrame(time.Hour); err != nil {
					return
				}
				frames.Add(1)
			}
		}()
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(frames.Load())
	}
	return 0
}

type subscribers struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startSubscribers(b *testing.B, addr, path string, n int, topic string) *subscribers {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %s", subscriberEnv, addr, path, n, topic))
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &subscribers{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !s.out.Scan() || s.out.Text() != "ready" {
		b.Fatalf("subscribers did not start: %q", s.out.Text())
	}
	return s
}

func (s *subscribers) received() int64 {
	fmt.Fprintln(s.in, "?")
	s.out.Scan()
	n, _ := strconv.ParseInt(s.out.Text(), 10, 64)
	return n
}

func (s *subscribers) stop() {
	s.in.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// BenchmarkBroadcastRoom measures one BroadcastRoom to a room of subs
// members, until every member has the frame. allocs/op must not grow with
// subs: the frame is encoded once and each loop writes the same bytes. With
// dialect=phoenix the members are Phoenix clients of the topic: the frame
// is encoded once for all of them too, in their dialect.
func BenchmarkBroadcastRoom(b *testing.B) {
	for _, subs := range []int{10, 1000, 10000} {
		for _, dialect := range []string{"raw", "phoenix"} {
			b.Run(fmt.Sprintf("subs=%d/size=64/dialect=%s", subs, dialect), func(b *testing.B) {
				benchBroadcastRoom(b, subs, dialect == "phoenix")
			})
		}
	}
}

func benchBroadcastRoom(b *testing.B, subs int, phx bool) {
	srv := engine.New(engine.Config{})
	join := func(ev *engine.Event) engine.Reply {
		if ev.Type == engine.Connect {
			return engine.Reply{Join: []string{"room:" + ev.Params.Get("id")}}
		}
		return engine.Reply{}
	}
	if err := srv.Handle(engine.Route{Pattern: "/ws/room/:id", Handler: join}); err != nil {
		b.Fatal(err)
	}
	if err := srv.HandleChannel(engine.Route{Pattern: "room::id", Handler: func(*engine.Event) engine.Reply { return engine.Reply{} }}); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(b.Context())
	path, topic := "/ws/room/bench", ""
	if phx {
		path, topic = "/socket/websocket?vsn=2.0.0", "room:bench"
	}
	subsProc := startSubscribers(b, srv.Addr().String(), path, subs, topic)
	defer subsProc.stop()
	for len(srv.ClientsIn("room:bench")) < subs {
		time.Sleep(time.Millisecond)
	}
	// 64 bytes, an envelope: Phoenix members get its event and payload.
	msg := engine.ChannelMessage("room", []byte(`{"x":"`+strings.Repeat("x", 29)+`"}`))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	// At most window broadcasts are in flight, so the measure is the
	// steady state and not the growth of backlogged socket buffers.
	window := max(1, 50000/subs)
	var sent int64
	wait := func() {
		for subsProc.received() < sent*int64(subs) {
			time.Sleep(100 * time.Microsecond)
		}
	}
	// Warm up with one full window: the loops' reused slices (fan-out
	// snapshots, per-connection write batches) reach their steady size.
	for range window {
		srv.BroadcastRoom("room:bench", msg)
		sent++
	}
	wait()
	warm := sent
	b.ResetTimer()
	for i := range b.N {
		if n := srv.BroadcastRoom("room:bench", msg); n != subs {
			b.Fatalf("recipients = %d", n)
		}
		sent++
		if (i+1)%window == 0 {
			wait()
		}
	}
	wait()
	b.StopTimer()
	want := (sent - warm) * int64(subs)
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "deliveries/s")
}
