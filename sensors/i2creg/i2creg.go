package i2creg

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/sensors/i2cbus"
)

// Name is the driver's registered name.
const Name = "i2c-register"

func init() {
	sensors.Register(sensors.Driver{
		Name: Name,
		Doc:  "generic I2C register: N bytes, byte order, sign, mask, shift, scale and offset into one value",
		// No I2CAddrs: it could be any chip, so scan names it nowhere.
	}, DefaultOptions, New)
}

// Options are the driver's keys, inline in its [[sensor]] table.
type Options struct {
	i2cbus.Options
	// Register is the register address written before reading. Default 0.
	Register int `toml:"register"`
	// RegisterBytes is 0 (read without writing a register), 1 or 2 (a
	// 16-bit register address, MSB first). Default 1.
	RegisterBytes int `toml:"register_bytes"`
	// Length is the number of bytes read, 1-8. Default 2.
	Length int `toml:"length"`
	// ByteOrder is "big" (MSB first) or "little". Default "big".
	ByteOrder string `toml:"byte_order"`
	// Signed reads the masked, shifted bits as two's complement.
	Signed bool `toml:"signed"`
	// Mask keeps these bits of the raw integer; 0 keeps all. Default 0.
	Mask int64 `toml:"mask"`
	// Shift moves the masked bits right. Default 0.
	Shift int `toml:"shift"`
	// Scale multiplies the integer. Default 1.
	Scale float64 `toml:"scale"`
	// Offset is added after scaling. Default 0.
	Offset float64 `toml:"offset"`
	// Unit of the value. Default "".
	Unit string `toml:"unit"`
	// Field names the value; "" names the series after the sensor alone.
	// Default "value".
	Field string `toml:"field"`
	// Delay between writing the register and reading; 0 reads in the same
	// transaction (repeated start). Default 0.
	Delay config.Duration `toml:"delay"`
}

// DefaultOptions returns the documented defaults. Address has none: it
// must be set.
func DefaultOptions() Options {
	return Options{
		Options:       i2cbus.Options{Bus: i2cbus.DefaultBus},
		RegisterBytes: 1,
		Length:        2,
		ByteOrder:     "big",
		Scale:         1,
		Field:         "value",
	}
}

// Sensor is one register of one chip.
type Sensor struct {
	o        Options
	width    int // bits of the value after mask and shift
	decimals int // of the result: scale's and offset's

	dev i2cbus.Device
}

// New validates opts and returns the sensor; it does no I/O. Errors are
// config.FieldErrors keyed by option.
func New(_ string, opts *Options) (*Sensor, error) {
	o := *opts
	if err := o.validate(); err != nil {
		return nil, err
	}
	width := 8*o.Length - o.Shift
	if o.Mask != 0 {
		width = bits.Len64(uint64(o.Mask) >> o.Shift)
	}
	return &Sensor{
		o:        o,
		width:    width,
		decimals: min(15, max(decimals(o.Scale), decimals(o.Offset))),
		dev:      i2cbus.Device{Driver: Name, Bus: o.Bus, Addr: uint16(o.Address)},
	}, nil
}

