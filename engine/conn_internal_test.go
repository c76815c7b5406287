package engine

import (
	"testing"
	"unsafe"
)

// TestConnSize guards the bytes every connection pays for: conn is
// allocated in the 192-byte size class, and a field that pushes it past
// that costs every idle connection 16 bytes more.
func TestConnSize(t *testing.T) {
	const budget = 192
	if n := unsafe.Sizeof(conn{}); n > budget {
		t.Fatalf("conn is %d bytes, over its %d-byte budget: move what few connections need to connExtra", n, budget)
	}
	// connExtra: an authenticated user, a presence or a Workers route.
	if n := unsafe.Sizeof(connExtra{}); n > 80 {
		t.Fatalf("connExtra is %d bytes, over its 80-byte size class", n)
	}
}
