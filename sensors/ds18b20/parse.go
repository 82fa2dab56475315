package ds18b20

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// resetMilliC is the DS18B20 scratchpad's power-on value, 85 °C.
const resetMilliC = 85000

// ParseW1Slave parses the kernel's w1_slave text and returns the
// temperature in milli-°C.
func ParseW1Slave(text string) (int, error) {
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
	if zero := strings.Trim(strings.ReplaceAll(data, " ", ""), "0"); zero == "" && data != "" {
		return 0, fmt.Errorf("probe returned all zeros (%s): the data line is held low or the probe is missing", strings.TrimSpace(data))
	}
	i := strings.LastIndex(lines[1], "t=")
	if i < 0 {
		return 0, fmt.Errorf("w1_slave: no t= in %q", lines[1])
	}
	return parseMilli(lines[1][i+2:])
}

func parseMilli(s string) (int, error) {
	m, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("temperature %q is not an integer of milli-°C", strings.TrimSpace(s))
	}
	if m == resetMilliC {
		return 0, fmt.Errorf("85 °C is the power-on reset value: the probe lost power or did not convert (check its supply; parasite power needs a strong pull-up)")
	}
	return m, nil
}
