package modbus

import (
	"strings"
	"testing"
)

// str encodes s as a SunSpec string of n registers (two ASCII bytes a
// register, NUL padded).
func str(s string, n int) []uint16 {
	b := make([]byte, 2*n)
	copy(b, s)
	out := make([]uint16, n)
	for i := range out {
		out[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return out
}

// sunspecImage lays out a three-phase inverter at base: common model 1,
// model 103, model 160 with two modules, end marker. Values follow the
// SunSpec model definitions (sunspec/models json/model_1, _103, _160).
func sunspecImage(d *device, unit uint8, base uint16) {
	regs := []uint16{0x5375, 0x6E53} // "SunS"
	// Model 1, L = 66: Mn, Md, Opt, Vr, SN, DA, Pad.
	regs = append(regs, 1, 66)
	regs = append(regs, str("Fronius", 16)...)
	regs = append(regs, str("Symo 8.2-3-M", 16)...)
	regs = append(regs, str("", 8)...)
	regs = append(regs, str("1.2.3", 8)...)
	regs = append(regs, str("28190123", 16)...)
	regs = append(regs, 1, 0x8000)
	// Model 103, L = 50.
	m103 := []uint16{
		103, 50,
		1234, 412, 411, 0xFFFF, 0xFFFE, // A, AphA, AphB, AphC (not implemented), A_SF = -2
		4001, 4002, 4003, 2301, 2302, 2303, 0xFFFF, // PPV ×3, PhV ×3, V_SF = -1
		5000, 0, // W, W_SF = 0
		5001, 0xFFFE, // Hz 50.01
		5100, 0, // VA
		0xFF9C, 0, // VAr -100
		0xFFA6, 0, // PF -90 %
		0x0001, 0xE240, 1, // WH = 123456, WH_SF = 1 → 1234560 Wh
		1310, 0xFFFE, // DCA 13.10 A
		6123, 0xFFFF, // DCV 612.3 V
		5204, 0x8000, // DCW, DCW_SF not implemented → missing
		452, 0x8000, 0x8000, 0x8000, 0xFFFF, // TmpCab 45.2 °C (Tmp_SF -1); others not implemented
		4, 0xFFFF, // St MPPT; StVnd
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // Evt1, Evt2, EvtVnd1-4
	}
	regs = append(regs, m103...)
	// Model 160, L = 8 + 20 × 2.
	regs = append(regs, 160, 48, 0xFFFE, 0xFFFF, 0, 0, 0, 0, 2, 0)
	for i, v := range []struct{ a, v, w uint16 }{{850, 6123, 5204}, {0xFFFF, 0xFFFF, 0xFFFF}} {
		mod := []uint16{uint16(i + 1)}
		mod = append(mod, str("string", 8)...)
		mod = append(mod, v.a, v.v, v.w, 0, 0, 0, 0, 0x8000, 4, 0, 0)
		regs = append(regs, mod...)
	}
	regs = append(regs, 0xFFFF, 0)
	d.set(unit, holding, base, regs...)
}

func TestSunSpec(t *testing.T) {
	d := newDevice(t)
	sunspecImage(d, 1, 40000)
	s := profileSensor(t, d, 1, "sunspec")
	got := read(t, s)
	want(t, got, "current", 12.34, "A")
	want(t, got, "current_a", 4.12, "A")
	want(t, got, "current_c", missing, "")
	want(t, got, "voltage_ab", 400.1, "V")
	want(t, got, "voltage_an", 230.1, "V")
	want(t, got, "power", 5000, "W")
	want(t, got, "frequency", 50.01, "Hz")
	want(t, got, "reactive_power", -100, "var")
	want(t, got, "power_factor", -90, "%")
	want(t, got, "energy", 1234560, "Wh")
	want(t, got, "dc_current", 13.1, "A")
	want(t, got, "dc_voltage", 612.3, "V")
	want(t, got, "dc_power", missing, "")
	want(t, got, "temperature_cabinet", 45.2, "°C")
	want(t, got, "temperature_heatsink", missing, "")
	want(t, got, "state", 4, "")
	want(t, got, "mppt1_current", 8.5, "A")
	want(t, got, "mppt1_voltage", 612.3, "V")
	want(t, got, "mppt1_power", 5204, "W")
	want(t, got, "mppt1_energy", missing, "") // acc32 0: not accumulated
	want(t, got, "mppt1_temperature", missing, "")
	want(t, got, "mppt1_state", 4, "")
	want(t, got, "mppt2_current", missing, "")
	want(t, got, "mppt2_power", missing, "")
	s.Close() // `read` shows the identity after the sensor is closed
	id := s.Identity()
	for _, w := range []string{`maker "Fronius"`, `model "Symo 8.2-3-M"`, `serial "28190123"`, `version "1.2.3"`, "[1 103 160]"} {
		if !strings.Contains(id, w) {
			t.Errorf("identity %q lacks %s", id, w)
		}
	}
}

// The marker may sit at 0 or 50000 instead of 40000.
func TestSunSpecOtherBases(t *testing.T) {
	for _, base := range []uint16{0, 50000} {
		d := newDevice(t)
		sunspecImage(d, 3, base)
		got := read(t, profileSensor(t, d, 3, "sunspec"))
		want(t, got, "frequency", 50.01, "Hz")
	}
}

func TestSunSpecNoMarker(t *testing.T) {
	d := newDevice(t)
	d.set(1, holding, 40000, 1, 2)
	s := profileSensor(t, d, 1, "sunspec")
	_, err := s.Read(t.Context())
	if err == nil || !strings.Contains(err.Error(), `no SunSpec marker "SunS"`) {
		t.Fatalf("err %v", err)
	}
}
