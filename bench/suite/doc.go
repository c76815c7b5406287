// Package suite runs scenarios against servers and collects a report: it
// builds each server once, starts it fresh for every scenario (pinned to the
// server CPUs, with the suite's GOGC), drives the scenario with worker
// processes pinned to the generator CPUs, stops the server and checks how it
// exited. Servers are interleaved per scenario so that slow drifts of the
// machine touch every server alike. The generator speaks each server's own
// protocol (target.Dialect: centrifuge's, socket.io's, else the bench
// protocol), and the report says how every server was configured
// (target's Describe).
//
// It owns sequencing only; load generation is bench/scenario, process
// handling bench/target and bench/fleet, output bench/report.
package suite
