package modbus

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/reading"
)

// Options are the driver's keys, inline in its [[sensor]] table. Exactly
// one of Port (RTU over a serial line) and URL (Modbus TCP, RTU over TCP)
// is set.
type Options struct {
	// Port is the serial device of an RS-485 bus ("/dev/ttyUSB0").
	Port string `toml:"port"`
	// Baud is the serial line's speed. Default 9600.
	Baud int `toml:"baud"`
	// DataBits per character. Default 8.
	DataBits int `toml:"data_bits"`
	// Parity is "N", "E" or "O". Default "N".
	Parity string `toml:"parity"`
	// StopBits is 1 or 2. Default 1.
	StopBits int `toml:"stop_bits"`
	// URL is "tcp://host:port" (Modbus TCP) or "rtuovertcp://host:port"
	// (RTU frames through a serial-to-Ethernet gateway).
	URL string `toml:"url"`
	// UnitID is the device's address: 1-247 on a serial bus; 0-255 over
	// TCP. Default (0 or unset): the profile's unit, else 1.
	UnitID int `toml:"unit_id"`
	// RequestTimeout bounds one request; a unit that does not answer costs
	// this much bus time per read. Default 1s. (The sensor's own `timeout`
	// bounds the whole read.)
	RequestTimeout config.Duration `toml:"request_timeout"`
	// Profile names a shipped register map ("eastron-sdm630", "sunspec").
	Profile string `toml:"profile"`
	// MaxRegisters per read request. Default 125, the spec's limit; some
	// devices need less.
	MaxRegisters int `toml:"max_registers"`
	// MaxGap is how many unused registers a merged read may span. Default 4.
	MaxGap *int `toml:"max_gap"`
	// Registers are written as [[sensor.register]] tables. They add to the
	// profile's; one with a profile register's field replaces it.
	Registers []Register `toml:"register"`
}

// SerialPort is the RS-485 bus's device, for the board's serial checks
// (a port that is the login console) and read's title; "" over TCP.
func (o *Options) SerialPort() string { return o.Port }

// Register is one value read from the device.
type Register struct {
	// Field names the series ("<sensor>.<field>").
	Field string `toml:"field"`
	// Table is "holding" (default), "input", "coil" or "discrete".
	Table string `toml:"table"`
	// Address is the 0-based PDU address (decimal or 0x hex).
	Address int `toml:"address"`
	// Type is int16, uint16 (default), int32, uint32, int64, uint64,
	// float32, float64, or bits (a status word, stored as its number).
	// Coils and discrete inputs are always 0 or 1.
	Type string `toml:"type"`
	// WordOrder of a multi-register value: "big" (high word first,
	// default) or "little".
	WordOrder string `toml:"word_order"`
	// ByteOrder inside each register: "big" (default) or "little".
	ByteOrder string `toml:"byte_order"`
	// Scale multiplies the raw value. Default 1.
	Scale *float64 `toml:"scale"`
	// Offset is added after scaling. Default 0.
	Offset float64 `toml:"offset"`
	// Unit of the value ("V").
	Unit string `toml:"unit"`
	// ScaleRegister is the address, in the same table, of an int16 scale
	// factor sf: value = raw × 10^sf × scale + offset (SunSpec style).
	ScaleRegister *int `toml:"scale_register"`
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		Baud:           9600,
		DataBits:       8,
		Parity:         "N",
		StopBits:       1,
		RequestTimeout: config.D(time.Second),
		MaxRegisters:   maxPDURegisters,
	}
}

const (
	maxPDURegisters = 125  // read holding/input registers: the spec's limit
	maxPDUBits      = 2000 // read coils/discrete inputs
	defaultMaxGap   = 4
)

