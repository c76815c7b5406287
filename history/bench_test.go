package history_test

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/ripple-rt/ripple/history"
)

var nopSink = history.SinkFunc(func(string, history.Position, bool, []byte) {})

// BenchmarkMemoryPublish: one publication into one of 1,000 full rings of
// 100 (the demo's rule).
func BenchmarkMemoryPublish(b *testing.B) {
	m := history.NewMemory(history.MemoryConfig{}, nopSink)
	o := history.Options{Size: 100, TTL: time.Minute}
	chans := make([]string, 1000)
	for i := range chans {
		chans[i] = "room:" + strconv.Itoa(i)
	}
	payload := make([]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Publish(chans[i%len(chans)], o, false, payload)
	}
}

// BenchmarkMemoryRecover: a Read recovering the last 50 of 100.
func BenchmarkMemoryRecover(b *testing.B) {
	m := history.NewMemory(history.MemoryConfig{}, nopSink)
	o := history.Options{Size: 100, TTL: time.Minute}
	for range 100 {
		m.Publish("room:1", o, false, make([]byte, 100))
	}
	res, _ := m.Read(b.Context(), "room:1", o, nil, -1)
	since := history.Position{Epoch: res.Top.Epoch, Offset: 50}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if r, _ := m.Read(b.Context(), "room:1", o, &since, 0); len(r.Publications) != 50 {
			b.Fatal(len(r.Publications))
		}
	}
}

// BenchmarkMemoryRetained reports the heap a retained publication costs
// beyond its payload ("B/retained"), over 1,000 channels of 100
// publications of 100 bytes, payloads allocated by the caller as the
// engine does.
func BenchmarkMemoryRetained(b *testing.B) {
	const chans, size, payload = 1000, 100, 100
	o := history.Options{Size: size, TTL: time.Minute}
	for range b.N {
		payloads := make([][]byte, chans*size)
		for i := range payloads {
			payloads[i] = make([]byte, payload)
		}
		names := make([]string, chans)
		for i := range names {
			names[i] = "room:" + strconv.Itoa(i)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := history.NewMemory(history.MemoryConfig{}, nopSink)
		for i, p := range payloads {
			m.Publish(names[i%chans], o, false, p)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(chans*size), "B/retained")
		runtime.KeepAlive(m)
		runtime.KeepAlive(payloads)
	}
}
