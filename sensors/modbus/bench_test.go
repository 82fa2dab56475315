package modbus

import (
	"context"
	"sync"
	"testing"
	"time"
)

// BenchmarkRTUBus10Devices reads ten PZEM-016 meters (unit ids 1-10) on
// one RTU bus at 9600 baud, as the sampler does when their slots
// coincide: ten sensors at once, serialized by the shared bus. pymodbus
// answers through a relay that holds every frame for its time on a real
// wire (10 bits a byte). It reports the cycle time against the physical
// floor: every request's and answer's bytes at 10 bits a byte, plus the
// spec's 3.5-character silence after each frame.
//
//	go test -run '^$' -bench RTUBus10Devices -benchtime 20x ./sensors/modbus/
func BenchmarkRTUBus10Devices(b *testing.B) {
	const baud, devices = 9600, 10
	img := pyImage{}
	for u := 1; u <= devices; u++ {
		img[u] = pzemImage()
	}
	bus := newRTUBus(b, baud, img)
	var ss []*Sensor
	for u := 1; u <= devices; u++ {
		ss = append(ss, mustNew(b, rtuOpts(bus.port, u, "pzem-016")))
	}
	cycle := func() {
		var wg sync.WaitGroup
		for _, s := range ss {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Read(context.Background()); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	cycle() // open the port, plan the requests
	floor := busFloor(ss, baud)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		cycle()
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/cycle")
	b.ReportMetric(float64(floor.Microseconds())/1000, "floor-ms")
	b.ReportMetric(100*float64(floor)/float64(per), "%-of-floor")
}

// busFloor is the least time the sensors' requests can take on the wire.
func busFloor(ss []*Sensor, baud int) time.Duration {
	char := 10 * time.Second / time.Duration(baud)
	t35 := char * 35 / 10
	if baud > 19200 {
		t35 = 1750 * time.Microsecond
	}
	var total time.Duration
	for _, s := range ss {
		for _, sp := range s.spans {
			req := 8                    // unit, function, address, quantity, CRC
			resp := 5 + 2*int(sp.count) // unit, function, byte count, data, CRC
			if sp.table.bits() {
				resp = 5 + (int(sp.count)+7)/8
			}
			total += time.Duration(req+resp)*char + 2*t35
		}
	}
	return total
}
