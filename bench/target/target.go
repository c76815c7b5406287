package target

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Module is the import path of the repository the suite builds from.
const Module = "github.com/ripple-rt/ripple"

// PeersDir is the directory of the peers' module, relative to the
// repository root. The peers are a module of their own so that the
// library's go.mod does not carry their WebSocket libraries.
const PeersDir = "bench/peers"

// Names of the known servers, in report order.
var Names = []string{"ripple", "gorilla", "gws", "nbio"}

// ErrUnknown is returned for a server name that is not in Names.
var ErrUnknown = errors.New("target: unknown server")

// Package returns the main package of a known server and the directory,
// relative to the repository root, of the module that holds it: `go build
// pkg` runs there.
func Package(name string) (dir, pkg string, err error) {
	switch name {
	case "ripple":
		return ".", "./cmd/ripple", nil
	case "gorilla", "gws", "nbio":
		return PeersDir, "./cmd/" + name, nil
	}
	return "", "", fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names, ", "))
}

// FindRoot walks up from dir to the directory whose go.mod declares Module.
func FindRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+Module+"\n")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("target: no go.mod for %s above %s (run from the repository, or pass -src)", Module, dir)
		}
		d = parent
	}
}

// Builder builds server binaries into Dir.
type Builder struct {
	Root string // repository root
	Dir  string // output directory
	// Owned by the caller's goroutine.
	built map[string]string
}

// Build builds server name (once) and returns the binary's path.
func (b *Builder) Build(name string) (string, error) {
	if bin, ok := b.built[name]; ok {
		return bin, nil
	}
	dir, pkg, err := Package(name)
	if err != nil {
		return "", err
	}
	bin, err := filepath.Abs(filepath.Join(b.Dir, name))
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Join(b.Root, dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("target: go build %s (in %s): %v\n%s", pkg, cmd.Dir, err, strings.TrimSpace(string(out)))
	}
	if b.built == nil {
		b.built = map[string]string{}
	}
	b.built[name] = bin
	return bin, nil
}

// Options start a server.
type Options struct {
	CPUs    string // taskset -c list; empty: no pinning
	GOGC    int    // 0: leave GOGC unset
	LogPath string // file for the server's stdout and stderr; empty: discard
	Args    []string
}

// Server is one running server process.
type Server struct {
	Name string
	URL  string // ws://127.0.0.1:PORT
	Addr string
	PID  int
	Log  string

	// Owned by the caller's goroutine.
	cmd    *exec.Cmd
	done   chan struct{}
	waitEr error
	logf   *os.File
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start runs bin as server name on a free port and waits until it accepts
// connections.
func Start(name, bin string, opt Options) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"-addr", addr}, opt.Args...)
	exe := bin
	if opt.CPUs != "" {
		if ts, err := exec.LookPath("taskset"); err == nil {
			exe = ts
			args = append([]string{"-c", opt.CPUs, bin}, args...)
		}
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = os.Environ()
	if opt.GOGC > 0 {
		cmd.Env = append(cmd.Env, "GOGC="+strconv.Itoa(opt.GOGC))
	}
	s := &Server{Name: name, Addr: addr, URL: "ws://" + addr, Log: opt.LogPath, cmd: cmd, done: make(chan struct{})}
	if opt.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(opt.LogPath), 0o755); err != nil {
			return nil, err
		}
		f, err := os.Create(opt.LogPath)
		if err != nil {
			return nil, err
		}
		s.logf = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		s.closeLog()
		return nil, fmt.Errorf("target: start %s: %w", name, err)
	}
	s.PID = cmd.Process.Pid // taskset execs the server: same pid
	go func() {
		s.waitEr = cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			s.closeLog()
			return nil, fmt.Errorf("target: %s exited before listening (%v)%s", name, s.waitEr, s.tail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.Stop(time.Second)
			return nil, fmt.Errorf("target: %s does not accept on %s after 20s%s", name, addr, s.tail())
		}
	}
}

// Alive reports whether the process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// ExitError returns the error the process exited with (nil: exit 0); valid
// once Alive is false.
func (s *Server) ExitError() error { return s.waitEr }

// Stop sends SIGTERM, waits up to grace for the exit, then kills. It returns
// an error when the server had already died or did not exit cleanly.
func (s *Server) Stop(grace time.Duration) error {
	defer s.closeLog()
	select {
	case <-s.done:
		return fmt.Errorf("target: %s had exited on its own: %v%s", s.Name, s.waitEr, s.tail())
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.waitEr != nil {
			return fmt.Errorf("target: %s exited with %v after SIGTERM", s.Name, s.waitEr)
		}
		return nil
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("target: %s did not exit within %v of SIGTERM; killed", s.Name, grace)
	}
}

func (s *Server) closeLog() {
	if s.logf != nil {
		s.logf.Close()
		s.logf = nil
	}
}

// tail returns the last lines of the server's log, for error messages.
func (s *Server) tail() string {
	if s.Log == "" {
		return ""
	}
	f, err := os.Open(s.Log)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 10 {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n  " + s.Log + ":\n    " + strings.Join(lines, "\n    ")
}

// Tail returns the last lines of the server's log.
func (s *Server) Tail() string { return s.tail() }
