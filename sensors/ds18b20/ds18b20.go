package ds18b20

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
)

func init() {
	sensors.Register(sensors.Driver{
		Name: "ds18b20",
		Doc:  "DS18B20 1-Wire temperature probes via the kernel's w1 sysfs, one probe or all, °C",
	}, DefaultOptions, New)
}

// DefaultRoot is where the kernel lists 1-Wire devices.
const DefaultRoot = "/sys/bus/w1/devices"

// families are the w1_therm device families, as id prefixes.
var families = []string{"10-", "22-", "28-", "3b-", "42-"}

var idRE = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{12}$`)

// Options are the ds18b20 driver's keys, inline in its [[sensor]] table.
type Options struct {
	// Root is the w1 devices directory. Default "/sys/bus/w1/devices".
	Root string `toml:"root"`
	// ID is one probe's id ("28-00000abcdef1"), or "*" for every probe on
	// the bus. Default "*".
	ID string `toml:"id"`
	// Names maps probe ids to field names; a probe not in it is named by
	// its id. Default none.
	Names map[string]string `toml:"names"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options { return Options{Root: DefaultRoot, ID: "*"} }

// BusName implements sensors.BusUser: the kernel's 1-Wire bus.
func (o *Options) BusName() string { return "w1" }

// Sensor reads one or all probes.
type Sensor struct {
	o  Options
	mu sync.Mutex
}

// New validates opts and returns the sensor.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	var errs config.FieldErrors
	if !filepath.IsAbs(o.Root) {
		errs.Add("root", "must be an absolute path, got %q", o.Root)
	}
	if o.ID != "*" && !idRE.MatchString(o.ID) {
		errs.Add("id", `must be "*" or a probe id like "28-00000abcdef1" (ls %s), got %q`, DefaultRoot, o.ID)
	}
	fields := map[string]string{}
	ids := make([]string, 0, len(o.Names))
	for id := range o.Names {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := o.Names[id]
		key := config.JoinKey("names", id)
		if !idRE.MatchString(id) {
			errs.Add(key, "not a probe id like \"28-00000abcdef1\": %q", id)
		}
		if !reading.ValidName(f) {
			errs.Add(key, "invalid field name %q: use ASCII letters, digits, '-', '_' and '.'", f)
		}
		if other, dup := fields[f]; dup {
			errs.Add(key, "field %q is also the name of probe %s", f, other)
		}
		fields[f] = id
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	o.Names = cloneMap(o.Names)
	return &Sensor{o: o}, nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Read reads the configured probes, in id order.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, err := s.probes()
	if err != nil {
		return nil, err
	}
	vals := make([]sensors.Value, 0, len(ids))
	var errs []error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("after %d of %d probes: %w", len(vals), len(ids), err)
		}
		field := id
		if f, ok := s.o.Names[id]; ok {
			field = f
		}
		milli, err := readProbe(filepath.Join(s.o.Root, id))
		v := float64(milli) / 1000
		if err != nil {
			errs = append(errs, fmt.Errorf("probe %s: %w", id, err))
			v = math.NaN() // dropped and counted by the sampler
		}
		vals = append(vals, sensors.Value{Field: field, Value: v, Unit: "°C"})
	}
	if len(errs) == len(ids) {
		return nil, errors.Join(errs...)
	}
	return vals, nil
}

// probes lists the probe ids to read.
func (s *Sensor) probes() ([]string, error) {
	entries, err := os.ReadDir(s.o.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no 1-Wire bus: %s does not exist (enable it: dtoverlay=w1-gpio,gpiopin=4 in /boot/firmware/config.txt, then reboot): %w",
			s.o.Root, sensors.ErrNotFitted)
	}
	if err != nil {
		return nil, fmt.Errorf("1-Wire bus: %w", err)
	}
	var ids []string
	for _, e := range entries {
		for _, f := range families {
			if strings.HasPrefix(e.Name(), f) {
				ids = append(ids, e.Name())
			}
		}
	}
	sort.Strings(ids)
	if s.o.ID == "*" {
		if len(ids) == 0 {
			return nil, fmt.Errorf("no temperature probe on the 1-Wire bus (%s): check the wiring and the 4.7 kΩ pull-up from DATA to 3.3 V: %w",
				s.o.Root, sensors.ErrNotFitted)
		}
		return ids, nil
	}
	for _, id := range ids {
		if id == s.o.ID {
			return []string{id}, nil
		}
	}
	present := "none"
	if len(ids) > 0 {
		present = strings.Join(ids, ", ")
	}
	return nil, fmt.Errorf("probe %s is not on the 1-Wire bus (present: %s): check its wiring, or the id: %w", s.o.ID, present, sensors.ErrNotFitted)
}

// readProbe returns a probe's temperature in milli-°C from w1_slave, which
// holds the scratchpad the kernel read. The newer temperature file is not
// used: it holds only the kernel's conversion, which cannot tell an
// all-zero scratchpad (data line held low; its CRC is zero too) from 0 °C,
// and is left empty on a CRC failure. Both files start a conversion, so
// reading both would double the read time.
func readProbe(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "w1_slave"))
	if err != nil {
		return 0, err
	}
	family, _, _ := strings.Cut(filepath.Base(dir), "-")
	return ParseW1Slave(family, string(b))
}

// Close does nothing: every read opens the files it needs.
func (s *Sensor) Close() error { return nil }
