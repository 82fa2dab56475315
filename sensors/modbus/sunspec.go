package modbus

import (
	"context"
	"fmt"
	"strings"
)

// SunSpec: a device announces its map with "SunS" (0x5375 0x6E53) in two
// holding registers at 40000 (most), 0 or 50000, followed by a chain of
// models, each an ID register, a length register L and L registers of
// points, ending with ID 0xFFFF. Offsets below are from a model's ID
// register, as in the SunSpec model definitions (sunspec/models, json/).
const (
	sunsHi    = 0x5375 // "Su"
	sunsLo    = 0x6E53 // "nS"
	endModel  = 0xFFFF
	maxModels = 64 // a chain longer than this is taken as garbage
)

// sunspecBases are where the marker may sit, in the order the SunSpec
// specification lists them.
var sunspecBases = []uint16{40000, 0, 50000}

// sunspecModel is one model in a device's chain.
type sunspecModel struct {
	ID    uint16
	Start uint16 // address of its ID register
	Len   uint16
}

// sunspecDevice is what discovery found on one unit.
type sunspecDevice struct {
	Base                          uint16
	Maker, Model, Version, Serial string
	ModelIDs                      []int
	models                        []sunspecModel
	mppts                         int // modules of model 160
}

func (d *sunspecDevice) identity() string {
	return fmt.Sprintf("SunSpec at %d: maker %q, model %q, serial %q, version %q, models %v", d.Base, d.Maker, d.Model, d.Serial, d.Version, d.ModelIDs)
}

