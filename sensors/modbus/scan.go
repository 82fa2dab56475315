package modbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	mb "github.com/simonvetter/modbus"
)

// Found is one unit that answered a scan.
type Found struct {
	Unit int
	// SunSpec is the device's identity from its common model, if it has
	// the SunSpec map.
	SunSpec string
	// Likely lists shipped profiles whose probe register holds a value in
	// the range that kind of device would show ("eastron-sdm630 (input
	// 0x0046 = 50)").
	Likely []string
}

// ScanOptions says where to scan; the link keys are the driver's own.
type ScanOptions struct {
	Options
	Units []int
}

// Scan asks each unit for holding register 40000 (SunSpec's marker)
// and, if that goes unanswered, input register 0: a unit that answers
// either, even with an exception, is there. A present unit is probed for
// SunSpec and for each shipped profile's identifying register. progress,
// if not nil, is called before each unit.
func Scan(ctx context.Context, so ScanOptions, progress func(unit int)) ([]Found, error) {
	o := so.Options
	o.Registers = nil
	o.Profile = ""
	if err := o.scanValid(); err != nil {
		return nil, err
	}
	b, err := acquire(o.link())
	if err != nil {
		return nil, err
	}
	defer b.release()
	var found []Found
	for _, u := range so.Units {
		if err := ctx.Err(); err != nil {
			return found, err
		}
		if progress != nil {
			progress(u)
		}
		f, present, err := scanUnit(ctx, b, uint8(u))
		if err != nil && linkLost(err) {
			return found, err // the port itself failed: every unit would
		}
		if present {
			found = append(found, f)
		}
	}
	return found, nil
}

func (o *Options) scanValid() error {
	o.Profile = "sunspec" // satisfies "something to read"
	_, err := o.validate()
	o.Profile = ""
	return err
}

func scanUnit(ctx context.Context, b *Bus, unit uint8) (Found, bool, error) {
	f := Found{Unit: int(unit)}
	_, err := b.read(ctx, unit, span{holding, 40000, 2})
	if timedOut(err) {
		if _, err = b.read(ctx, unit, span{input, 0, 1}); timedOut(err) {
			return f, false, err
		}
	}
	if errors.Is(err, mb.ErrGWTargetFailedToRespond) || errors.Is(err, mb.ErrGWPathUnavailable) {
		return f, false, nil // a TCP gateway saying nothing is behind that unit id
	}
	if err != nil && !isException(err) {
		return f, false, err
	}
	if dev, err := discover(ctx, b, unit); err == nil {
		f.SunSpec = dev.identity()
	}
	for _, name := range ProfileNames() {
		p, _ := LookupProfile(name)
		if p.Probe == nil {
			continue
		}
		if v, ok := probe(ctx, b, unit, p.Probe); ok {
			f.Likely = append(f.Likely, fmt.Sprintf("%s (%s %s = %s)", name, p.Probe.tableName(), hexAddr(p.Probe.Address), strconv.FormatFloat(v, 'f', -1, 64)))
		}
	}
	return f, true, nil
}

// probe reads p's register and reports its value if it is in range.
func probe(ctx context.Context, b *Bus, unit uint8, p *Probe) (float64, bool) {
	r := p.Register
	r.Field = "probe"
	pt, errs := r.point("probe")
	if len(errs) > 0 {
		return 0, false
	}
	regs, err := b.read(ctx, unit, span{pt.table, pt.addr, pt.width()})
	if err != nil {
		return 0, false
	}
	im := image{}
	for i, r := range regs {
		im[key(pt.table, pt.addr+uint16(i))] = r
	}
	v, ok := pt.value(im)
	return v, ok && v >= p.Min && v <= p.Max
}

func (r Register) tableName() string {
	if r.Table == "" {
		return "holding"
	}
	return r.Table
}

func hexAddr(a int) string { return fmt.Sprintf("0x%04X", a) }

// ParseUnits parses "1-247", "1,2,5-7".
func ParseUnits(s string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(lo)
		z := a
		var err2 error
		if isRange {
			z, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || z > 255 || a > z {
			return nil, fmt.Errorf("units %q: want unit ids or ranges within 0-255 such as 1-247 or 1,2,5-7", s)
		}
		for u := a; u <= z; u++ {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out, nil
}
