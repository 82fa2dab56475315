package ds18b20

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Scratchpad bytes, as w1_slave prints them.
const (
	spTempLSB = 0
	spTempMSB = 1
	// spReserved6 is byte 6: 0x0C at power-on; a DS18B20 sets it to
	// 0x10 - (LSB & 0x0F) when it converts (COUNT_REMAIN on a DS18S20).
	spReserved6 = 6
	resetByte6  = 0x0C
)

// ParseW1Slave parses the kernel's w1_slave text for a probe of family
// ("28", "10", … the id's prefix) and returns the temperature in milli-°C.
// It decides from the scratchpad whether the value is a reading.
func ParseW1Slave(family, text string) (int, error) {
	if strings.TrimSpace(text) == "" {
		// Current kernels retry a read whose CRC fails, then print nothing.
		return 0, errors.New("the kernel returned no reading: the scratchpad failed its CRC on every retry (noise on the cable or a weak pull-up: use 4.7 kΩ, less on long runs) or the probe stopped answering")
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) < 2 {
		return 0, fmt.Errorf("w1_slave: want two lines, got %q", text)
	}
	first := strings.TrimSpace(lines[0])
	if !strings.HasSuffix(first, "YES") {
		return 0, fmt.Errorf("crc error (%s): noise on the cable or a weak pull-up", first)
	}
	data, _, _ := strings.Cut(first, ":")
	data = strings.TrimSpace(data)
	sp, err := scratchpad(data)
	if err != nil {
		return 0, err
	}
	if err := check(family, sp, data); err != nil {
		return 0, err
	}
	i := strings.LastIndex(lines[1], "t=")
	if i < 0 {
		return 0, fmt.Errorf("w1_slave: no t= in %q", lines[1])
	}
	s := strings.TrimSpace(lines[1][i+2:])
	m, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("temperature %q is not an integer of milli-°C", s)
	}
	return m, nil
}

// scratchpad parses the nine hex bytes of w1_slave's first line.
func scratchpad(data string) ([9]byte, error) {
	var sp [9]byte
	f := strings.Fields(data)
	if len(f) != len(sp) {
		return sp, fmt.Errorf("w1_slave: scratchpad %q is not nine bytes", data)
	}
	for i, h := range f {
		v, err := strconv.ParseUint(h, 16, 8)
		if err != nil {
			return sp, fmt.Errorf("w1_slave: scratchpad %q: byte %d is not hex", data, i)
		}
		sp[i] = byte(v)
	}
	return sp, nil
}

// check returns an error when the scratchpad the CRC passed is not a
// conversion.
func check(family string, sp [9]byte, data string) error {
	if sp == [9]byte{} {
		return fmt.Errorf("probe returned all zeros (%s): the data line is held low or the probe is missing", data)
	}
	if powerOn(family, sp) {
		return fmt.Errorf("85 °C is the power-on reset value (scratchpad %s): the probe lost power or did not convert (check its supply; parasite power needs a strong pull-up)", data)
	}
	switch family {
	case "10":
		if sp[7] == 0 {
			// The kernel prints t=0 for it (w1_DS18S20_convert_temp).
			return fmt.Errorf("COUNT_PER_C (byte 7) reads 0, not the DS18S20's 0x10 (scratchpad %s): not a conversion", data)
		}
	case "3b":
		return checkMAX31850(sp, data)
	}
	return nil
}

// checkMAX31850 checks a MAX31850's fault flags (byte 0 bit 0; byte 2 bits
// 0-2) and its reset value: thermocouple and cold junction both 0.
func checkMAX31850(sp [9]byte, data string) error {
	if sp[0]&1 != 0 || sp[2]&7 != 0 {
		var causes []string
		for bit, what := range []string{"thermocouple open circuit", "thermocouple shorted to GND", "thermocouple shorted to VDD"} {
			if sp[2]&(1<<bit) != 0 {
				causes = append(causes, what)
			}
		}
		if len(causes) == 0 {
			causes = append(causes, "fault bit set without a cause")
		}
		return fmt.Errorf("%s (scratchpad %s)", strings.Join(causes, ", "), data)
	}
	if sp[0]|sp[1]|sp[2]|sp[3] == 0 {
		return fmt.Errorf("thermocouple and cold junction both read exactly 0 (scratchpad %s): the reset value, the chip never converted", data)
	}
	return nil
}

// powerOn reports a scratchpad still holding its power-on value. For the
// DS18B20 format the kernel's own test (w1_therm.c, W1_THERM_CHECK_RESULT):
// byte 6 at its reset value 0x0C with temperature 0x0550 (85 °C) or 0x07FF.
// A DS18S20 resets to 0x00AA with COUNT_REMAIN 0x0C, which is also what a
// real 85.000 °C gives (85 − 0.25 + (16 − 12)/16): there the two cannot be
// told apart, and the power-on value wins.
func powerOn(family string, sp [9]byte) bool {
	t := uint16(sp[spTempMSB])<<8 | uint16(sp[spTempLSB])
	if sp[spReserved6] != resetByte6 {
		return false
	}
	if family == "10" {
		return t == 0x00AA
	}
	return t == 0x0550 || t == 0x07FF
}
