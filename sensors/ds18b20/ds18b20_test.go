package ds18b20

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/sensors"
)

func root(t *testing.T, tree string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", tree))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func read(t *testing.T, o Options) ([]sensors.Value, error) {
	t.Helper()
	s, err := New("tank", &o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Read(context.Background())
}

func TestParseW1Slave(t *testing.T) {
	for text, want := range map[string]any{
		"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n": 23125,
		"5e fe 4b 46 7f ff 02 10 8b : crc=8b YES\n5e fe 4b 46 7f ff 02 10 8b t=-26125":  -26125,
		"":   "failed its CRC on every retry",
		"\n": "failed its CRC on every retry",
		"72 01 4b 46 7f ff 0e 10 57 : crc=c9 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n":  "crc error (72 01 4b 46 7f ff 0e 10 57 : crc=c9 NO)",
		"50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n": "85 °C is the power-on reset value",
		"00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n":     "probe returned all zeros",
		"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n":                                     "want two lines",
		"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57\n":         "no t=",
		"72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 t=2x\n":                         `temperature "2x" is not an integer`,
		"72 01 4b 46 7f ff 0e 10 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n":    "is not nine bytes",
		"72 01 4b 46 7f ff 0e 10 5g : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n": "byte 8 is not hex",
	} {
		got, err := ParseW1Slave("28", text)
		switch w := want.(type) {
		case int:
			if err != nil || got != w {
				t.Errorf("%q: %d, %v; want %d", text, got, err, w)
			}
		case string:
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %v, want an error with %q", text, err, w)
			}
		}
	}
}

