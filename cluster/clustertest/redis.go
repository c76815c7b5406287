package clustertest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// InstallHint is how to get redis-server on Debian.
const InstallHint = "apt-get update && apt-get install -y redis-server"

// Redis is a redis-server process on a loopback port, owned by one test.
type Redis struct {
	// Immutable after construction.
	Port int
	dir  string
	bin  string

	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis starts a redis-server without persistence on a free loopback
// port in a temporary directory and stops it when the test ends. It skips
// the test, loudly, when redis-server is not installed.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skipf("SKIP: redis-server not installed; install it with: %s", InstallHint)
	}
	r := &Redis{Port: freePort(t), dir: t.TempDir(), bin: bin}
	r.start(t)
	t.Cleanup(func() { r.Stop() })
	return r
}

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Addr is host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)) }

// Client returns a go-redis client of the server, closed when the test ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (r *Redis) start(t testing.TB) {
	t.Helper()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", r.dir, "--daemonize", "no",
			"--loglevel", "warning", "--logfile", filepath.Join(r.dir, "redis.log"))
		if err = r.cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		r.done = make(chan struct{})
		go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
		if err = r.waitReady(r.done); err == nil {
			return
		}
		// The port may still be held (a restart right after SHUTDOWN).
		_ = r.cmd.Process.Kill()
		<-r.done
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("redis-server on port %d: %v", r.Port, err)
}

func (r *Redis) waitReady(done chan struct{}) error {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart stops the server with SHUTDOWN NOSAVE (every key is lost) and
// starts it again on the same port.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.shutdown()
	r.start(t)
}

// Pause stops the server with SIGSTOP: connections stay open and nothing
// answers until Resume (or the end of the test, which resumes it first).
func (r *Redis) Pause(t testing.TB) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP redis-server: %v", err)
	}
	t.Cleanup(r.Resume)
}

// Resume continues a paused server (SIGCONT); harmless when it runs.
func (r *Redis) Resume() { _ = r.cmd.Process.Signal(syscall.SIGCONT) }

// Stop shuts the server down (SHUTDOWN NOSAVE, then kill).
func (r *Redis) Stop() { r.shutdown() }

func (r *Redis) shutdown() {
	if r.cmd == nil {
		return
	}
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = c.ShutdownNoSave(ctx).Err()
	cancel()
	_ = c.Close()
	select {
	case <-r.done:
	case <-time.After(3 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
