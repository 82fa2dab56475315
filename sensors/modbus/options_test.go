package modbus

import (
	"strings"
	"testing"
	"time"

	"github.com/karana-energy/karana-edge/config"
)

// Each mistake is reported under its key, with what to write instead.
func TestOptionErrors(t *testing.T) {
	serial := func(f func(o *Options)) *Options {
		o := DefaultOptions()
		o.Port = "/dev/ttyUSB0"
		o.Registers = []Register{{Field: "v", Address: 0}}
		f(&o)
		return &o
	}
	for _, c := range []struct {
		name string
		o    *Options
		key  string
		msg  string
	}{
		{"no link", serial(func(o *Options) { o.Port = "" }), "port", "set port"},
		{"both", serial(func(o *Options) { o.URL = "tcp://h:502" }), "url", "not both"},
		{"relative port", serial(func(o *Options) { o.Port = "ttyUSB0" }), "port", "serial device path"},
		{"baud", serial(func(o *Options) { o.Baud = 9601 }), "baud", "standard serial speed"},
		{"parity", serial(func(o *Options) { o.Parity = "X" }), "parity", `"N", "E" or "O"`},
		{"stop bits", serial(func(o *Options) { o.StopBits = 3 }), "stop_bits", "1 or 2"},
		{"unit 248 on serial", serial(func(o *Options) { o.UnitID = 248 }), "unit_id", "1-247"},
		{"scheme", serial(func(o *Options) { o.Port, o.URL = "", "udp://h:502" }), "url", "tcp://host:port"},
		{"no port in url", serial(func(o *Options) { o.Port, o.URL = "", "tcp://h" }), "url", "host:port"},
		{"timeout", serial(func(o *Options) { o.RequestTimeout = config.D(time.Millisecond) }), "request_timeout", "10ms-1m"},
		{"max registers", serial(func(o *Options) { o.MaxRegisters = 126 }), "max_registers", "1-125"},
		{"max gap", serial(func(o *Options) { o.MaxGap = ptr(-1) }), "max_gap", "0-125"},
		{"no registers", serial(func(o *Options) { o.Registers = nil }), "register", "set profile"},
		{"field", serial(func(o *Options) { o.Registers[0].Field = "a b" }), "register[0].field", "invalid field name"},
		{"table", serial(func(o *Options) { o.Registers[0].Table = "holdings" }), "register[0].table", `"holding", "input", "coil" or "discrete"`},
		{"coil type", serial(func(o *Options) { o.Registers[0].Table, o.Registers[0].Type = "coil", "uint16" }), "register[0].type", "leave type out"},
		{"word order", serial(func(o *Options) { o.Registers[0].WordOrder = "middle" }), "register[0].word_order", `"big"`},
		{"scale 0", serial(func(o *Options) { o.Registers[0].Scale = ptr(0.0) }), "register[0].scale", "non-zero"},
		{"float64 at the end", serial(func(o *Options) { o.Registers[0].Address, o.Registers[0].Type = 0xFFFE, "float64" }), "register[0].address", "runs past the last register"},
		{"sf on a coil", serial(func(o *Options) { o.Registers[0].Table, o.Registers[0].ScaleRegister = "coil", ptr(3) }), "register[0].scale_register", "no scale factor"},
		{"duplicate field", serial(func(o *Options) { o.Registers = append(o.Registers, Register{Field: "v", Address: 9}) }), "register[1].field", "already read by register[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New("x", c.o)
			if err == nil {
				t.Fatalf("accepted")
			}
			if s != nil {
				t.Error("a sensor returned with an error")
			}
			fe, ok := err.(config.FieldErrors)
			if !ok {
				t.Fatalf("error %T %v is not config.FieldErrors", err, err)
			}
			for _, e := range fe {
				if e.Key == c.key && strings.Contains(e.Msg, c.msg) {
					return
				}
			}
			t.Errorf("no error at %s containing %q: %v", c.key, c.msg, err)
		})
	}
}

// Defaults: unit 1 on a port, the profile's unit (Victron GX: 100).
func TestUnitDefaults(t *testing.T) {
	o := DefaultOptions()
	o.Port = "/dev/ttyUSB0"
	o.Profile = "pzem-016"
	s, err := New("x", &o)
	if err != nil || s.unit != 1 {
		t.Fatalf("unit %d, %v", s.unit, err)
	}
	o = DefaultOptions()
	o.URL = "tcp://gx:502"
	o.Profile = "victron-gx"
	if s, err = New("x", &o); err != nil || s.unit != 100 {
		t.Fatalf("victron-gx unit %d, %v", s.unit, err)
	}
	o.UnitID = 239
	if s, err = New("x", &o); err != nil || s.unit != 239 {
		t.Fatalf("unit_id 239: %d, %v", s.unit, err)
	}
}
