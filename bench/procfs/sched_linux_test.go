package procfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSetPolicy(t *testing.T) {
	// A child of its own, so that this process keeps its policy.
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep here: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := unix.Setpriority(unix.PRIO_PROCESS, pid, 5); err != nil {
		t.Fatal(err)
	}
	if err := SetPolicy(pid, PolicyBatch); err != nil {
		t.Fatal(err)
	}
	if p, err := Policy(pid); err != nil || p != PolicyBatch {
		t.Fatalf("policy = %d, %v; want %d", p, err, PolicyBatch)
	}
	if prio, err := unix.Getpriority(unix.PRIO_PROCESS, pid); err != nil || 20-prio != 5 {
		t.Errorf("nice = %d, %v; want 5 kept", 20-prio, err)
	}
	if err := SetPolicy(pid, PolicyNormal); err != nil {
		t.Fatal(err)
	}
	if p, _ := Policy(pid); p != PolicyNormal {
		t.Errorf("policy = %d after going back, want %d", p, PolicyNormal)
	}
}

func TestSetThreadPolicy(t *testing.T) {
	// A thread of its own, which ends with the goroutine: the test's other
	// threads keep their policy.
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		tid := unix.Gettid()
		if err := SetThreadPolicy(PolicyBatch); err != nil {
			done <- err
			return
		}
		attr, err := unix.SchedGetAttr(tid, 0)
		if err == nil && int(attr.Policy) != PolicyBatch {
			err = fmt.Errorf("thread policy %d, want %d", attr.Policy, PolicyBatch)
		}
		if err == nil {
			if p, _ := Policy(os.Getpid()); p == PolicyBatch && tid != os.Getpid() {
				err = errors.New("the main thread changed too")
			}
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
