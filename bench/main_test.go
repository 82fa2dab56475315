package main

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	in := `goos: linux
BenchmarkDaemonFootprint-2   1   63000000000 ns/op   14.5 peak-RSS-MiB   0.2 CPU-%core
BenchmarkDaemonFootprint-2   1   63000000000 ns/op   16.0 peak-RSS-MiB   0.1 CPU-%core
BenchmarkDaemonFootprint-2   1   63000000000 ns/op   14.0 peak-RSS-MiB   0.3 CPU-%core
BenchmarkBacklogDrain/embedded/json-2  1  5 ns/op  90000 readings/s
PASS`
	var out strings.Builder
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"| DaemonFootprint | peak-RSS-MiB | 14.000 | 14.500 | 16.000 | 3 | < 15 MiB ✓ |",
		"| DaemonFootprint | CPU-%core | 0.100 | 0.200 | 0.300 | 3 | < 1 % ✓ |",
		"| BacklogDrain/embedded/json | readings/s | 90000 | 90000 | 90000 | 1 | > 100,000 ✗ MISSED |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "ns/op") {
		t.Errorf("ns/op is not a figure:\n%s", s)
	}
	if err := run(strings.NewReader("no figures"), &out); err == nil {
		t.Error("input without figures: want an error")
	}
}
