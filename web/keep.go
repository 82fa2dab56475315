package web

import "time"

// PlotKeep is how long the page needs delivered readings kept in the
// buffer: its default plot range (24h). A 7d plot shows what the buffer
// keeps ([buffer] keep, or a rules window longer than a day), and says
// from when.
const PlotKeep = 24 * time.Hour

// keeper is a Ring that says how long it keeps delivered readings
// (buffer.Ring.Keep).
type keeper interface {
	Keep() time.Duration
}

// keepSeconds is the ring's horizon for the page, 0 when it does not say.
func keepSeconds(r Ring) float64 {
	if k, ok := r.(keeper); ok {
		return k.Keep().Seconds()
	}
	return 0
}
