package procfs

import (
	"encoding/binary"
	"net"
	"os"
	"testing"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	if rss, err := RSS(pid); err != nil || rss <= 0 {
		t.Errorf("RSS = %d, %v", rss, err)
	}
	if _, err := CPU(pid); err != nil {
		t.Errorf("CPU: %v", err)
	}
	if soft, hard, err := NoFile(pid); err != nil || soft <= 0 || hard < soft {
		t.Errorf("NoFile = %d/%d, %v", soft, hard, err)
	}
	if _, err := ReadSockstat(); err != nil {
		t.Errorf("ReadSockstat: %v", err)
	}
	if _, err := ReadNetCounters(); err != nil {
		t.Errorf("ReadNetCounters: %v", err)
	}
	if lo, hi, err := PortRange(); err != nil || lo <= 0 || hi < lo {
		t.Errorf("PortRange = %d-%d, %v", lo, hi, err)
	}
	if v, err := MemAvailable(); err != nil || v <= 0 {
		t.Errorf("MemAvailable = %d, %v", v, err)
	}
	// Usable is available less the reclaimable slab: below it, and above
	// zero on a machine that runs this test.
	avail, _ := MemAvailable()
	slab, _ := meminfo("SReclaimable:")
	if v, err := MemUsable(); err != nil || v <= 0 || v > avail || avail-v > slab+avail/10 {
		t.Errorf("MemUsable = %d, %v; MemAvailable %d, SReclaimable %d", v, err, avail, slab)
	}
	if v, err := Steal(); err != nil || v < 0 {
		t.Errorf("Steal = %d, %v", v, err)
	}
	if _, err := RSS(-1); err == nil {
		t.Error("RSS of a missing process")
	}
}

func TestListenerPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pid, err := ListenerPID(ln.Addr().(*net.TCPAddr).Port)
	if err != nil || pid != os.Getpid() {
		t.Fatalf("ListenerPID = %d, %v; want %d", pid, err, os.Getpid())
	}
}

func TestHoldCPULatency(t *testing.T) {
	release, err := HoldCPULatency(0)
	if err != nil {
		t.Skipf("no PM QoS request here: %v", err)
	}
	// While held, the request file reads back the smallest request.
	b, err := os.ReadFile("/dev/cpu_dma_latency")
	release()
	if err != nil {
		t.Skipf("cannot read the request back: %v", err)
	}
	if len(b) != 4 || binary.NativeEndian.Uint32(b) != 0 {
		t.Errorf("held latency = % x, want 0", b)
	}
}
