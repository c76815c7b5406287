package engine

import (
	"context"
	"time"

	"github.com/ripple-rt/ripple/codec"
)

// Shutdown drains the server: new connections are refused, every open
// connection gets close 1001 "going away", every disconnect event runs, then
// the loops stop. When ctx ends first, the remaining connections are closed
// at once (their disconnect events still run) and ctx's error is returned.
func (e *Engine) Shutdown(ctx context.Context) error {
	if !e.draining.CompareAndSwap(false, true) {
		<-e.stopped
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
	e.pool.stop()
	e.http.shutdown(ctx)
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.eng.Stop(stopCtx)
	<-e.stopped
	return err
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
