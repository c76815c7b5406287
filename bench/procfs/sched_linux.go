package procfs

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Scheduling policies for SetPolicy.
const (
	PolicyNormal = unix.SCHED_NORMAL
	// PolicyBatch is for processes that do not wait on a user: a thread that
	// wakes up does not preempt the one running, so the CPU changes hands
	// at the end of a time slice rather than at every wake-up.
	PolicyBatch = unix.SCHED_BATCH
)

// SetPolicy gives every thread of process pid the scheduling policy (nice
// unchanged). A thread inherits its creator's policy, and a process the
// thread it was forked from; so with pid = os.Getpid(), the threads and
// child processes started later have it too.
func SetPolicy(pid, policy int) error {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid) // the kernel's 20 - nice
		if err != nil {
			continue // exited meanwhile
		}
		attr := unix.SchedAttr{Policy: uint32(policy), Nice: int32(20 - prio)}
		if err := unix.SchedSetAttr(tid, &attr, 0); err != nil && err != unix.ESRCH {
			return fmt.Errorf("procfs: scheduling policy of thread %d: %w", tid, err)
		}
	}
	return nil
}

// SetThreadPolicy gives the calling thread the scheduling policy (nice
// unchanged); lock the goroutine to its thread first.
func SetThreadPolicy(policy int) error {
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		return err
	}
	attr := unix.SchedAttr{Policy: uint32(policy), Nice: int32(20 - prio)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("procfs: scheduling policy of this thread: %w", err)
	}
	return nil
}

// Policy is the scheduling policy of process pid's main thread.
func Policy(pid int) (int, error) {
	attr, err := unix.SchedGetAttr(pid, 0)
	if err != nil {
		return 0, err
	}
	return int(attr.Policy), nil
}
