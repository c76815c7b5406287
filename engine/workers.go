package engine

import (
	"context"
	"sync"
)

// workerPool runs blocking handlers on a fixed number of goroutines. Tasks
// wait in an unbounded FIFO; its length is bounded by the connections of
// Workers routes, since each has at most one task queued or running.
type workerPool struct {
	// Immutable after construction.
	size int

	mu     sync.Mutex
	cond   *sync.Cond
	tasks  []func() // Guarded by mu.
	closed bool     // Guarded by mu.
	wg     sync.WaitGroup
	once   sync.Once
}

func newWorkerPool(size int) *workerPool {
	p := &workerPool{size: size}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// start launches the workers. An idle worker is one parked goroutine.
func (p *workerPool) start() {
	p.once.Do(func() {
		p.wg.Add(p.size)
		for range p.size {
			go p.work()
		}
	})
}

func (p *workerPool) submit(task func()) {
	p.mu.Lock()
	p.tasks = append(p.tasks, task)
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *workerPool) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for len(p.tasks) == 0 && !p.closed {
			p.cond.Wait()
		}
		if len(p.tasks) == 0 {
			p.mu.Unlock()
			return
		}
		task := p.tasks[0]
		p.tasks[0] = nil
		p.tasks = p.tasks[1:]
		p.mu.Unlock()
		task()
	}
}

// stop lets the workers finish the queued tasks and waits for them, or for
// ctx: a handler stuck in a Workers route keeps its goroutine, not the caller.
func (p *workerPool) stop(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
