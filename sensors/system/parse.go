package system

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// ParseLoadavg parses /proc/loadavg: "0.52 0.58 0.59 1/467 12345".
func ParseLoadavg(s string) (l1, l5, l15 float64, err error) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return 0, 0, 0, fmt.Errorf("loadavg: want three numbers, got %q", s)
	}
	var v [3]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return 0, 0, 0, fmt.Errorf("loadavg: %q is not a number", f[i])
		}
	}
	return v[0], v[1], v[2], nil
}

// ParseMeminfo parses /proc/meminfo and returns MemAvailable and MemTotal
// in bytes (the file counts kB of 1024 bytes).
func ParseMeminfo(s string) (available, total uint64, err error) {
	var haveA, haveT bool
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "MemAvailable" && key != "MemTotal") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, 0, fmt.Errorf("meminfo %s: no value", key)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("meminfo %s: %q is not a number", key, f[0])
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		if key == "MemAvailable" {
			available, haveA = n, true
		} else {
			total, haveT = n, true
		}
	}
	if !haveA || !haveT {
		return 0, 0, fmt.Errorf("meminfo: MemAvailable or MemTotal missing (kernel before 3.14?)")
	}
	return available, total, nil
}

// ParseUptime parses /proc/uptime: "350735.47 234388.90", seconds.
func ParseUptime(s string) (float64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, fmt.Errorf("uptime: empty")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("uptime: %q is not a number", f[0])
	}
	return v, nil
}

// ParseMilli parses a sysfs value in thousandths ("48312" → 48.312).
func ParseMilli(s string) (float64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", strings.TrimSpace(s))
	}
	return float64(n) / 1000, nil
}

// ParseThrottled parses get_throttled: the firmware's flags in hex, with or
// without 0x ("50005", "0x50005", "0").
func ParseThrottled(s string) (uint64, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "0x")
	v, err := strconv.ParseUint(t, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("get_throttled: %q is not a hex number", strings.TrimSpace(s))
	}
	return v, nil
}
