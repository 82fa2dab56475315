package karana

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/karana-energy/karana-edge/sensors"
)

func TestRead(t *testing.T) {
	root := t.TempDir()
	proc, sys := filepath.Join(root, "proc"), filepath.Join(root, "sys")
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(proc, "self", "status"), "Name:\tkarana-edge\nVmPeak:\t  30000 kB\nVmRSS:\t   12000 kB\nThreads:\t7\n")
	write(filepath.Join(sys, "class", "thermal", "thermal_zone0", "temp"), "48312\n")

	s := New(func() []sensors.Value { return []sensors.Value{{Field: "buffer.depth", Value: 42}} })
	s.ProcRoot, s.SysRoot = proc, sys
	vs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, v := range vs {
		got[v.Field] = v.Value
	}
	want := map[string]float64{"buffer.depth": 42, "process.rss_bytes": 12000 * 1024, "cpu.temp": 48.312}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], w, got)
		}
	}

	// A box without a thermal zone, and the real /proc: RSS only.
	s = New(nil)
	s.SysRoot = filepath.Join(root, "none")
	vs, err = s.Read(context.Background())
	if _, statErr := os.Stat("/proc/self/status"); statErr != nil {
		t.Skip("no /proc here")
	}
	if err != nil || len(vs) != 1 || vs[0].Field != "process.rss_bytes" || vs[0].Value < 1<<20 {
		t.Errorf("real /proc: %+v, %v; want one RSS of at least 1 MiB", vs, err)
	}
}
