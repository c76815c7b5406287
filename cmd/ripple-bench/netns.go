package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
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
func rerunInNetns(root string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
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
