package engine

import (
	"testing"
	"unsafe"
)

// TestConnSize guards the bytes every connection pays for: conn is
// allocated in the 240-byte size class, and a field that pushes it past
// that costs every idle connection 16 bytes more.
func TestConnSize(t *testing.T) {
	const budget = 240
	if n := unsafe.Sizeof(conn{}); n > budget {
		t.Fatalf("conn is %d bytes, over its %d-byte budget: move what few connections need to connExtra", n, budget)
	}
}
