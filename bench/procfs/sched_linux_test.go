package procfs

import (
	"os/exec"
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
