package scenario

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ripple-rt/ripple/bench/procfs"
)

// LimitProblem is one system setting too low for a run, with its fix.
type LimitProblem struct {
	Setting string
	Have    string
	Want    string
	Fix     string
}

func (p LimitProblem) String() string {
	return fmt.Sprintf("%-32s have %-22s want %-14s fix: %s", p.Setting, p.Have, p.Want, p.Fix)
}

// CheckLimits lists the settings that stop a machine from holding conns
// loopback connections with the server in one process (both ends of every
// connection live on this machine).
func CheckLimits(conns int) []LimitProblem {
	var out []LimitProblem
	n := int64(conns)
	atLeast := func(setting string, want int64, fix string) {
		v, err := procfs.Sysctl(setting)
		if err != nil {
			return // absent (e.g. nf_conntrack not loaded): not a limit
		}
		f := strings.Fields(v)
		have, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
		if have < want {
			out = append(out, LimitProblem{Setting: setting, Have: strings.Join(f, " "), Want: "≥ " + strconv.FormatInt(want, 10), Fix: fix})
		}
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && int64(rl.Max) < n+1000 {
		out = append(out, LimitProblem{Setting: "ulimit -n (hard)", Have: strconv.FormatUint(rl.Max, 10),
			Want: "≥ " + strconv.FormatInt(n+1000, 10),
			Fix:  fmt.Sprintf("ulimit -n %d in the shell that runs the suite (as root; LimitNOFILE= for systemd)", n+1000)})
	}
	atLeast("fs.nr_open", n+1000, fmt.Sprintf("sysctl -w fs.nr_open=%d", n+1000))
	atLeast("fs.file-max", 2*n+100000, fmt.Sprintf("sysctl -w fs.file-max=%d", 2*n+100000))
	atLeast("net.core.somaxconn", 65535, "sysctl -w net.core.somaxconn=65535")
	atLeast("net.ipv4.tcp_max_syn_backlog", 65535, "sysctl -w net.ipv4.tcp_max_syn_backlog=65535")
	atLeast("net.core.netdev_max_backlog", 65536, "sysctl -w net.core.netdev_max_backlog=65536")
	// tcp_mem is in pages; idle connections hold no buffers, so one page per
	// connection pair leaves room for bursts.
	pages := n
	atLeast("net.ipv4.tcp_mem", pages, fmt.Sprintf("sysctl -w net.ipv4.tcp_mem='%d %d %d'", pages/2, pages*3/4, pages))
	atLeast("net.netfilter.nf_conntrack_max", 2*n+100000, fmt.Sprintf("sysctl -w net.netfilter.nf_conntrack_max=%d (or NOTRACK loopback)", 2*n+100000))
	if lo, hi, err := procfs.PortRange(); err == nil && hi-lo+1 < 60000 {
		out = append(out, LimitProblem{Setting: "net.ipv4.ip_local_port_range", Have: fmt.Sprintf("%d %d", lo, hi), Want: "1024 65535",
			Fix: fmt.Sprintf("sysctl -w net.ipv4.ip_local_port_range='1024 65535' (the suite spreads %d connections over ~%d source addresses)", n, n/60000+1)})
	}
	if avail, err := procfs.MemAvailable(); err == nil && avail < n*10<<10 {
		out = append(out, LimitProblem{Setting: "MemAvailable", Have: fmt.Sprintf("%d MiB", avail>>20),
			Want: fmt.Sprintf("≥ %d MiB", n*10>>10), Fix: "a machine with more memory (≈10 KiB per connection: both kernel ends, server, generator)"})
	}
	return out
}
