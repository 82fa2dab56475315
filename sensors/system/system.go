package system

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "system",
		Doc:  "the box itself: CPU temperature, load, memory, free disk, uptime, Raspberry Pi throttling",
	}, DefaultOptions, New)
}

// Options are the system driver's keys, inline in its [[sensor]] table.
type Options struct {
	// Path is a file on the file system whose free space is reported.
	// Default "/var/lib/karana-edge" (the default data_dir).
	Path string `toml:"path"`
	// ProcRoot is where procfs is mounted. Default "/proc".
	ProcRoot string `toml:"proc_root"`
	// SysRoot is where sysfs is mounted. Default "/sys".
	SysRoot string `toml:"sys_root"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{Path: "/var/lib/karana-edge", ProcRoot: "/proc", SysRoot: "/sys"}
}

// Sensor reads the box's own figures.
type Sensor struct {
	o  Options
	mu sync.Mutex
}

// New validates opts and returns the sensor.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	for key, p := range map[string]string{"path": o.Path, "proc_root": o.ProcRoot, "sys_root": o.SysRoot} {
		if !filepath.IsAbs(p) {
			errs.Add(key, "must be an absolute path, got %q", p)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &Sensor{o: o}, nil
}

// Read returns every field whose source can be read.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vals []sensors.Value
	var errs []error
	add := func(field, unit string, v float64) {
		vals = append(vals, sensors.Value{Field: field, Value: v, Unit: unit})
	}
	read := func(root string, rel ...string) (string, bool) {
		p := filepath.Join(append([]string{root}, rel...)...)
		b, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			return "", false
		}
		return string(b), true
	}
	fail := func(what string, err error) { errs = append(errs, fmt.Errorf("%s: %w", what, err)) }

	if t, ok := read(s.o.SysRoot, "class", "thermal", "thermal_zone0", "temp"); ok {
		if c, err := ParseMilli(t); err != nil {
			fail("cpu_temp", err)
		} else {
			add("cpu_temp", "°C", c)
		}
	}
	if t, ok := read(s.o.ProcRoot, "loadavg"); ok {
		if l1, l5, l15, err := ParseLoadavg(t); err != nil {
			fail("load", err)
		} else {
			add("load1", "", l1)
			add("load5", "", l5)
			add("load15", "", l15)
		}
	}
	if t, ok := read(s.o.ProcRoot, "meminfo"); ok {
		if a, tot, err := ParseMeminfo(t); err != nil {
			fail("memory", err)
		} else {
			add("mem_available", "B", float64(a))
			add("mem_total", "B", float64(tot))
		}
	}
	if free, err := diskFree(s.o.Path); err != nil {
		fail("disk_free "+s.o.Path, err)
	} else {
		add("disk_free", "B", float64(free))
	}
	if t, ok := read(s.o.ProcRoot, "uptime"); ok {
		if u, err := ParseUptime(t); err != nil {
			fail("uptime", err)
		} else {
			add("uptime", "s", u)
		}
	}
	if t, ok := read(s.o.SysRoot, "devices", "platform", "soc", "soc:firmware", "get_throttled"); ok {
		if v, err := ParseThrottled(t); err != nil {
			fail("throttled", err)
		} else {
			add("throttled", "", float64(v))
			add("under_voltage", "", float64(v&1))
			add("under_voltage_occurred", "", float64(v>>16&1))
		}
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("nothing readable: %w", errors.Join(errs...))
	}
	return vals, nil
}

// Close does nothing: every read opens the files it needs.
func (s *Sensor) Close() error { return nil }
