package procfs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNotFound is returned when a field or process is missing.
var ErrNotFound = errors.New("procfs: not found")

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// RSS returns the VmRSS of pid in bytes.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%w: VmRSS of %d", ErrNotFound, pid)
}

// CPU returns the user+system CPU time of pid (all threads) in nanoseconds.
func CPU(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces; fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat of %d", ErrNotFound, pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state(0) ppid … utime is field 14 of stat, index 11 here.
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat of %d", ErrNotFound, pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: stat of %d", ErrNotFound, pid)
	}
	return (ut + st) * (1e9 / clockTicks), nil
}

// NoFile returns the soft and hard open-file limits of pid.
func NoFile(pid int) (soft, hard int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Max open files") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "Max open files"))
		if len(f) < 2 {
			break
		}
		soft, _ = strconv.ParseInt(f[0], 10, 64)
		hard, _ = strconv.ParseInt(f[1], 10, 64)
		return soft, hard, nil
	}
	return 0, 0, fmt.Errorf("%w: open-file limit of %d", ErrNotFound, pid)
}

// Sockstat holds the TCP line of /proc/net/sockstat.
type Sockstat struct {
	InUse    int64 // TCP sockets in use
	TimeWait int64
	MemBytes int64 // kernel memory of TCP socket buffers
}

// ReadSockstat reads /proc/net/sockstat.
func ReadSockstat() (Sockstat, error) {
	var s Sockstat
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "TCP:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseInt(f[i+1], 10, 64)
			switch f[i] {
			case "inuse":
				s.InUse = v
			case "tw":
				s.TimeWait = v
			case "mem":
				s.MemBytes = v * int64(os.Getpagesize())
			}
		}
		return s, nil
	}
	return s, fmt.Errorf("%w: TCP in sockstat", ErrNotFound)
}

// ListenerPID returns the process that has a socket listening on TCP port.
func ListenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // LISTEN
				continue
			}
			_, portHex, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseInt(portHex, 16, 32); err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		f.Close()
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("%w: no listener on port %d", ErrNotFound, port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		fds, _ := os.ReadDir(filepath.Join(p, "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(p, "fd", fd.Name()))
			if err == nil && inodes[link] {
				pid, _ := strconv.Atoi(filepath.Base(p))
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: process listening on port %d", ErrNotFound, port)
}

// PortRange returns net.ipv4.ip_local_port_range.
func PortRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%w: port range", ErrNotFound)
	}
	lo, _ = strconv.Atoi(f[0])
	hi, _ = strconv.Atoi(f[1])
	return lo, hi, nil
}

// Slab returns the kernel's slab memory (sockets, inodes, …) from /proc/meminfo
// in bytes.
func Slab() (int64, error) { return meminfo("Slab:") }

// MemAvailable returns MemAvailable from /proc/meminfo in bytes.
func MemAvailable() (int64, error) { return meminfo("MemAvailable:") }

// MemUsable returns MemAvailable less the reclaimable slab (SReclaimable),
// in bytes, at least 0. The kernel counts reclaimable slab as available,
// but the dentries and inodes of open sockets are reclaimable slab that
// nothing reclaims while the sockets stay open: with a million loopback
// connections that is about 2 GiB, and the OOM killer ran with
// MemAvailable still over a gigabyte.
func MemUsable() (int64, error) {
	avail, err := MemAvailable()
	if err != nil {
		return 0, err
	}
	slab, err := meminfo("SReclaimable:")
	if err != nil {
		return 0, err
	}
	return max(0, avail-slab), nil
}

func meminfo(field string) (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("%w: %s in /proc/meminfo", ErrNotFound, field)
}

// Sysctl returns the trimmed contents of /proc/sys/<name with dots as slashes>.
func Sysctl(name string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// NetCounters are machine-wide network counters that explain stalls on
// loopback: packets the kernel dropped because a CPU's backlog queue
// (net.core.netdev_max_backlog) was full, and TCP segments retransmitted.
type NetCounters struct {
	BacklogDrops int64 `json:"backlog_drops"`
	Retrans      int64 `json:"retrans"`
}

// ReadNetCounters reads /proc/net/softnet_stat and /proc/net/snmp.
func ReadNetCounters() (NetCounters, error) {
	var c NetCounters
	b, err := os.ReadFile("/proc/net/softnet_stat")
	if err != nil {
		return c, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			v, _ := strconv.ParseInt(f[1], 16, 64)
			c.BacklogDrops += v
		}
	}
	b, err = os.ReadFile("/proc/net/snmp")
	if err != nil {
		return c, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "Tcp:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RetransSegs" && i < len(f) {
				c.Retrans, _ = strconv.ParseInt(f[i], 10, 64)
			}
		}
	}
	return c, nil
}

// Sub returns c - o.
func (c NetCounters) Sub(o NetCounters) NetCounters {
	return NetCounters{BacklogDrops: c.BacklogDrops - o.BacklogDrops, Retrans: c.Retrans - o.Retrans}
}

// MachineBusy returns the CPU time all CPUs spent busy (user, nice, system,
// irq, softirq, steal) since boot, in nanoseconds, from /proc/stat.
func MachineBusy() (int64, error) {
	return cpuTime(1, 2, 3, 6, 7, 8) // user nice system irq softirq steal
}

// Steal returns the CPU time the hypervisor took from this machine's CPUs
// (the steal column of /proc/stat: runnable, but another guest ran) since
// boot, in nanoseconds, all CPUs together. Zero on bare metal.
func Steal() (int64, error) { return cpuTime(8) }

// cpuTime sums the given columns of /proc/stat's line for all CPUs, in
// nanoseconds.
func cpuTime(cols ...int) (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("%w: cpu line in /proc/stat", ErrNotFound)
	}
	var ticks int64
	for _, i := range cols {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += v
	}
	return ticks * (1e9 / clockTicks), nil
}

// HoldCPULatency asks the kernel's power management for a wake-up latency of
// at most us microseconds on every CPU (a PM QoS request on
// /dev/cpu_dma_latency, as cyclictest makes): with 0, an idle CPU polls
// instead of halting, so a packet or timer finds it awake. The request lasts
// until release is called or the process exits. It needs root.
func HoldCPULatency(us int32) (release func(), err error) {
	f, err := os.OpenFile("/dev/cpu_dma_latency", os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(us))
	if _, err := f.Write(b[:]); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
