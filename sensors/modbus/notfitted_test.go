package modbus

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/karana-energy/karana-edge/sensors"
)

// An adapter that is not there and never was is "not fitted", as for the
// vedirect driver: the sampler then reports the sensor quietly instead of
// logging an error at every read; once the bus has been open, a vanished
// port is an error (the adapter was unplugged).
func TestMissingPortIsNotFitted(t *testing.T) {
	s := mustNew(t, rtuOpts(filepath.Join(t.TempDir(), "ttyUSB9"), 1, "pzem-016"))
	_, err := s.Read(context.Background())
	if err == nil || !errors.Is(err, sensors.ErrNotFitted) {
		t.Fatalf("read of a port that does not exist: %v; want it not fitted", err)
	}
}