func TestAllProbes(t *testing.T) {
	vals, err := read(t, Options{Root: root(t, "ok"), ID: "*", Names: map[string]string{"28-00000abcdef2": "bottom"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []sensors.Value{
		{Field: "10-000802bd1234", Value: 22.5, Unit: "°C"},
		{Field: "28-00000abcdef1", Value: 23.125, Unit: "°C"},
		{Field: "bottom", Value: -26.125, Unit: "°C"}, // w1_slave, not the temperature file
	}
	if len(vals) != len(want) {
		t.Fatalf("got %+v, want %+v", vals, want)
	}
	for i := range want {
		if vals[i] != want[i] {
			t.Errorf("probe %d: %+v, want %+v", i, vals[i], want[i])
		}
	}
}

func TestOneProbe(t *testing.T) {
	vals, err := read(t, Options{Root: root(t, "ok"), ID: "28-00000abcdef1"})
	if err != nil || len(vals) != 1 || vals[0].Value != 23.125 {
		t.Errorf("one probe: %+v, %v", vals, err)
	}
	_, err = read(t, Options{Root: root(t, "ok"), ID: "28-0000000f00d1"})
	if !errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "probe 28-0000000f00d1 is not on the 1-Wire bus (present: 10-000802bd1234, 28-00000abcdef1, 28-00000abcdef2)") {
		t.Errorf("missing probe: %v", err)
	}
}

// One bad probe among good ones is a NaN (counted by the sampler), not a
// failed read; when every probe fails, the error names each.
func TestFailingProbes(t *testing.T) {
	vals, err := read(t, Options{Root: root(t, "mixed"), ID: "*"})
	if err != nil {
		t.Fatal(err)
	}
	good := 0
	for _, v := range vals {
		if v.Field == "28-00000abcdef1" {
			good++
			if v.Value != 23.125 {
				t.Errorf("good probe %v", v.Value)
			}
		} else if !math.IsNaN(v.Value) {
			t.Errorf("failing probe %s read %v, want NaN", v.Field, v.Value)
		}
	}
	if good != 1 || len(vals) != 4 {
		t.Errorf("values %+v", vals)
	}

	_, err = read(t, Options{Root: root(t, "mixed"), ID: "28-0000000bad0c"})
	if err == nil || !strings.HasPrefix(err.Error(), "probe 28-0000000bad0c: crc error") {
		t.Errorf("one failing probe: %v", err)
	}
	_, err = read(t, Options{Root: root(t, "mixed"), ID: "28-000000085c00"})
	if err == nil || !strings.Contains(err.Error(), "power-on reset value") {
		t.Errorf("85 °C: %v", err)
	}
}

func TestNotFitted(t *testing.T) {
	_, err := read(t, Options{Root: root(t, "nosuch"), ID: "*"})
	if !errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "no 1-Wire bus") || !strings.Contains(err.Error(), "dtoverlay=w1-gpio") {
		t.Errorf("no bus: %v", err)
	}
	_, err = read(t, Options{Root: root(t, "empty"), ID: "*"})
	if !errors.Is(err, sensors.ErrNotFitted) || !strings.Contains(err.Error(), "no temperature probe") {
		t.Errorf("no probes: %v", err)
	}
}

func TestValidate(t *testing.T) {
	_, err := New("t", &Options{Root: "sys/bus", ID: "28-xyz", Names: map[string]string{
		"28-00000abcdef1": "top", "28-00000abcdef2": "top", "bad": "x", "28-00000abcdef3": "a b",
	}})
	var fe config.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("New = %v", err)
	}
	for _, w := range []string{
		"root: must be an absolute path",
		`id: must be "*" or a probe id`,
		`names.28-00000abcdef2: field "top" is also the name of probe 28-00000abcdef1`,
		`names.28-00000abcdef3: invalid field name "a b"`,
		`names.bad: not a probe id`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
	o := DefaultOptions()
	if _, err := New("t", &o); err != nil || o.BusName() != "w1" {
		t.Errorf("defaults: %v", err)
	}
}

// probeTree lays out a w1 devices directory: probe id → file → contents.
func probeTree(t *testing.T, probes map[string]map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for id, files := range probes {
		if err := os.Mkdir(filepath.Join(dir, id), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(dir, id, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// Current kernels (w1_therm.c: read_scratchpad accepts a scratchpad whose
// byte 8 equals the CRC of bytes 0-7, and the CRC of eight zero bytes is
// 0) print 0 in the temperature file when the data line is held low. The
// scratchpad in w1_slave shows it for what it is.
func TestZeroInTemperatureFileIsCheckedAgainstTheScratchpad(t *testing.T) {
	dir := probeTree(t, map[string]map[string]string{
		"28-000000000000": {
			"temperature": "0\n",
			"w1_slave":    "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n",
		},
	})
	vals, err := read(t, Options{Root: dir, ID: "*"})
	if err == nil || !strings.Contains(err.Error(), "all zeros") {
		t.Errorf("all-zero scratchpad read as %+v, %v; want an all-zeros error", vals, err)
	}
}

// A real 0 °C: DS18B20 temperature 0x0000, byte 6 = 0x10 - (LSB & 0x0F) =
// 0x10 after a conversion, CRC 0x69 (Maxim's CRC-8 of bytes 0-7).
func TestRealZeroDegreesIsAReading(t *testing.T) {
	dir := probeTree(t, map[string]map[string]string{
		"28-00000abcdef1": {
			"temperature": "0\n",
			"w1_slave":    "00 00 4b 46 7f ff 10 10 69 : crc=69 YES\n00 00 4b 46 7f ff 10 10 69 t=0\n",
		},
	})
	vals, err := read(t, Options{Root: dir, ID: "*"})
	if err != nil || len(vals) != 1 || vals[0].Value != 0 {
		t.Errorf("0 °C: %+v, %v", vals, err)
	}
}

// On a CRC failure current kernels retry, then return nothing from both
// files (w1_slave_show and temperature_show return 0 bytes when
// convert_t fails): the error must point at the CRC, not at the text.
func TestEmptyFilesAreACRCFailure(t *testing.T) {
	dir := probeTree(t, map[string]map[string]string{
		"28-0000000bad0c": {"temperature": "", "w1_slave": ""},
	})
	_, err := read(t, Options{Root: dir, ID: "*"})
	if err == nil || !strings.Contains(err.Error(), "CRC") || strings.Contains(err.Error(), "not an integer") {
		t.Errorf("empty files: %v; want the CRC hint", err)
	}
}

// The kernel tells the power-on value from a conversion by the
// scratchpad's reserved byte 6 (w1_therm.c, W1_THERM_CHECK_RESULT: byte 6
// = 0x0C with temperature 0x0550 or 0x07FF is a reset scratchpad). After
// a conversion a DS18B20 sets byte 6 to 0x10 - (LSB & 0x0F): 0x10 for a
// real 85.000 °C (0x0550), which is a reading (solar hot water).
func TestPowerOnValueAndReal85(t *testing.T) {
	dir := probeTree(t, map[string]map[string]string{
		"28-0000000a0085": {"w1_slave": "50 05 4b 46 7f ff 10 10 bd : crc=bd YES\n50 05 4b 46 7f ff 10 10 bd t=85000\n"},
		"28-000000085c00": {"w1_slave": "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"},
		"28-0000007ff0c0": {"w1_slave": "ff 07 4b 46 7f ff 0c 10 a6 : crc=a6 YES\nff 07 4b 46 7f ff 0c 10 a6 t=127937\n"},
		// DS18S20 power-on: temperature 0x00AA, COUNT_REMAIN 0x0C,
		// COUNT_PER_C 0x10 (its datasheet's memory map).
		"10-000000085c00": {"w1_slave": "aa 00 4b 46 ff ff 0c 10 87 : crc=87 YES\naa 00 4b 46 ff ff 0c 10 87 t=85000\n"},
	})
	vals, err := read(t, Options{Root: dir, ID: "28-0000000a0085"})
	if err != nil || len(vals) != 1 || vals[0].Value != 85 {
		t.Errorf("a real 85.000 °C: %+v, %v", vals, err)
	}
	for _, id := range []string{"28-000000085c00", "28-0000007ff0c0", "10-000000085c00"} {
		_, err := read(t, Options{Root: dir, ID: id})
		if err == nil || !strings.Contains(err.Error(), "power-on") {
			t.Errorf("%s: %v, want the power-on error", id, err)
		}
	}
}

// Scratchpads on which the kernel prints a number that is not a reading.
// MAX31850 (family 3b, its datasheet's memory map): bytes 0-1 the
// thermocouple, bit 0 the fault flag; bytes 2-3 the cold junction, bits
// 0-2 open circuit, short to GND, short to VDD; byte 4's upper nibble
// reads 1. The kernel converts bytes 0-1 as a DS18B20's (t = s16 / 16 in
// milli-°C) whatever the flags. A DS18S20 (family 10) whose COUNT_PER_C
// (byte 7, 0x10 on the chip) reads 0 is printed as t=0 (w1_therm.c,
// w1_DS18S20_convert_temp).
func TestScratchpadsTheKernelPrintsAsNumbers(t *testing.T) {
	dir := probeTree(t, map[string]map[string]string{
		"3b-0000000c0000": {"w1_slave": "90 01 00 17 f0 ff ff ff c1 : crc=c1 YES\n90 01 00 17 f0 ff ff ff c1 t=25000\n"},
		"3b-00000000f0c0": {"w1_slave": "01 00 01 17 f0 ff ff ff 4e : crc=4e YES\n01 00 01 17 f0 ff ff ff 4e t=62\n"},
		"3b-000000000000": {"w1_slave": "00 00 00 00 f0 ff ff ff 17 : crc=17 YES\n00 00 00 00 f0 ff ff ff 17 t=0\n"},
		"10-0000000c0000": {"w1_slave": "32 00 4b 46 ff ff 0c 00 f6 : crc=f6 YES\n32 00 4b 46 ff ff 0c 00 f6 t=0\n"},
	})
	vals, err := read(t, Options{Root: dir, ID: "3b-0000000c0000"})
	if err != nil || len(vals) != 1 || vals[0].Value != 25 {
		t.Errorf("MAX31850 at 25 °C: %+v, %v", vals, err)
	}
	for id, want := range map[string]string{
		"3b-00000000f0c0": "thermocouple open circuit",
		"3b-000000000000": "never converted",
		"10-0000000c0000": "COUNT_PER_C",
	} {
		vals, err := read(t, Options{Root: dir, ID: id})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %+v, %v; want an error with %q", id, vals, err, want)
		}
	}
}
