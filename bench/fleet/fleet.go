package fleet

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// ErrExited is returned by Send after the worker's input is closed.
var ErrExited = errors.New("fleet: worker exited")

// RunFunc is a worker's main: it reads commands from in and writes events to
// out until in ends.
type RunFunc func(in io.Reader, out io.Writer) error

// Worker is one worker process or goroutine.
type Worker struct {
	// Immutable after construction.
	ID     int
	events chan json.RawMessage
	cmd    *exec.Cmd     // nil in-process
	done   chan struct{} // closed when the worker exited
	stdin  io.WriteCloser

	// Guarded by mu.
	mu     sync.Mutex
	closed bool
	err    error // exit status, valid after done
}

// Events delivers each JSON line the worker writes; it is closed when the
// worker's output ends.
func (w *Worker) Events() <-chan json.RawMessage { return w.events }

// Send writes v as one JSON line to the worker.
func (w *Worker) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrExited
	}
	_, err = w.stdin.Write(b)
	return err
}

// PID is the worker process's id, 0 for an in-process worker.
func (w *Worker) PID() int {
	if w.cmd == nil || w.cmd.Process == nil {
		return 0
	}
	return w.cmd.Process.Pid
}

// Done is closed when the worker has exited.
func (w *Worker) Done() <-chan struct{} { return w.done }

// Err is the worker's exit error, valid after Done.
func (w *Worker) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close ends the worker's input and waits for it to exit, killing it after
// grace.
func (w *Worker) Close(grace time.Duration) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		w.stdin.Close()
	}
	w.mu.Unlock()
	select {
	case <-w.done:
	case <-time.After(grace):
		if w.cmd != nil && w.cmd.Process != nil {
			_ = w.cmd.Process.Kill()
		}
		<-w.done
	}
	return w.Err()
}

func (w *Worker) read(r io.Reader) {
	defer close(w.events)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		w.events <- line
	}
}

// Start runs exe with args as worker id. When cpus is non-empty and taskset is
// installed, the process is pinned to those CPUs (taskset -c cpus). env is
// added to the environment.
func Start(id int, exe string, args []string, cpus string, env []string) (*Worker, error) {
	name, argv := exe, args
	if cpus != "" {
		if ts, err := exec.LookPath("taskset"); err == nil {
			name = ts
			argv = append([]string{"-c", cpus, exe}, args...)
		}
	}
	cmd := exec.Command(name, argv...)
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("fleet: start worker: %w", err)
	}
	w := &Worker{ID: id, events: make(chan json.RawMessage, 64), cmd: cmd, done: make(chan struct{}), stdin: stdin}
	readDone := make(chan struct{})
	go func() {
		w.read(stdout)
		close(readDone)
	}()
	go func() {
		<-readDone
		err := cmd.Wait()
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		close(w.done)
	}()
	return w, nil
}

// StartInProcess runs run in a goroutine as worker id.
func StartInProcess(id int, run RunFunc) *Worker {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	w := &Worker{ID: id, events: make(chan json.RawMessage, 64), done: make(chan struct{}), stdin: inW}
	readDone := make(chan struct{})
	go func() {
		w.read(outR)
		close(readDone)
	}()
	go func() {
		err := run(inR, outW)
		outW.Close()
		inR.Close()
		<-readDone
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		close(w.done)
	}()
	return w
}

// Share splits n items over parts, returning the count of part i: n/parts,
// one more for the first n%parts parts.
func Share(n, parts, i int) int {
	if parts <= 0 {
		return 0
	}
	s := n / parts
	if i < n%parts {
		s++
	}
	return s
}
