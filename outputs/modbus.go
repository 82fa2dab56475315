package outputs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors/modbus"
)

// ModbusKeys are a modbus output's keys: the bus as a modbus sensor names
// it, and the one coil or holding register written. A zero value is the
// key's default, so the keys left out of a gpio or exec output are zero
// and any one set there is refused.
type ModbusKeys struct {
	// Port is the RS-485 serial device; with Baud (default 9600),
	// DataBits (8), Parity ("N"), StopBits (1). Or URL: "tcp://host:port"
	// or "rtuovertcp://host:port". As for a modbus sensor, whose bus an
	// output on the same port shares.
	Port     string `toml:"port"`
	Baud     int    `toml:"baud"`
	DataBits int    `toml:"data_bits"`
	Parity   string `toml:"parity"`
	StopBits int    `toml:"stop_bits"`
	URL      string `toml:"url"`
	// UnitID is the device's address; default 1.
	UnitID int `toml:"unit_id"`
	// Table is "coil" (function 05: on writes ON) or "holding" (function
	// 06: on writes OnValue, off OffValue).
	Table string `toml:"table"`
	// Address is the 0-based PDU address (decimal or 0x hex). No default:
	// a write to a wrong address switches something else.
	Address *int `toml:"address"`
	// OnValue and OffValue (holding only) default to 1 and 0.
	OnValue  *int `toml:"on_value"`
	OffValue *int `toml:"off_value"`
	// RequestTimeout bounds one write. Default 1s.
	RequestTimeout config.Duration `toml:"request_timeout"`
}

// busOptions are k's bus keys as a modbus sensor's, defaults filled in.
func (k *ModbusKeys) busOptions() modbus.Options {
	o := modbus.DefaultOptions()
	o.Port, o.URL, o.UnitID = k.Port, k.URL, k.UnitID
	if k.Baud != 0 {
		o.Baud = k.Baud
	}
	if k.DataBits != 0 {
		o.DataBits = k.DataBits
	}
	if k.Parity != "" {
		o.Parity = k.Parity
	}
	if k.StopBits != 0 {
		o.StopBits = k.StopBits
	}
	if k.RequestTimeout.Duration != 0 {
		o.RequestTimeout = k.RequestTimeout
	}
	if o.UnitID == 0 {
		o.UnitID = 1
	}
	return o
}

func (k *ModbusKeys) refuse(errs *config.FieldErrors, driver string) {
	set := []struct {
		key string
		on  bool
	}{
		{"port", k.Port != ""}, {"baud", k.Baud != 0}, {"data_bits", k.DataBits != 0},
		{"parity", k.Parity != ""}, {"stop_bits", k.StopBits != 0}, {"url", k.URL != ""},
		{"unit_id", k.UnitID != 0}, {"table", k.Table != ""}, {"address", k.Address != nil},
		{"on_value", k.OnValue != nil}, {"off_value", k.OffValue != nil},
		{"request_timeout", k.RequestTimeout.Duration != 0},
	}
	for _, s := range set {
		if s.on {
			errs.Add(s.key, "is for driver \"modbus\", not %s", driver)
		}
	}
}

func (c *Config) validateModbus(errs *config.FieldErrors) {
	k := &c.ModbusKeys
	o := k.busOptions()
	o.ValidateLink(errs)
	if c.Pin != "" {
		errs.Add("pin", "is for driver \"gpio\"; a modbus output writes table and address")
	}
	if len(c.Command) > 0 {
		errs.Add("command", "is for driver \"exec\"")
	}
	if c.Active == "low" {
		errs.Add("active", `is for driver "gpio"; a modbus output writes on_value/off_value (holding) or the coil ON for on`)
	}
	switch k.Table {
	case "coil":
		if k.OnValue != nil {
			errs.Add("on_value", `is for table "holding"; a coil is written ON for on, OFF for off`)
		}
		if k.OffValue != nil {
			errs.Add("off_value", `is for table "holding"; a coil is written ON for on, OFF for off`)
		}
	case "holding":
		for _, v := range []struct {
			key string
			v   *int
		}{{"on_value", k.OnValue}, {"off_value", k.OffValue}} {
			if v.v != nil && (*v.v < 0 || *v.v > 0xFFFF) {
				errs.Add(v.key, "must fit a register, 0-65535 (0x0000-0xFFFF), got %d", *v.v)
			}
		}
		if k.OnValue != nil && k.OffValue != nil && *k.OnValue == *k.OffValue {
			errs.Add("off_value", "is on_value (%d): on and off would write the same", *k.OnValue)
		}
	default:
		errs.Add("table", `must be "coil" (write single coil) or "holding" (write single register), got %q`, k.Table)
	}
	switch {
	case k.Address == nil:
		errs.Add("address", "must be set: the 0-based PDU address of the %s (decimal or 0x hex)", k.tableName())
	case *k.Address < 0 || *k.Address > 0xFFFF:
		errs.Add("address", "must be a 0-based PDU address 0-65535 (0x0000-0xFFFF), got %d", *k.Address)
	}
}

