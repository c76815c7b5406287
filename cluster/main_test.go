package cluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves goroutines behind (every node
// stops all of its own, go-redis' included, on Close).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