// validate checks the options and returns the points to read, the
// profile's included. A profile's own mistakes are reported under
// "profile"; the shipped ones are checked by tests.
func (o *Options) validate() (*plan, error) {
	var errs config.FieldErrors
	o.validateLink(&errs)
	if o.MaxRegisters < 1 || o.MaxRegisters > maxPDURegisters {
		errs.Add("max_registers", "must be 1-%d (the spec's limit per request), got %d", maxPDURegisters, o.MaxRegisters)
	}
	if o.MaxGap != nil && (*o.MaxGap < 0 || *o.MaxGap > maxPDURegisters) {
		errs.Add("max_gap", "must be 0-%d registers, got %d", maxPDURegisters, *o.MaxGap)
	}
	var prof *Profile
	if o.Profile != "" {
		p, ok := LookupProfile(o.Profile)
		if !ok {
			errs.Add("profile", "unknown profile %q (shipped: %s)", o.Profile, strings.Join(ProfileNames(), ", "))
		}
		prof = p
	}
	pts := o.points(prof, &errs)
	if len(pts) == 0 && (prof == nil || !prof.SunSpec) && len(errs) == 0 {
		errs.Add("register", "no registers to read: set profile (shipped: %s) or add [[sensor.register]] tables", strings.Join(ProfileNames(), ", "))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	p := &plan{points: pts, sunspec: prof != nil && prof.SunSpec}
	if prof != nil {
		p.profile = prof
	}
	return p, nil
}

func (o *Options) validateLink(errs *config.FieldErrors) {
	switch {
	case o.Port == "" && o.URL == "":
		errs.Add("port", `set port (an RS-485 serial device, "/dev/ttyUSB0") or url ("tcp://192.168.1.50:502")`)
	case o.Port != "" && o.URL != "":
		errs.Add("url", "set port or url, not both")
	case o.Port != "":
		o.validateSerial(errs)
	default:
		if _, _, err := parseURL(o.URL); err != nil {
			errs.Add("url", "%v", err)
		}
	}
	lo, hi := 0, 255
	if o.Port != "" || strings.HasPrefix(o.URL, "rtuovertcp://") {
		lo, hi = 1, 247 // 0 is broadcast, 248-255 reserved on a serial line
	}
	if o.UnitID != 0 && (o.UnitID < lo || o.UnitID > hi) {
		errs.Add("unit_id", "must be %d-%d on this link, got %d", lo, hi, o.UnitID)
	}
	if d := o.RequestTimeout.Duration; d < 10*time.Millisecond || d > time.Minute {
		errs.Add("request_timeout", "must be 10ms-1m, got %s", d)
	}
}

func (o *Options) validateSerial(errs *config.FieldErrors) {
	if !filepath.IsAbs(o.Port) || strings.IndexFunc(o.Port, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		errs.Add("port", "must be a serial device path such as /dev/ttyUSB0 or /dev/serial/by-id/…, got %q", o.Port)
	}
	if !validBaud[o.Baud] {
		errs.Add("baud", "%d is not a standard serial speed (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)", o.Baud)
	}
	if o.DataBits < 7 || o.DataBits > 8 {
		errs.Add("data_bits", "must be 7 or 8, got %d", o.DataBits)
	}
	if _, ok := parities[strings.ToUpper(o.Parity)]; !ok {
		errs.Add("parity", `must be "N", "E" or "O", got %q`, o.Parity)
	}
	if o.StopBits != 1 && o.StopBits != 2 {
		errs.Add("stop_bits", "must be 1 or 2, got %d", o.StopBits)
	}
}

var validBaud = map[int]bool{1200: true, 2400: true, 4800: true, 9600: true, 19200: true, 38400: true, 57600: true, 115200: true}

// parseURL checks a tcp:// or rtuovertcp:// URL and returns its scheme and
// host:port.
func parseURL(s string) (scheme, hostport string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", fmt.Errorf("not a URL: %q", s)
	}
	if u.Scheme != "tcp" && u.Scheme != "rtuovertcp" {
		return "", "", fmt.Errorf(`%q: use "tcp://host:port" (Modbus TCP) or "rtuovertcp://host:port" (a serial gateway); for a serial port use port`, s)
	}
	if u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("%q: only scheme://host:port, no path, query or user", s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return "", "", fmt.Errorf("%q: want host:port (Modbus TCP is usually port 502)", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("%q: port %q is not 1-65535", s, port)
	}
	return u.Scheme, u.Host, nil
}

// points merges the profile's registers with the inline ones (an inline
// field replaces the profile's of that name) and checks them.
func (o *Options) points(prof *Profile, errs *config.FieldErrors) []point {
	var pts []point
	byField := map[string]int{}
	if prof != nil {
		for i, r := range prof.Registers {
			p, perrs := r.point(fmt.Sprintf("profile %s register[%d]", prof.Name, i))
			if len(perrs) > 0 {
				errs.Add("profile", "shipped profile %q is broken: %v", prof.Name, perrs)
				continue
			}
			byField[p.field] = len(pts)
			pts = append(pts, p)
		}
	}
	for i, r := range o.Registers {
		key := config.IndexKey("register", i)
		p, perrs := r.point(key)
		for _, e := range perrs {
			errs.Add(config.JoinKey(key, e.Key), "%s", e.Msg)
		}
		if len(perrs) > 0 {
			continue
		}
		if j, ok := byField[p.field]; ok {
			if strings.HasPrefix(pts[j].key, "register[") {
				errs.Add(config.JoinKey(key, "field"), "field %q is already read by %s", p.field, pts[j].key)
				continue
			}
			pts[j] = p
			continue
		}
		byField[p.field] = len(pts)
		pts = append(pts, p)
	}
	checkOverlaps(pts, errs)
	return pts
}

// checkOverlaps reports two points that read the same register of one
// table: a copy-paste slip that would store one value under two names.
func checkOverlaps(pts []point, errs *config.FieldErrors) {
	for i := range pts {
		for j := i + 1; j < len(pts); j++ {
			a, b := &pts[i], &pts[j]
			if a.table != b.table || a.addr+a.width() <= b.addr || b.addr+b.width() <= a.addr {
				continue
			}
			key := b.key
			if !strings.HasPrefix(key, "register[") {
				key = a.key
			}
			if strings.HasPrefix(key, "register[") {
				key = config.JoinKey(key, "address")
			} else {
				key = "profile"
			}
			errs.Add(key, "%s %s (%s) overlaps %s %s (%s) in the %s table", b.key, b.rangeString(), b.field, a.key, a.rangeString(), a.field, a.table)
		}
	}
}

// point checks one register table and turns it into a point; the errors'
// keys are relative to the register.
func (r Register) point(key string) (point, config.FieldErrors) {
	var errs config.FieldErrors
	p := point{key: key, field: r.Field, unit: r.Unit, scale: 1, offset: r.Offset, sf: -1}
	if !reading.ValidName(r.Field) {
		errs.Add("field", "invalid field name %q: use ASCII letters, digits, '-', '_' and '.'", r.Field)
	}
	t, ok := tableNames[strings.ToLower(r.Table)]
	if !ok {
		errs.Add("table", `must be "holding", "input", "coil" or "discrete", got %q`, r.Table)
	}
	p.table = t
	p.typ = typeNames[strings.ToLower(r.Type)]
	switch {
	case t.bits() && r.Type != "" && r.Type != "bool":
		errs.Add("type", "a %s is one bit (0 or 1): leave type out", t)
	case t.bits():
		p.typ = tBool
	case r.Type == "":
		p.typ = tUint16
	case p.typ == tInvalid:
		errs.Add("type", "unknown type %q (int16, uint16, int32, uint32, int64, uint64, float32, float64, bits)", r.Type)
	}
	if r.Address < 0 || r.Address > 0xFFFF {
		errs.Add("address", "must be a 0-based PDU address 0-65535 (0x0000-0xFFFF), got %d", r.Address)
	} else {
		p.addr = uint16(r.Address)
		if int(p.addr)+int(p.width())-1 > 0xFFFF {
			errs.Add("address", "a %s at 0x%04X runs past the last register 0xFFFF", p.typ, r.Address)
		}
	}
	r.checkValue(&p, &errs)
	return p, errs
}

// checkValue checks the keys that say how the registers become a value.
func (r Register) checkValue(p *point, errs *config.FieldErrors) {
	var bad bool
	if p.wordLittle, bad = order(r.WordOrder); bad {
		errs.Add("word_order", `must be "big" (high word first) or "little", got %q`, r.WordOrder)
	}
	if p.byteLittle, bad = order(r.ByteOrder); bad {
		errs.Add("byte_order", `must be "big" or "little", got %q`, r.ByteOrder)
	}
	if r.Scale != nil {
		p.scale = *r.Scale
		if p.scale == 0 || math.IsNaN(p.scale) || math.IsInf(p.scale, 0) {
			errs.Add("scale", "must be a finite, non-zero number, got %v", p.scale)
		}
	}
	if math.IsNaN(r.Offset) || math.IsInf(r.Offset, 0) {
		errs.Add("offset", "must be a finite number, got %v", r.Offset)
	}
	if len(r.Unit) > 32 || strings.ContainsAny(r.Unit, "\n\r\t") {
		errs.Add("unit", "must be at most 32 printable characters, got %q", r.Unit)
	}
	if r.ScaleRegister != nil {
		switch sf := *r.ScaleRegister; {
		case sf < 0 || sf > 0xFFFF:
			errs.Add("scale_register", "must be a register address 0-65535, got %d", sf)
		case p.table.bits():
			errs.Add("scale_register", "a %s has no scale factor", p.table)
		default:
			p.sf = sf
		}
	}
}

// order parses "big"/"little"; bad for anything else.
func order(s string) (little, bad bool) {
	switch strings.ToLower(s) {
	case "", "big":
		return false, false
	case "little":
		return true, false
	}
	return false, true
}

var parities = map[string]uint{"N": 0, "E": 1, "O": 2} // simonvetter's PARITY_NONE, _EVEN, _ODD
