// Package karana is karana-edge's self-telemetry as a sensor: the agent's
// own health (buffer depth, drops and commit time, uplink state, per-sensor
// error counts, memory, CPU temperature, clock sync) sampled on its own
// schedule into the same buffer as every other reading, as series
// karana.<field>. Ordinary readings need no second path to the backend:
// they are buffered through outages, counted, and sent on their own stream.
//
// It is not in the driver registry: its values are the agent's view, which
// a config table cannot name, so the agent builds it itself from [telemetry]
// (agent/telemetry.go) and a [[sensor]] cannot use driver "karana".
package karana

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/karana-energy/karana-edge/sensors"
)

// Name is the sensor's name, so every series is karana.<field>.
const Name = "karana"

// Sensor reads what its collect function returns, plus the process's own
// figures (Process).
type Sensor struct {
	collect func() []sensors.Value
	// ProcRoot and SysRoot move /proc and /sys for tests.
	ProcRoot, SysRoot string
}

// New returns the telemetry sensor; collect gives the agent's figures at
// each read (it must not block: it runs under the read's timeout).
func New(collect func() []sensors.Value) *Sensor {
	return &Sensor{collect: collect, ProcRoot: "/proc", SysRoot: "/sys"}
}

// Read returns the agent's figures and the process's.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	var vs []sensors.Value
	if s.collect != nil {
		vs = s.collect()
	}
	vs = append(vs, Process(s.ProcRoot, s.SysRoot)...)
	if len(vs) == 0 {
		return nil, errors.New("karana: nothing to report")
	}
	return vs, ctx.Err()
}

// Close does nothing: the sensor holds nothing open.
func (s *Sensor) Close() error { return nil }

// Process returns what the kernel says about this process and the box,
// each left out when its source is missing:
//
//	process.rss_bytes  B   VmRSS of /proc/self/status: resident memory,
//	                       the bbolt map's touched pages included
//	cpu.temp           °C  /sys/class/thermal/thermal_zone0/temp (m°C)
func Process(procRoot, sysRoot string) []sensors.Value {
	var vs []sensors.Value
	if rss, ok := vmRSS(filepath.Join(procRoot, "self", "status")); ok {
		vs = append(vs, sensors.Value{Field: "process.rss_bytes", Value: rss, Unit: "B"})
	}
	if b, err := os.ReadFile(filepath.Join(sysRoot, "class", "thermal", "thermal_zone0", "temp")); err == nil {
		if m, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil {
			vs = append(vs, sensors.Value{Field: "cpu.temp", Value: m / 1000, Unit: "°C"})
		}
	}
	return vs
}

// vmRSS parses "VmRSS:   12345 kB" from a /proc/<pid>/status file.
func vmRSS(path string) (float64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		return kb * 1024, err == nil
	}
	return 0, false
}
