package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// netnsEnv marks a ripple-bench that runs in the network namespace its
// parent made for it.
const netnsEnv = "RIPPLE_BENCH_NETNS"

// inOwnNetns reports whether this process is the re-run in its own network
// namespace.
func inOwnNetns() bool { return os.Getenv(netnsEnv) == "1" }

// rerunInNetns runs this command again in a new network namespace with its
// own loopback, passing stdio through, and returns its exit status. ok is
// false when the namespace cannot be made here (no CAP_SYS_ADMIN): the
// caller then runs in the current one.
//
// A million loopback connections in the machine's own namespace are seen by
// everything that walks that namespace's sockets (/proc/net/tcp readers,
// monitoring agents: each walk then costs seconds of CPU); in a namespace
// of their own only the run sees them. The 127.0.0.0/8 addresses and the
// per-namespace net.* sysctls are the run's own; the machine-wide ones
// (fs.file-max, netdev_max_backlog) are shared.
//
// The namespace also gets an established-socket hash table of its own,
// sized for conns connections (net.ipv4.tcp_child_ehash_entries, Linux
// 6.1+): the machine's table is sized at boot for its memory (262,144
// buckets on 24 GB), and two million sockets in it make every packet's
// lookup walk a chain of eight.
func rerunInNetns(root string, args []string, conns int, stdout, stderr io.Writer) (code int, ok bool) {
	// The namespace has no route out: fetch and compile what the server
	// build inside will need now.
	if root != "" {
		warm := exec.Command("go", "build", "-o", os.DevNull, "./cmd/ripple")
		warm.Dir, warm.Stdout, warm.Stderr = root, stderr, stderr
		_ = warm.Run()
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, false
	}
	if restore, err := sizeChildEhash(conns); err != nil {
		fmt.Fprintf(stderr, "ripple-bench: the namespace shares the machine's socket hash table: %v\n", err)
	} else {
		defer restore()
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "ripple-bench: no network namespace of its own (%v): running in the machine's\n", err)
		return 0, false
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	if err != nil {
		fmt.Fprintln(stderr, "ripple-bench:", err)
		return 2, true
	}
	return 0, true
}

// childEhashPath is the size of the established-socket hash table that
// network namespaces created from now on get (0: they share the machine's).
const childEhashPath = "/proc/sys/net/ipv4/tcp_child_ehash_entries"

// sizeChildEhash makes the next network namespace's established-socket
// table hold 2*conns sockets (both ends of every connection) at one per
// bucket, a power of two within the kernel's bounds; restore puts the
// machine's setting back, which leaves namespaces already made as they are.
func sizeChildEhash(conns int) (restore func(), err error) {
	was, err := os.ReadFile(childEhashPath)
	if err != nil {
		return nil, err
	}
	size := 1 << 17
	for size < 2*conns && size < 1<<24 {
		size <<= 1
	}
	if err := os.WriteFile(childEhashPath, []byte(strconv.Itoa(size)), 0o644); err != nil {
		return nil, err
	}
	return func() { _ = os.WriteFile(childEhashPath, was, 0o644) }, nil
}

// loopbackUp brings up lo, which a new network namespace starts with down.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}
