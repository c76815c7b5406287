package target

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
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

// SocketIODir is the directory of the socket.io peer (a node script and its
// package.json), relative to the repository root.
const SocketIODir = PeersDir + "/socketio"

// Names of the known servers, in report order.
var Names = []string{"ripple", "gorilla", "gws", "nbio", "centrifuge", "socketio"}

// Sentinel errors.
var (
	// ErrUnknown is returned for a server name that is not in Names.
	ErrUnknown = errors.New("target: unknown server")
	// ErrMissing wraps a build that lacks a tool or an installed package
	// (node, the socket.io peer's node_modules); the error says how to
	// install it.
	ErrMissing = errors.New("target: missing")
)

// Package returns the main package of a known server and the directory,
// relative to the repository root, of the module that holds it: `go build
// pkg` runs there. For socketio, a node script, it is the script and its
// directory.
func Package(name string) (dir, pkg string, err error) {
	switch name {
	case "ripple":
		return ".", "./cmd/ripple", nil
	case "gorilla", "gws", "nbio", "centrifuge":
		return PeersDir, "./cmd/" + name, nil
	case "socketio":
		return SocketIODir, "server.js", nil
	}
	return "", "", fmt.Errorf("%w %q (known: %s)", ErrUnknown, name, strings.Join(Names, ", "))
}

// Dialect returns the protocol the generator speaks to server name, one of
// bench/dialect's names: "centrifuge" (centrifuge's JSON protocol),
// "socketio" (Engine.IO v4 and Socket.IO v5), "bench" (the bench protocol
// itself: ripple and the other peers).
func Dialect(name string) string {
	switch name {
	case "centrifuge", "socketio":
		return name
	}
	return "bench"
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
	if name == "socketio" {
		if err := nodeLauncher(bin, filepath.Join(b.Root, dir), pkg); err != nil {
			return "", err
		}
		b.remember(name, bin)
		return bin, nil
	}
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Join(b.Root, dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("target: go build %s (in %s): %v\n%s", pkg, cmd.Dir, err, strings.TrimSpace(string(out)))
	}
	b.remember(name, bin)
	return bin, nil
}

func (b *Builder) remember(name, bin string) {
	if b.built == nil {
		b.built = map[string]string{}
	}
	b.built[name] = bin
}

// nodeLauncher writes bin, a shell script that execs node on script in dir
// with its arguments (the process keeps the script's pid, so taskset, the
// suite's signals and /proc see node itself). It fails with ErrMissing when
// node or the script's node_modules are not installed.
func nodeLauncher(bin, dir, script string) error {
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("%w: node is not in PATH (install Node.js 20+, then: npm ci --prefix %s)", ErrMissing, SocketIODir)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io", "package.json")); err != nil {
		return fmt.Errorf("%w: %s/node_modules/socket.io (run: npm ci --prefix %s)", ErrMissing, SocketIODir, SocketIODir)
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	sh := "#!/bin/sh\nexec " + quote(node) + " " + quote(filepath.Join(dir, script)) + ` "$@"` + "\n"
	return os.WriteFile(bin, []byte(sh), 0o755)
}

// Describe says in one line how server name is configured, with the versions
// of the libraries its built binary holds (of socket.io and node for
// socketio). The suite prints it with the results.
func (b *Builder) Describe(name string) string {
	bin := b.built[name]
	mod := func(path string) string {
		if bi, err := buildinfo.ReadFile(bin); err == nil {
			for _, d := range bi.Deps {
				if d.Path == path {
					if d.Replace != nil {
						d = d.Replace
					}
					return path + " " + d.Version
				}
			}
		}
		return path
	}
	switch name {
	case "ripple":
		return "cmd/ripple with its default flags: gnet event loops, no goroutine per connection, rooms and presence in process"
	case "gorilla":
		return mod("github.com/gorilla/websocket") + ": the classic chat hub (one hub goroutine fed by channels, " +
			"read and write pump goroutines per connection, 256-message send channels, slow consumers dropped)"
	case "gws":
		return mod("github.com/lxzan/gws") + " on net/http: a ReadLoop goroutine per connection, rooms in an RWMutex map, " +
			"fan-out through gws.Broadcaster (frame encoded once)"
	case "nbio":
		return mod("github.com/lesismal/nbio") + " nbhttp in IOModNonBlocking (poller goroutines own the sockets), " +
			"rooms in an RWMutex map, WriteMessage per member"
	case "centrifuge":
		return mod("github.com/centrifugal/centrifuge") + " (Centrifugo's engine): default Config (in-memory broker and presence manager) " +
			"and WebsocketConfig, JSON protocol; rooms are channels with client publish and no history; presence:<id> channels " +
			"have presence with join/leave pushes; echo is RPC method echo"
	case "socketio":
		ver := "socket.io"
		if raw, err := os.ReadFile(filepath.Join(b.Root, SocketIODir, "node_modules", "socket.io", "package.json")); err == nil {
			var pkg struct{ Version string }
			if json.Unmarshal(raw, &pkg) == nil && pkg.Version != "" {
				ver += " " + pkg.Version
			}
		}
		if out, err := exec.Command("node", "--version").Output(); err == nil {
			ver += " on node " + strings.TrimSpace(string(out))
		}
		return ver + ": one node process, WebSocket transport only, default in-memory adapter, no per-message deflate; " +
			"rooms by socket.join, io.to(room).emit (sender included); echo by socket.emit; no presence (GOGC does not apply)"
	}
	return name
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
