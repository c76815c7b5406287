// Package report turns a suite's results into its three outputs: one text
// table (with Ripple's targets checked against the peers of the same run), a
// JSON file with every figure, and a self-contained HTML page whose charts are
// inline SVG generated here (no scripts, no external resources).
//
// Pure functions over a Report value; safe for concurrent use on distinct
// Reports.
package report