// decimals counts the decimals of f's shortest representation.
func decimals(f float64) int {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

func (o *Options) validate() error {
	var errs config.FieldErrors
	valid := i2cbus.Range(i2cbus.FirstAddr, i2cbus.LastAddr)
	if o.Address == 0 {
		errs.Add("address", "must be set: the chip's 7-bit address, 0x03-0x77 (`karana-edge scan` lists those that answer)")
		valid = append(valid, 0) // said above; Validate checks the bus
	}
	o.Options.Validate(&errs, "I2C chip", valid, "0x00-0x02 and 0x78-0x7f are reserved")
	o.validateRegister(&errs)
	o.validateBits(&errs)
	o.validateValue(&errs)
	return errs.Err()
}

// validateRegister checks register and register_bytes.
func (o *Options) validateRegister(errs *config.FieldErrors) {
	switch o.RegisterBytes {
	case 0:
		if o.Register != 0 {
			errs.Add("register", "is set (0x%x) but register_bytes = 0 reads without writing a register", o.Register)
		}
	case 1, 2:
		if top := 1<<(8*o.RegisterBytes) - 1; o.Register < 0 || o.Register > top {
			errs.Add("register", "must be from 0 to 0x%x with register_bytes = %d, got 0x%x", top, o.RegisterBytes, o.Register)
		}
	default:
		errs.Add("register_bytes", "must be 0 (no register), 1 or 2, got %d", o.RegisterBytes)
	}
}

// validateBits checks what is read and which of its bits are kept: length,
// byte_order, mask and shift.
func (o *Options) validateBits(errs *config.FieldErrors) {
	lengthOK := o.Length >= 1 && o.Length <= 8
	if !lengthOK {
		errs.Add("length", "must be from 1 to 8 bytes, got %d", o.Length)
	}
	if o.ByteOrder != "big" && o.ByteOrder != "little" {
		errs.Add("byte_order", "must be \"big\" or \"little\", got %q", o.ByteOrder)
	}
	if !lengthOK {
		return // mask and shift are checked against the length
	}
	bitsRead := 8 * o.Length
	switch {
	case o.Mask < 0:
		errs.Add("mask", "must not be negative, got %d", o.Mask)
	case bitsRead < 64 && o.Mask>>bitsRead != 0:
		errs.Add("mask", "0x%x has bits beyond the %d bytes read", o.Mask, o.Length)
	}
	switch {
	case o.Shift < 0 || o.Shift >= bitsRead:
		errs.Add("shift", "must be from 0 to %d for %d bytes, got %d", bitsRead-1, o.Length, o.Shift)
	case o.Mask > 0 && uint64(o.Mask)>>o.Shift == 0:
		errs.Add("shift", "%d shifts out every bit of mask 0x%x", o.Shift, o.Mask)
	}
}

// validateValue checks how the bits become the value: scale, offset, unit,
// field, and the delay before the read.
func (o *Options) validateValue(errs *config.FieldErrors) {
	if i2cbus.Finite(errs, "scale", o.Scale) && o.Scale == 0 {
		errs.Add("scale", "must not be 0 (every value would read 0)")
	}
	i2cbus.Finite(errs, "offset", o.Offset)
	if len(o.Unit) > 32 || strings.IndexFunc(o.Unit, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		errs.Add("unit", "must be at most 32 printable characters, got %q", o.Unit)
	}
	if o.Field != "" && !reading.ValidName(o.Field) {
		errs.Add("field", "invalid field name %q: use ASCII letters, digits, '-', '_' and '.', not starting or ending with a dot", o.Field)
	}
	if d := o.Delay.Duration; d < 0 || d > time.Second {
		errs.Add("delay", "must be from 0 to 1s, got %s", d)
	}
}

// Options returns the sensor's effective options.
func (s *Sensor) Options() Options { return s.o }

// Read reads the register and converts it.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Value, error) {
	return s.dev.Read(ctx, nil, s.read)
}

// read runs under the device's lock, the bus open.
func (s *Sensor) read(ctx context.Context, _ bool) ([]sensors.Value, error) {
	d := s.dev.Dev()
	var w []byte
	switch s.o.RegisterBytes {
	case 1:
		w = []byte{byte(s.o.Register)}
	case 2:
		w = []byte{byte(s.o.Register >> 8), byte(s.o.Register)}
	}
	buf := make([]byte, s.o.Length)
	op := fmt.Sprintf("read %d bytes from register 0x%02x", s.o.Length, s.o.Register)
	if s.o.RegisterBytes == 0 {
		op = fmt.Sprintf("read %d bytes", s.o.Length)
	}
	if delay := s.o.Delay.Duration; delay > 0 && w != nil {
		if err := d.Tx(w, nil); err != nil {
			return nil, s.dev.Err(fmt.Sprintf("write register 0x%02x", s.o.Register), err)
		}
		s.dev.OK()
		if err := sensors.Sleep(ctx, delay); err != nil {
			return nil, s.dev.Err(op, err)
		}
		w = nil
	}
	if err := d.Tx(w, buf); err != nil {
		return nil, s.dev.Err(op, err)
	}
	s.dev.OK()
	return []sensors.Value{{Field: s.o.Field, Value: s.convert(buf), Unit: s.o.Unit}}, nil
}

// convert turns the bytes read into the value (see the package doc).
func (s *Sensor) convert(b []byte) float64 {
	var raw uint64
	for i := range b {
		if s.o.ByteOrder == "little" {
			raw |= uint64(b[i]) << (8 * i)
		} else {
			raw = raw<<8 | uint64(b[i])
		}
	}
	if s.o.Mask != 0 {
		raw &= uint64(s.o.Mask)
	}
	raw >>= s.o.Shift
	var v float64
	if s.o.Signed && s.width > 0 && s.width < 64 && raw&(1<<(s.width-1)) != 0 {
		v = float64(int64(raw) - int64(1)<<s.width)
	} else if s.o.Signed {
		v = float64(int64(raw))
	} else {
		v = float64(raw)
	}
	x := v*s.o.Scale + s.o.Offset
	if s.decimals < 15 && !math.IsInf(x, 0) {
		x = i2cbus.Round(x, s.decimals)
	}
	return x
}

// Close releases the bus; the next Read opens it again.
func (s *Sensor) Close() error {
	return s.dev.Close()
}
