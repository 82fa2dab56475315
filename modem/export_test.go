package modem

import "time"

// AbsentUntil exposes when the current "not fitted" answer expires.
func (c *Client) AbsentUntil() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.absentUntil
}
