package system

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/sensors"
)

func TestParse(t *testing.T) {
	if a, b, c, err := ParseLoadavg("0.52 0.58 0.59 1/467 12345\n"); err != nil || a != 0.52 || b != 0.58 || c != 0.59 {
		t.Errorf("loadavg %v %v %v %v", a, b, c, err)
	}
	if _, _, _, err := ParseLoadavg("0.5 x 1"); err == nil {
		t.Error("bad loadavg accepted")
	}
	data, _ := os.ReadFile("testdata/pi/proc/meminfo")
	if a, tot, err := ParseMeminfo(string(data)); err != nil || a != 304556*1024 || tot != 439200*1024 {
		t.Errorf("meminfo %d %d %v", a, tot, err)
	}
	if _, _, err := ParseMeminfo("MemTotal: 1 kB\n"); err == nil || !strings.Contains(err.Error(), "MemAvailable") {
		t.Errorf("meminfo without MemAvailable: %v", err)
	}
	if u, err := ParseUptime("350735.47 234388.90\n"); err != nil || u != 350735.47 {
		t.Errorf("uptime %v %v", u, err)
	}
	if c, err := ParseMilli("-5250\n"); err != nil || c != -5.25 {
		t.Errorf("milli %v %v", c, err)
	}
	for s, want := range map[string]uint64{"0\n": 0, "50005\n": 0x50005, "0x50000": 0x50000} {
		if v, err := ParseThrottled(s); err != nil || v != want {
			t.Errorf("throttled %q = %x, %v", s, v, err)
		}
	}
	if _, err := ParseThrottled("throttled=0x0"); err == nil {
		t.Error("vcgencmd's text accepted as the sysfs value")
	}
}

// copyTree copies a fixture tree into a temporary directory, where the test
// may add files whose names testdata should not hold (soc:firmware).
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func readAll(t *testing.T, o Options) (map[string]sensors.Value, error) {
	t.Helper()
	s, err := New("box", &o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	vals, err := s.Read(context.Background())
	m := map[string]sensors.Value{}
	for _, v := range vals {
		m[v.Field] = v
	}
	return m, err
}

func TestPi(t *testing.T) {
	root := copyTree(t, "testdata/pi")
	fw := filepath.Join(root, "sys", "devices", "platform", "soc", "soc:firmware")
	if err := os.MkdirAll(fw, 0o755); err != nil {
		t.Fatal(err)
	}
	// Under-voltage now (bit 0) and since boot (bit 16), throttled (bits 2, 18).
	if err := os.WriteFile(filepath.Join(fw, "get_throttled"), []byte("50005\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	m, err := readAll(t, Options{Path: root, ProcRoot: filepath.Join(root, "proc"), SysRoot: filepath.Join(root, "sys")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]sensors.Value{
		"cpu_temp":               {Field: "cpu_temp", Value: 48.312, Unit: "°C"},
		"load1":                  {Field: "load1", Value: 0.52},
		"load5":                  {Field: "load5", Value: 0.58},
		"load15":                 {Field: "load15", Value: 0.59},
		"mem_available":          {Field: "mem_available", Value: 304556 * 1024, Unit: "B"},
		"mem_total":              {Field: "mem_total", Value: 439200 * 1024, Unit: "B"},
		"uptime":                 {Field: "uptime", Value: 350735.47, Unit: "s"},
		"throttled":              {Field: "throttled", Value: 0x50005},
		"under_voltage":          {Field: "under_voltage", Value: 1},
		"under_voltage_occurred": {Field: "under_voltage_occurred", Value: 1},
	}
	for k, w := range want {
		if m[k] != w {
			t.Errorf("%s = %+v, want %+v", k, m[k], w)
		}
	}
	if d := m["disk_free"]; d.Value <= 0 || d.Unit != "B" {
		t.Errorf("disk_free = %+v", d)
	}
	if len(m) != len(want)+1 {
		t.Errorf("fields %v", m)
	}
}

// A box without thermal zone or firmware flags: those fields are left out.
func TestMissingFieldsOmitted(t *testing.T) {
	root, _ := filepath.Abs("testdata/bare")
	m, err := readAll(t, Options{Path: filepath.Join(root, "nosuch"), ProcRoot: filepath.Join(root, "proc"), SysRoot: filepath.Join(root, "sys")})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m["load1"].Value != 1 || m["load15"].Value != 0.25 {
		t.Errorf("fields %+v, want only the load", m)
	}

	_, err = readAll(t, Options{Path: "/nonexistent", ProcRoot: "/nonexistent/proc", SysRoot: "/nonexistent/sys"})
	if err == nil || !strings.HasPrefix(err.Error(), "nothing readable: ") || !strings.Contains(err.Error(), "loadavg") {
		t.Errorf("nothing readable: %v", err)
	}
}

// The real /proc and /sys of the machine running the test: whatever it
// has, the read succeeds and the load and memory are there.
func TestThisMachine(t *testing.T) {
	m, err := readAll(t, Options{Path: t.TempDir(), ProcRoot: "/proc", SysRoot: "/sys"})
	if err != nil {
		t.Fatal(err)
	}
	if m["mem_total"].Value <= 0 || m["disk_free"].Value <= 0 {
		t.Errorf("this machine: %+v", m)
	}
}

func TestValidate(t *testing.T) {
	_, err := New("box", &Options{Path: "data", ProcRoot: "/proc", SysRoot: "sys"})
	if err == nil || !strings.Contains(err.Error(), "path: must be an absolute path") || !strings.Contains(err.Error(), "sys_root:") {
		t.Errorf("New = %v", err)
	}
}

// BenchmarkRead reads this machine's /proc and /sys once per iteration.
func BenchmarkRead(b *testing.B) {
	s, err := New("box", &Options{Path: b.TempDir(), ProcRoot: "/proc", SysRoot: "/sys"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Read(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/read")
}
