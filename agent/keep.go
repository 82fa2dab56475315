package agent

import (
	"time"

	"github.com/karana-energy/karana-edge/web"
)

// keepFor is how long the buffer must keep delivered readings for this
// config: the rules' longest window (rebuilt from the buffer at start)
// and, with the page served, its default 24h plot. The buffer keeps the
// larger of this and [buffer] keep; max_bytes still wins.
func keepFor(cfg *Config, rules interface{ Horizon() time.Duration }) time.Duration {
	var d time.Duration
	if cfg.HTTP.Listen != "" {
		d = web.PlotKeep
	}
	if rules != nil {
		d = max(d, rules.Horizon())
	}
	return d
}

// setKeep tells the ring the horizon cfg needs: at start and after every
// reload that may have changed the rules.
func (a *Agent) setKeep(cfg *Config) {
	var h interface{ Horizon() time.Duration }
	if e := a.rules.current(); e != nil {
		h = e
	}
	d := keepFor(cfg, h)
	a.ring.SetKeep(d)
	a.log.Debug("delivered readings kept", "keep", a.ring.Keep(), "needed", d)
}
