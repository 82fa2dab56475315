package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/internal/testbroker"
)

// BenchmarkDaemonFootprint runs the real binary with 50 sim sensors at 1 s
// and a live uplink, and reports its peak RSS (VmHWM) and CPU use as % of
// one core. KARANA_FOOTPRINT_SECONDS sets the run length (default 60).
func BenchmarkDaemonFootprint(b *testing.B) {
	seconds := 60
	if s, err := strconv.Atoi(os.Getenv("KARANA_FOOTPRINT_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	bin := buildBinaryB(b)
	broker, err := testbroker.Start(b, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Stop()
	var delivered atomic.Int64
	broker.Subscribe("karana/footprint/data/#", func(string, []byte) { delivered.Add(1) })

	dir := b.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "[device]\nid = \"footprint\"\ndata_dir = %q\n[mqtt]\nbroker = \"tcp://%s\"\n", dir, broker.Addr())
	fmt.Fprintf(&cfg, "[[stream]]\nname = \"raw\"\nperiod = \"10s\"\n")
	waves := []string{"sine", "ramp", "counter", "random-walk", "solar"}
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&cfg, "[[sensor]]\nname = \"s%02d\"\ndriver = \"sim\"\nwaveform = %q\nresolution = 0.01\ninterval = \"1s\"\n", i, waves[i%len(waves)])
	}
	path := filepath.Join(dir, "config.toml")
	os.WriteFile(path, []byte(cfg.String()), 0o644)

	for i := 0; i < b.N; i++ {
		cmd := exec.Command(bin, "run", "-config", path)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(3 * time.Second) // start-up is not steady state
		cpu0 := cpuTicks(cmd.Process.Pid)
		t0 := time.Now()
		time.Sleep(time.Duration(seconds) * time.Second)
		cpu1 := cpuTicks(cmd.Process.Pid)
		elapsed := time.Since(t0)
		hwm := statusKiB(cmd.Process.Pid, "VmHWM:")
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		const ticksPerSecond = 100 // USER_HZ on Linux
		cpuPct := float64(cpu1-cpu0) / ticksPerSecond / elapsed.Seconds() * 100
		b.ReportMetric(float64(hwm)/1024, "peak-RSS-MiB")
		b.ReportMetric(cpuPct, "CPU-%core")
	}
	if delivered.Load() == 0 {
		b.Fatal("no batch reached the broker: the footprint was not of a working daemon")
	}
}

// cpuTicks is utime+stime from /proc/PID/stat.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

func statusKiB(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}