// discover finds the SunSpec marker on unit, walks the model chain and
// reads the common model (1) and model 160's module count.
func discover(ctx context.Context, b *Bus, unit uint8) (*sunspecDevice, error) {
	d := &sunspecDevice{}
	found := false
	for _, base := range sunspecBases {
		regs, err := b.read(ctx, unit, span{holding, base, 2})
		if err != nil && !isException(err) {
			return nil, err // silent unit, dead port: no point trying the next base
		}
		if err == nil && regs[0] == sunsHi && regs[1] == sunsLo {
			d.Base, found = base, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("unit %d on %s: no SunSpec marker \"SunS\" at holding register 40000, 0 or 50000", unit, b.link.Name)
	}
	if err := d.walk(ctx, b, unit); err != nil {
		return nil, err
	}
	for _, m := range d.models {
		var err error
		switch m.ID {
		case 1:
			err = d.readCommon(ctx, b, unit, m)
		case 160:
			err = d.readMPPTCount(ctx, b, unit, m)
		}
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *sunspecDevice) walk(ctx context.Context, b *Bus, unit uint8) error {
	addr := uint32(d.Base) + 2
	for range maxModels {
		if addr+1 > 0xFFFF {
			return fmt.Errorf("unit %d on %s: SunSpec model chain runs past register 0xFFFF", unit, b.link.Name)
		}
		regs, err := b.read(ctx, unit, span{holding, uint16(addr), 2})
		if err != nil {
			return fmt.Errorf("SunSpec model chain: %w", err)
		}
		if regs[0] == endModel {
			return nil
		}
		d.models = append(d.models, sunspecModel{ID: regs[0], Start: uint16(addr), Len: regs[1]})
		d.ModelIDs = append(d.ModelIDs, int(regs[0]))
		addr += 2 + uint32(regs[1])
	}
	return fmt.Errorf("unit %d on %s: SunSpec model chain has no end marker after %d models", unit, b.link.Name, maxModels)
}

// Model 1 (common): Mn at +2 (16 registers), Md +18 (16), Opt +34 (8),
// Vr +42 (8), SN +50 (16).
func (d *sunspecDevice) readCommon(ctx context.Context, b *Bus, unit uint8, m sunspecModel) error {
	if m.Len < 64 {
		return fmt.Errorf("unit %d on %s: SunSpec common model at %d has length %d, want at least 64", unit, b.link.Name, m.Start, m.Len)
	}
	regs, err := b.read(ctx, unit, span{holding, m.Start + 2, 64})
	if err != nil {
		return fmt.Errorf("SunSpec common model: %w", err)
	}
	d.Maker, d.Model = sunspecString(regs[0:16]), sunspecString(regs[16:32])
	d.Version, d.Serial = sunspecString(regs[40:48]), sunspecString(regs[48:64])
	return nil
}

// Model 160 (multiple MPPT): N, the module count, at +8; each module is
// 20 registers from +10.
func (d *sunspecDevice) readMPPTCount(ctx context.Context, b *Bus, unit uint8, m sunspecModel) error {
	regs, err := b.read(ctx, unit, span{holding, m.Start + 8, 1})
	if err != nil {
		return fmt.Errorf("SunSpec MPPT model: %w", err)
	}
	n := int(regs[0])
	if n == 0xFFFF || 8+20*n > int(m.Len) {
		return fmt.Errorf("unit %d on %s: SunSpec MPPT model at %d claims %d modules in length %d", unit, b.link.Name, m.Start, n, m.Len)
	}
	d.mppts = n
	return nil
}

// sunspecString decodes a SunSpec string: two ASCII bytes a register,
// NUL-padded.
func sunspecString(regs []uint16) string {
	b := make([]byte, 0, 2*len(regs))
	for _, r := range regs {
		b = append(b, byte(r>>8), byte(r))
	}
	return strings.TrimSpace(strings.TrimRight(string(b), "\x00"))
}

// sp is one SunSpec point relative to its model's ID register.
type sp struct {
	field string
	off   uint16
	typ   typ
	sf    int // offset of its scale factor; -1 none
	unit  string
	acc   bool
}

// Inverter models 101 (single phase), 102 (split) and 103 (three phase)
// share one layout; a phase a model lacks reads "not implemented".
var inverterPoints = []sp{
	{"current", 2, tUint16, 6, "A", false},
	{"current_a", 3, tUint16, 6, "A", false},
	{"current_b", 4, tUint16, 6, "A", false},
	{"current_c", 5, tUint16, 6, "A", false},
	{"voltage_ab", 7, tUint16, 13, "V", false},
	{"voltage_bc", 8, tUint16, 13, "V", false},
	{"voltage_ca", 9, tUint16, 13, "V", false},
	{"voltage_an", 10, tUint16, 13, "V", false},
	{"voltage_bn", 11, tUint16, 13, "V", false},
	{"voltage_cn", 12, tUint16, 13, "V", false},
	{"power", 14, tInt16, 15, "W", false},
	{"frequency", 16, tUint16, 17, "Hz", false},
	{"apparent_power", 18, tInt16, 19, "VA", false},
	{"reactive_power", 20, tInt16, 21, "var", false},
	{"power_factor", 22, tInt16, 23, "%", false},
	{"energy", 24, tUint32, 26, "Wh", true},
	{"dc_current", 27, tUint16, 28, "A", false},
	{"dc_voltage", 29, tUint16, 30, "V", false},
	{"dc_power", 31, tInt16, 32, "W", false},
	{"temperature_cabinet", 33, tInt16, 37, "°C", false},
	{"temperature_heatsink", 34, tInt16, 37, "°C", false},
	{"temperature_transformer", 35, tInt16, 37, "°C", false},
	{"temperature_other", 36, tInt16, 37, "°C", false},
	{"state", 38, tUint16, -1, "", false},
}

// inverterLen is the length of models 101-103.
const inverterLen = 50

// mpptPoints are one module of model 160, relative to the module's first
// register; their scale factors sit in the model's fixed part (+2..+5).
var mpptPoints = []sp{
	{"current", 9, tUint16, 2, "A", false},
	{"voltage", 10, tUint16, 3, "V", false},
	{"power", 11, tUint16, 4, "W", false},
	{"energy", 12, tUint32, 5, "Wh", true},
	{"temperature", 16, tInt16, -1, "°C", false},
	{"state", 17, tUint16, -1, "", false},
}

// points turns the models found into points to read: the first inverter
// model and the MPPT modules.
func (d *sunspecDevice) points() []point {
	var pts []point
	inverter := false
	for _, m := range d.models {
		switch {
		case m.ID >= 101 && m.ID <= 103 && !inverter && m.Len >= inverterLen:
			inverter = true
			for _, q := range inverterPoints {
				pts = append(pts, q.point("", m.Start, m.Start+q.off, m.ID))
			}
		case m.ID == 160:
			for i := range d.mppts {
				mod := m.Start + 10 + uint16(20*i)
				for _, q := range mpptPoints {
					pts = append(pts, q.point(fmt.Sprintf("mppt%d_", i+1), m.Start, mod+q.off, m.ID))
				}
			}
		}
	}
	return pts
}

func (q sp) point(prefix string, model, addr uint16, id uint16) point {
	p := point{
		key:   fmt.Sprintf("SunSpec model %d point %s", id, q.field),
		field: prefix + q.field, unit: q.unit, table: holding, addr: addr, typ: q.typ,
		scale: 1, sf: -1, sunspec: true, acc: q.acc,
	}
	if q.sf >= 0 {
		p.sf = int(model) + q.sf
	}
	return p
}
