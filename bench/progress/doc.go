// Package progress draws the suite's progress bar on stderr: one line rewritten
// in place on a terminal, or a plain status line every few seconds otherwise
// (CI logs stay readable).
//
// A Bar is safe for concurrent use.
package progress
