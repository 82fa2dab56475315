// Package all links every sensor driver into a binary: import it for its
// side effects (each driver registers itself in init).
//
//	import _ "github.com/karana-energy/karana-edge/sensors/all"
package all

import (
	_ "github.com/karana-energy/karana-edge/sensors/ads1x15"
	_ "github.com/karana-energy/karana-edge/sensors/bme280"
	_ "github.com/karana-energy/karana-edge/sensors/ds18b20"
	_ "github.com/karana-energy/karana-edge/sensors/exec"
	_ "github.com/karana-energy/karana-edge/sensors/frequency"
	_ "github.com/karana-energy/karana-edge/sensors/gpio"
	_ "github.com/karana-energy/karana-edge/sensors/i2creg"
	_ "github.com/karana-energy/karana-edge/sensors/ina219"
	_ "github.com/karana-energy/karana-edge/sensors/ina226"
	_ "github.com/karana-energy/karana-edge/sensors/ina3221"
	_ "github.com/karana-energy/karana-edge/sensors/max31855"
	_ "github.com/karana-energy/karana-edge/sensors/mcp3xxx"
	_ "github.com/karana-energy/karana-edge/sensors/mcp9808"
	_ "github.com/karana-energy/karana-edge/sensors/modbus"
	_ "github.com/karana-energy/karana-edge/sensors/pulse"
	_ "github.com/karana-energy/karana-edge/sensors/sht3x"
	_ "github.com/karana-energy/karana-edge/sensors/sim"
	_ "github.com/karana-energy/karana-edge/sensors/system"
	_ "github.com/karana-energy/karana-edge/sensors/vedirect"
)
