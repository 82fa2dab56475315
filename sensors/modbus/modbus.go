package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/karana-energy/karana-edge/sensors"
)

// Name is the driver's registered name.
const Name = "modbus"

func init() {
	sensors.Register(sensors.Driver{
		Name: Name,
		Doc:  "Modbus RTU (RS-485 port, shared by the sensors on it), Modbus TCP and RTU over TCP; inline registers or a shipped profile (Eastron, EPEver, PZEM, Victron GX, SunSpec)",
	}, DefaultOptions, New)
}

// Sensor is one Modbus device (one unit id on a bus).
type Sensor struct {
	name string
	o    Options
	unit uint8
	plan *plan
	gap  int

	mu       sync.Mutex // one read at a time
	bus      *Bus
	points   []point // the plan's, or SunSpec's as discovered
	spans    []span  // nil: plan again from points
	identity string  // SunSpec common model, after discovery
	split    map[span]bool
}

// New validates opts and returns the sensor; it opens nothing.
func New(name string, opts *Options) (*Sensor, error) {
	p, err := opts.validate()
	if err != nil {
		return nil, err
	}
	o := *opts
	o.Registers = append([]Register(nil), o.Registers...)
	unit := o.UnitID
	if unit == 0 {
		unit = 1
		if p.profile != nil && p.profile.UnitID != 0 {
			unit = p.profile.UnitID
		}
	}
	gap := defaultMaxGap
	if o.MaxGap != nil {
		gap = *o.MaxGap
	}
	// The effective config shows the unit and gap in use.
	opts.UnitID, opts.MaxGap = unit, &gap
	o.UnitID, o.MaxGap = unit, &gap
	return &Sensor{name: name, o: o, unit: uint8(unit), plan: p, gap: gap, split: map[span]bool{}}, nil
}

// Options returns the sensor's effective options.
func (s *Sensor) Options() Options { return s.o }

// Identity is the device's maker, model and serial as it reports them
// (SunSpec's common model), once a read has found them; "" otherwise.
func (s *Sensor) Identity() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.identity
}

// Read reads every register of the sensor, in as few requests as the
// device allows, and decodes them.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bus == nil {
		b, err := acquire(s.o.link())
		if err != nil {
			return nil, err
		}
		s.bus = b
	}
	if s.points == nil {
		if err := s.setup(ctx); err != nil {
			return nil, err
		}
	}
	if s.spans == nil {
		s.spans = s.coalesce()
	}
	im := image{}
	for i := 0; i < len(s.spans); i++ {
		sp := s.spans[i]
		regs, err := s.bus.read(ctx, s.unit, sp)
		if err != nil && isException(err) && sp.count > 1 && !s.split[sp] {
			// Some devices refuse a read across registers they do not
			// map. Ask for each range alone, this time and from now on.
			parts := single(sp, needs(s.points))
			if len(parts) > 1 {
				slog.Warn("modbus: device refused a merged read; reading its registers one by one from now on",
					"sensor", s.name, "error", err.Error(), "requests", len(parts))
				s.split[sp] = true
				s.spans = append(s.spans[:i:i], append(parts, s.spans[i+1:]...)...)
				i--
				continue
			}
		}
		if err != nil && isException(err) && s.fromProfile(sp) {
			// A profile covers a device family; this member lacks the
			// register. Its field is missing, and it is not asked again.
			slog.Warn("modbus: device refuses a register of its profile; leaving that field out from now on",
				"sensor", s.name, "error", err.Error(), "fields", s.fieldsIn(sp))
			s.spans = append(s.spans[:i:i], s.spans[i+1:]...)
			i--
			continue
		}
		if err != nil {
			// A silent unit fails now, not once per request: it costs the
			// bus one timeout per read.
			return nil, err
		}
		for j, r := range regs {
			im[key(sp.table, sp.start+uint16(j))] = r
		}
	}
	return s.decode(im), nil
}

// covered lists the points a span reads (or reads the scale factor of).
func (s *Sensor) covered(sp span) []*point {
	var out []*point
	for i := range s.points {
		p := &s.points[i]
		in := func(a uint16, n uint16) bool {
			return p.table == sp.table && uint32(a)+uint32(n) > uint32(sp.start) && uint32(a) < sp.end()
		}
		if in(p.addr, p.width()) || p.sf >= 0 && in(uint16(p.sf), 1) {
			out = append(out, p)
		}
	}
	return out
}

// fromProfile reports whether every point sp reads came from a profile or
// SunSpec discovery, not from the sensor's own [[sensor.register]] tables,
// whose refusal is an error to fix.
func (s *Sensor) fromProfile(sp span) bool {
	pts := s.covered(sp)
	for _, p := range pts {
		if p.inline() {
			return false
		}
	}
	return len(pts) > 0
}

func (s *Sensor) fieldsIn(sp span) string {
	var names []string
	for _, p := range s.covered(sp) {
		names = append(names, p.field)
	}
	return strings.Join(names, ",")
}

// coalesce plans the requests for the points.
func (s *Sensor) coalesce() []span {
	limit := s.o.MaxRegisters
	if p := s.plan.profile; p != nil && p.MaxRegisters > 0 {
		limit = min(limit, p.MaxRegisters)
	}
	return coalesce(needs(s.points), limit, s.gap)
}

// setup fixes the points: the plan's, or for SunSpec what the device's
// model chain says.
func (s *Sensor) setup(ctx context.Context) error {
	if !s.plan.sunspec {
		s.points = s.plan.points
		return nil
	}
	dev, err := discover(ctx, s.bus, s.unit)
	if err != nil {
		return err
	}
	s.identity = dev.identity()
	slog.Info("modbus: SunSpec device", "sensor", s.name, "bus", s.bus.link.Name, "unit", s.unit,
		"maker", dev.Maker, "model", dev.Model, "serial", dev.Serial, "version", dev.Version, "models", fmt.Sprint(dev.ModelIDs))
	pts := dev.points()
	// Inline registers of a sunspec sensor add to what discovery found.
	for _, p := range s.plan.points {
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return fmt.Errorf("unit %d on %s: SunSpec models %v include no inverter (101-103) or MPPT (160) model", s.unit, s.bus.link.Name, dev.ModelIDs)
	}
	s.points = pts
	return nil
}

func (s *Sensor) decode(im image) []sensors.Value {
	out := make([]sensors.Value, 0, len(s.points))
	for i := range s.points {
		p := &s.points[i]
		if v, ok := p.value(im); ok {
			out = append(out, sensors.Value{Field: p.field, Value: v, Unit: p.unit})
		}
	}
	return out
}

// Close lets go of the bus (the last sensor on it closes the port); the
// next Read takes it again and, for SunSpec, walks the models afresh.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bus != nil {
		s.bus.release()
		s.bus = nil
	}
	if s.plan.sunspec {
		// Walk the models again on the next read: the device may have been
		// swapped. Identity keeps the last one found until then, for `read`.
		s.points, s.spans = nil, nil
	}
	return nil
}
