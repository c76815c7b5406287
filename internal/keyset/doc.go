// Package keyset is a hash set of pointers, each of which carries its own
// uint64 key, for a table of many small objects that must cost little per
// entry.
//
// A slot is one pointer (8 bytes; a Go map from uint64 to a pointer takes
// 16 plus control bytes, at a lower load). Keys are unique: Add refuses a
// key that is present. Open addressing with linear probing from a Fibonacci
// hash of the key, load at most 3/4, backward-shift deletion (no
// tombstones), growth by doubling; the table halves once it is an eighth
// full, and never below its first size.
//
// A Set is not safe for concurrent use; its owner guards it (package
// engine's registry keeps 64, each under its own lock).
package keyset
