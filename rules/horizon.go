package rules

import "time"

// Horizon is how far back the longest window reaches: how long the buffer
// must keep delivered readings (buffer.Ring.SetKeep) for the rebuild at
// the next start to find every reading a window holds now. 0: no window.
func (e *Engine) Horizon() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	var h time.Duration
	for _, s := range e.ser {
		h = max(h, s.keep)
	}
	return h
}
