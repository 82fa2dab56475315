package modbus

import (
	"testing"
)

// Every shipped profile loads, names its source, and its registers pass
// the same checks as a user's.
func TestShippedProfilesValid(t *testing.T) {
	if err := profilesError(); err != nil {
		t.Fatal(err)
	}
	names := ProfileNames()
	for _, want := range []string{"eastron-sdm120", "eastron-sdm630", "epever-tracer", "pzem-016", "victron-gx", "sunspec"} {
		if _, ok := LookupProfile(want); !ok {
			t.Errorf("profile %q not shipped (have %v)", want, names)
		}
	}
	for _, n := range names {
		p, _ := LookupProfile(n)
		if p.Source == "" || p.Doc == "" {
			t.Errorf("profile %s: no source or doc", n)
		}
		if !p.SunSpec && len(p.Registers) == 0 {
			t.Errorf("profile %s: no registers", n)
		}
		if p.Probe != nil {
			r := p.Probe.Register
			r.Field = "probe"
			if _, errs := r.point("probe"); len(errs) > 0 || p.Probe.Min >= p.Probe.Max {
				t.Errorf("profile %s: bad probe %+v: %v", n, p.Probe, errs)
			}
		}
		o := DefaultOptions()
		o.Port = "/dev/ttyUSB0"
		o.Profile = n
		if _, err := New("x", &o); err != nil {
			t.Errorf("profile %s: %v", n, err)
		}
	}
}

// profileSensor reads profile name from d's unit.
func profileSensor(t *testing.T, d *device, unit int, name string) *Sensor {
	o := tcpOpts(d, unit)
	o.Profile = name
	return mustNew(t, o)
}

// EPEver Tracer: values ×100, 32-bit values low word first (protocol
// V2.5); the image encodes the values below by those rules.
func TestProfileEPEverTracer(t *testing.T) {
	d := newDevice(t)
	d.set(1, input, 0x3100,
		9876,           // 0x3100 PV voltage 98.76 V
		250,            // 0x3101 PV current 2.50 A
		0xE240, 0x0001, // 0x3102-3 PV power 123456 → 1234.56 W (L, H)
		1380, 895, // 0x3104-5 battery (charging) voltage 13.80 V, current 8.95 A
		0x303F, 0x0000, // 0x3106-7 charging power 12351 → 123.51 W
	)
	d.set(1, input, 0x310C,
		1375, 120, // load 13.75 V, 1.20 A
		1650, 0, // load power 16.50 W
		0xFDF3, // 0x3110 battery temperature -525 → -5.25 °C
		3125,   // 0x3111 device temperature 31.25 °C
	)
	d.set(1, input, 0x311A, 87)                   // SOC 87 %
	d.set(1, input, 0x3200, 0x0000, 0x000B)       // battery status, charging status (bits)
	d.set(1, input, 0x330C, 345, 0)               // energy today 3.45 kWh
	d.set(1, input, 0x3312, 0xD687, 0x0012)       // total 0x0012D687 = 1234567 → 12345.67 kWh
	d.set(1, input, 0x331A, 1302, 0xFF6A, 0xFFFF) // battery 13.02 V, current -150 → -1.50 A
	got := read(t, profileSensor(t, d, 1, "epever-tracer"))
	want(t, got, "pv_voltage", 98.76, "V")
	want(t, got, "pv_current", 2.5, "A")
	want(t, got, "pv_power", 1234.56, "W")
	want(t, got, "charge_voltage", 13.8, "V")
	want(t, got, "charge_current", 8.95, "A")
	want(t, got, "charge_power", 123.51, "W")
	want(t, got, "load_voltage", 13.75, "V")
	want(t, got, "load_current", 1.2, "A")
	want(t, got, "load_power", 16.5, "W")
	want(t, got, "battery_temperature", -5.25, "°C")
	want(t, got, "device_temperature", 31.25, "°C")
	want(t, got, "battery_soc", 87, "%")
	want(t, got, "battery_status", 0, "")
	want(t, got, "charging_status", 11, "")
	want(t, got, "energy_today", 3.45, "kWh")
	want(t, got, "energy_total", 12345.67, "kWh")
	want(t, got, "battery_voltage", 13.02, "V")
	want(t, got, "battery_current", -1.5, "A")
}

// PZEM-004T v3 / PZEM-016: voltage 0.1 V, current 0.001 A, power 0.1 W,
// energy 1 Wh, 32-bit values low 16 bits first, frequency 0.1 Hz, PF 0.01,
// alarm 0xFFFF.
func TestProfilePZEM(t *testing.T) {
	d := newDevice(t)
	d.set(1, input, 0,
		2301,           // 230.1 V
		0x3039, 0x0000, // 12345 → 12.345 A
		0x14EF, 0x0001, // 0x000114EF = 70895 → 7089.5 W
		0xE240, 0x0001, // 123456 Wh
		500,    // 50.0 Hz
		95,     // 0.95
		0xFFFF, // alarm on
	)
	got := read(t, profileSensor(t, d, 1, "pzem-016"))
	want(t, got, "voltage", 230.1, "V")
	want(t, got, "current", 12.345, "A")
	want(t, got, "power", 7089.5, "W")
	want(t, got, "energy", 123456, "Wh")
	want(t, got, "frequency", 50, "Hz")
	want(t, got, "power_factor", 0.95, "")
	want(t, got, "alarm", 0xFFFF, "")
}

