package engine

import (
	"context"
	"time"

	"github.com/ripple-rt/ripple/codec"
)

// Shutdown drains the server: new connections are refused, every open
// connection gets close 1001 "going away", every disconnect event runs, then
// the loops stop. When ctx ends first, the remaining connections are closed
// at once (their disconnect events still run, within 2 s) and every later
// wait (Workers handlers still running, the loops stopping) gives up when
// ctx does: Shutdown then returns ctx's error. Shutdown before Start returns
// at once, and the server can no longer start. A second call waits for the
// first one, or for ctx.
func (e *Engine) Shutdown(ctx context.Context) error {
	if !e.draining.CompareAndSwap(false, true) {
		return e.waitStopped(ctx)
	}
	if !e.started.Load() {
		return nil
	}
	for _, sh := range e.shards {
		sh.post(func() {
			for _, c := range append([]*conn(nil), sh.conns...) {
				c.close(codec.CloseGoingAway, "going away", true)
			}
		})
	}
	err := e.waitIdle(ctx)
	if err != nil {
		for _, sh := range e.shards {
			sh.post(func() {
				for _, c := range append([]*conn(nil), sh.conns...) {
					_ = c.gc.Close()
				}
			})
		}
		hard, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = e.waitIdle(hard)
		cancel()
	}
	if perr := e.pool.stop(ctx); err == nil {
		err = perr
	}
	e.http.shutdown(ctx)
	e.stopLoops(ctx)
	if serr := e.waitStopped(ctx); err == nil {
		err = serr
	}
	return err
}

// stopLoops has gnet stop the event loops and returns once they have
// stopped (or after 5 s, or when ctx ends). gnet's Stop wakes every loop
// at once, but then looks every 500 ms whether they are done: the end of
// gnet.Run (e.stopped) is the wakeup Stop is waited for instead.
func (e *Engine) stopLoops(ctx context.Context) {
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	go func() {
		select {
		case <-e.stopped:
			cancel()
		case <-stopCtx.Done():
		}
	}()
	_ = e.eng.Stop(stopCtx)
}

// waitStopped waits until the loops have stopped, or ctx ends. A server
// that never started counts as stopped.
func (e *Engine) waitStopped(ctx context.Context) error {
	if !e.started.Load() {
		return nil
	}
	select {
	case <-e.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitIdle polls until no connection is open or handshaking and every
// disconnect event has been handled.
func (e *Engine) waitIdle(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if e.conns.count.Load() == 0 && e.handshakes.Load() == 0 && e.disconnects.Load() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
