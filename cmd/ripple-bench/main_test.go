package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ripple-rt/ripple/bench/report"
	"github.com/ripple-rt/ripple/bench/scenario"
	"github.com/ripple-rt/ripple/bench/target/targettest"
)

// TestMain lets the test binary serve as a worker process, as ripple-bench
// re-executes itself with the argument "worker"; the tests run the gorilla
// peer's binary (bench/peers is a module of its own).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(targettest.Main(m))
}

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-h"}, &out, &errb); code != 0 {
		t.Fatalf("-h exit %d", code)
	}
	for _, want := range []string{"usage: ripple-bench <scenario>", "broadcast", "-server", "-url", "-procs"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if code := run([]string{"nope"}, &out, &errb); code != 2 {
		t.Errorf("unknown scenario: exit %d, want 2", code)
	}
}

func TestURLWithWorkerProcess(t *testing.T) {
	url := targettest.Start(t, "gorilla")

	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"broadcast", "-url", url, "-name", "gorilla", "-n", "30",
		"-publishers", "2", "-d", "500ms", "-procs", "1", "-client-cpus", "none", "-out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "deliveries/s") {
		t.Errorf("table lacks the broadcast row:\n%s", out.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "broadcast.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Scenario != scenario.Broadcast || !rep.Results[0].OK || rep.Results[0].Procs != 1 {
		t.Fatalf("results: %+v", rep.Results)
	}
	if _, err := os.Stat(filepath.Join(dir, "broadcast.html")); err != nil {
		t.Error(err)
	}
}

func TestLatencyWithWorkerProcess(t *testing.T) {
	url := targettest.Start(t, "gorilla")

	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"latency", "-url", url, "-name", "gorilla", "-n", "20", "-room-size", "5",
		"-d", "400ms", "-rates", "echo=50,echo=100,rooms=10", "-procs", "1", "-client-cpus", "none", "-out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"latency echo 50/s", "latency echo 100/s", "latency rooms 10/s", "of 100 msgs/s", "publishes/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "latency.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || !rep.Results[0].OK || len(rep.Results[0].Workloads) != 2 {
		t.Fatalf("results: %+v", rep.Results)
	}
	if steps := rep.Results[0].Workloads[0].Steps; len(steps) != 2 || steps[1].Offered != 100 || steps[1].Sent != 40 {
		t.Errorf("echo steps: %+v", steps)
	}

	if code := run([]string{"latency", "-url", url, "-workload", "echo", "-rates", "rooms=5", "-out", dir}, &out, &errb); code != 2 {
		t.Errorf("rates for a workload not run: exit %d, want 2", code)
	}
}

// A server speaking a protocol of its own, driven through -url and -dialect
// from a worker process.
func TestURLWithDialect(t *testing.T) {
	url := targettest.Start(t, "centrifuge")
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"rooms", "-url", url, "-name", "centrifuge", "-dialect", "centrifuge", "-n", "30", "-room-size", "5",
		"-churn", "20", "-msg-rate", "100", "-d", "500ms", "-procs", "1", "-client-cpus", "none", "-out", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "deliveries/s") {
		t.Errorf("table lacks the rooms row:\n%s", out.String())
	}
	if code := run([]string{"echo", "-url", url, "-dialect", "nope", "-out", dir}, &out, &errb); code != 2 {
		t.Errorf("unknown dialect: exit %d, want 2", code)
	}
}

func TestRecoveryFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "recovery   rooms of -room-size") || !strings.Contains(errb.String(), "-nodes") {
		t.Errorf("usage lacks the recovery scenario:\n%s", errb.String())
	}
	if ns, err := nodeList("1, 3"); err != nil || len(ns) != 2 || ns[0] != 1 || ns[1] != 3 {
		t.Errorf("nodeList: %v %v", ns, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-3"} {
		if _, err := nodeList(bad); err == nil {
			t.Errorf("nodeList(%q) accepted", bad)
		}
	}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-history", "room:*=5"}, true},
		{[]string{"--history=room:*"}, true},
		{[]string{"-loops", "2", "-history-x"}, false},
		{nil, false},
	} {
		if got := hasFlag(tc.args, "history"); got != tc.want {
			t.Errorf("hasFlag(%q) = %v", tc.args, got)
		}
	}
	if code := run([]string{"recovery", "-nodes", "0"}, &out, &errb); code != 2 {
		t.Errorf("-nodes 0: exit %d, want 2", code)
	}
}
