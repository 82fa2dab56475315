//go:build arm || arm64

package i2cbus

// The Raspberry Pi's drivers (memory-mapped GPIO, header pin names) on the
// architectures a Pi runs; host.Init links them only there too. On amd64
// they would only add to the binary and its resident text.
import (
	_ "periph.io/x/host/v3/bcm283x"
	_ "periph.io/x/host/v3/rpi"
)
