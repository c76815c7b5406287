// Package procfs reads the few /proc facts the bench suite reports: a
// process's resident memory and CPU time, its open-file limit, the kernel's TCP
// socket memory, and which process listens on a TCP port.
//
// Linux only. Every function is a fresh read; safe for concurrent use.
package procfs
