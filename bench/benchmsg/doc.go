// Package benchmsg encodes and scans the timestamped JSON messages of the bench
// protocol:
//
//	{"type":"broadcast","payload":{"t":123456789,"s":42,"p":3,"r":7}}
//
// t is the send time in nanoseconds since the run's epoch (small enough to stay
// exact through a float64 re-encoding), s the publisher's sequence number, p the
// publisher and r the room. Servers under test parse and re-encode messages, so
// key order, whitespace and number formatting may change on the way back: Scan
// parses instead of comparing bytes and accepts floats and exponents.
//
// The same payload travels in Phoenix Channels V2 messages for runs with
// -protocol phoenix (AppendPhoenix, ScanPhoenix):
//
//	["1","7","room:bench","room",{"t":123456789,"s":42,"p":3,"r":7}]
//
// On a channel with history the server puts the publication's position in
// the ref slot, "<epoch>:<offset>"; Position splits it:
//
//	[null,"k3f9:42","room:rec1","msg",{"t":123456789,"s":41,"p":1,"r":1}]
//
// Scan is allocation-free and tolerant: it never panics on any input and reports
// ok == false for anything that is not a JSON object. Fields and Elements walk
// any JSON object or array the same way, for the envelopes other protocols put
// around a bench message (bench/dialect). Everything here is pure and safe for
// concurrent use.
package benchmsg
