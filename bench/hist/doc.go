// Package hist is a log-linear latency histogram in the spirit of HdrHistogram.
//
// Values are non-negative int64 (nanoseconds by convention). Values below 2^SubBits
// are counted exactly; above that every power-of-two range is split into 2^SubBits
// equal buckets, so any recorded value is reported with a relative error below
// 1/2^SubBits (0.8%). Values at or above 2^MaxExp are clamped into the last bucket.
//
// A Histogram is a fixed array: Record never allocates, which keeps it usable on a
// load generator's hot path. Histograms merge by adding counts, so per-loop and
// per-process histograms combine into one exact result. Snapshot is the sparse,
// JSON-friendly form that worker processes send to their parent.
//
// A Histogram is not safe for concurrent use; give each goroutine its own and
// Merge them afterwards.
package hist