// Eastron SDM630: IEEE 754 float32, high word first. Encodings from
// Python's struct.pack(">f", v), an implementation independent of ours.
func TestProfileEastronSDM630(t *testing.T) {
	d := newDevice(t)
	d.set(1, input, 0x0000,
		0x4366, 0x199A, // 230.1 V
		0x4366, 0x8000, // 230.5 V
		0x4365, 0xC000, // 229.75 V
		0x3FA0, 0x0000, // 1.25 A
	)
	d.set(1, input, 0x000C, 0xC38F, 0xC000)                 // L1 power -287.5 W (exporting)
	d.set(1, input, 0x001E, 0x3F78, 0x51EC)                 // PF 0.97
	d.set(1, input, 0x0046, 0x4248, 0x0000, 0x4640, 0xE600) // 50 Hz; import 12345.5 kWh
	o := tcpOpts(d, 1)
	o.Profile = "eastron-sdm630"
	o.MaxGap = ptr(125) // merge everything the limit allows
	got := read(t, mustNew(t, o))
	want(t, got, "voltage_l1", 230.1, "V")
	want(t, got, "voltage_l2", 230.5, "V")
	want(t, got, "voltage_l3", 229.75, "V")
	want(t, got, "current_l1", 1.25, "A")
	want(t, got, "power_l1", -287.5, "W")
	want(t, got, "power_factor_l1", 0.97, "")
	want(t, got, "frequency", 50, "Hz")
	want(t, got, "import_energy", 12345.5, "kWh")
	// Registers this (test) meter does not map are refused: their fields
	// are missing, never zero.
	want(t, got, "current_l2", missing, "")
	want(t, got, "total_energy", missing, "")
	// Eastron answers at most 30 parameters (60 registers) a request.
	if q := d.maxQty.Load(); q > 60 {
		t.Errorf("a request asked an Eastron meter for %d registers, over its 60", q)
	}
}

// SDM120 shares the SDM630's encoding at its own addresses.
func TestProfileEastronSDM120(t *testing.T) {
	d := newDevice(t)
	d.set(1, input, 0x0000, 0x4366, 0x199A)
	d.set(1, input, 0x0006, 0x4020, 0x0000) // 2.5 A
	d.set(1, input, 0x0046, 0x4248, 0x0000)
	got := read(t, profileSensor(t, d, 1, "eastron-sdm120"))
	want(t, got, "voltage", 230.1, "V")
	want(t, got, "current", 2.5, "A")
	want(t, got, "frequency", 50, "Hz")
}

// Victron GX, com.victronenergy.system at unit 100 (the profile's default
// unit): battery V ×10, current ×10 signed, power signed, SOC.
func TestProfileVictronGX(t *testing.T) {
	d := newDevice(t)
	d.set(100, holding, 817, 450, 0, 0, 0xFED4)          // consumption L1 450 W; grid L1 -300 W
	d.set(100, holding, 840, 532, 0xFF83, 0xFD67, 87, 2) // 53.2 V, -12.5 A, -665 W, 87 %, discharging
	d.set(100, holding, 850, 1200, 225)                  // PV DC 1200 W, 22.5 A
	o := tcpOpts(d, 0)                                   // unit_id unset: the profile's 100
	o.Profile = "victron-gx"
	got := read(t, mustNew(t, o))
	want(t, got, "consumption_l1", 450, "W")
	want(t, got, "grid_l1", -300, "W")
	want(t, got, "battery_voltage", 53.2, "V")
	want(t, got, "battery_current", -12.5, "A")
	want(t, got, "battery_power", -665, "W")
	want(t, got, "battery_soc", 87, "%")
	want(t, got, "battery_state", 2, "")
	want(t, got, "pv_dc_power", 1200, "W")
	want(t, got, "pv_dc_current", 22.5, "A")
}

// An inline register replaces the profile's of that field, and adds.
func TestInlineOverridesProfile(t *testing.T) {
	d := newDevice(t)
	d.set(1, input, 0, 2301, 0x3039, 0, 0x14EF, 1, 0xE240, 1, 500, 95, 0)
	d.set(1, holding, 0x0002, 1) // PZEM's slave address register
	o := tcpOpts(d, 1,
		Register{Field: "voltage", Table: "input", Address: 0, Scale: ptr(0.1), Unit: "volt"},
		Register{Field: "address", Address: 2},
	)
	o.Profile = "pzem-016"
	got := read(t, mustNew(t, o))
	want(t, got, "voltage", 230.1, "volt")
	want(t, got, "address", 1, "")
	want(t, got, "frequency", 50, "Hz")
}
