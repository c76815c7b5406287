package history_test

import (
	"testing"

	"github.com/ripple-rt/ripple/history"
	"github.com/ripple-rt/ripple/history/historytest"
)

func TestMemoryBackend(t *testing.T) {
	historytest.BackendSuite(t, func(t *testing.T) historytest.Harness {
		rec := historytest.NewRecorder()
		m := history.NewMemory(history.MemoryConfig{}, rec)
		return historytest.Harness{Backend: m, Sink: rec}
	})
}
