package targettest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/bench/target"
)

var (
	mu      sync.Mutex
	running bool            // Guarded by mu: Main is running the tests.
	dir     string          // Guarded by mu: the binaries' directory, once made.
	builder *target.Builder // Guarded by mu.
)

// Main runs the tests and then removes the binaries Start built. Use it as
// the test package's TestMain: `os.Exit(targettest.Main(m))`.
func Main(m *testing.M) int {
	mu.Lock()
	running = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	running = false
	if dir != "" {
		_ = os.RemoveAll(dir)
		dir, builder = "", nil
	}
	return code
}

// Build returns the binary of server name, building it on first use.
func Build(t testing.TB, name string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !running {
		t.Fatal("targettest: the test package's TestMain must call targettest.Main")
	}
	if builder == nil {
		root, err := target.FindRoot(".")
		if err != nil {
			t.Fatal(err)
		}
		d, err := os.MkdirTemp("", "ripple-targettest-")
		if err != nil {
			t.Fatal(err)
		}
		dir, builder = d, &target.Builder{Root: root, Dir: d}
	}
	bin, err := builder.Build(name)
	if errors.Is(err, target.ErrMissing) {
		msg := "SKIPPING the " + name + " peer: " + err.Error()
		fmt.Fprintln(os.Stderr, "!!! "+msg)
		t.Skip(msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Start builds server name (once per test binary), starts it on a free
// loopback port with args and returns its ws://127.0.0.1:PORT. The server is
// stopped when the test ends; a server that died meanwhile or did not exit
// cleanly on SIGTERM fails the test.
func Start(t testing.TB, name string, args ...string) string {
	t.Helper()
	bin := Build(t, name)
	s, err := target.Start(name, bin, target.Options{
		LogPath: filepath.Join(t.TempDir(), name+".log"),
		Args:    args,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
	return s.URL
}