func (k *ModbusKeys) tableName() string {
	if k.Table == "holding" {
		return "holding register"
	}
	return "coil"
}

func valueOr(p *int, def uint16) uint16 {
	if p == nil {
		return def
	}
	return uint16(*p)
}

// openModbus takes c's bus (shared with the sensors and outputs on it),
// and writes the safe state at once (New does).
func openModbus(c Config) (Driver, error) {
	o := c.busOptions()
	b, err := modbus.AcquireBus(o)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", c.Name, err)
	}
	d := &modbusOut{
		now: time.Now, bus: b, name: c.Name, unit: uint8(o.UnitID), addr: uint16(*c.Address), coil: c.Table == "coil",
		onV: valueOr(c.OnValue, 1), offV: valueOr(c.OffValue, 0),
		// The write may wait for a sensor's request in flight on the bus
		// (a few request timeouts at worst), then takes one itself.
		timeout: 3*o.RequestTimeout.Duration + time.Second,
	}
	return d, nil
}

// modbusRetry is how long a modbus output leaves the bus alone after a
// failed write. The rules engine drives outputs at every reading the box
// takes; a relay that does not answer would otherwise cost a request
// timeout of bus time (and of the engine's) at each one.
var modbusRetry = 5 * time.Second

type modbusOut struct {
	now       func() time.Time
	failedAt  time.Time // the last failed write; zero after a success
	failedOn  bool      // the state it wrote
	lastErr   error
	bus       *modbus.Bus
	name      string
	unit      uint8
	addr      uint16
	coil      bool
	onV, offV uint16
	timeout   time.Duration
}

// Set writes the coil or register. An error (the unit refused, did not
// answer, the port is gone) leaves the output's state unclaimed; the
// caller retries at its next evaluation. The same state is written again
// no sooner than modbusRetry after its failure (a different one, such as
// the safe state at shutdown, at once). The device's answer to a write
// echoes the value it took and the library checks the echo, so there is
// no read back.
func (d *modbusOut) Set(on bool) error {
	if d.bus == nil {
		return fmt.Errorf("output %s: set after close", d.name)
	}
	if !d.failedAt.IsZero() && on == d.failedOn && d.now().Sub(d.failedAt) < modbusRetry {
		return d.lastErr // the same error, so it is logged once
	}
	err := d.write(on)
	if err != nil {
		d.failedAt, d.failedOn, d.lastErr = d.now(), on, err
		return err
	}
	d.failedAt, d.lastErr = time.Time{}, nil
	return nil
}

func (d *modbusOut) write(on bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	var err error
	if d.coil {
		err = d.bus.WriteCoil(ctx, d.unit, d.addr, on)
	} else {
		v := d.offV
		if on {
			v = d.onV
		}
		err = d.bus.WriteRegister(ctx, d.unit, d.addr, v)
	}
	if err != nil {
		var me *modbus.Error
		if !errors.As(err, &me) { // a bus wait or open failure: name the target
			err = fmt.Errorf("unit %d on %s, writing %s 0x%04X: %w", d.unit, d.bus.Name(), d.tableName(), d.addr, err)
		}
		return fmt.Errorf("output %s: %w", d.name, err)
	}
	return nil
}

func (d *modbusOut) tableName() string {
	if d.coil {
		return "coil"
	}
	return "holding register"
}

// Close releases the bus; the last user closes the port.
func (d *modbusOut) Close() error {
	if d.bus != nil {
		d.bus.Release()
		d.bus = nil
	}
	return nil
}
