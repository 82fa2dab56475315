package modem

import "time"

// AbsentUntil exposes when the current "not fitted" answer expires.
func (c *Client) AbsentUntil() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.absentUntil
}

// SystemBusSocket is where the client looks for the system bus.
var SystemBusSocket = &systemBusSocket
