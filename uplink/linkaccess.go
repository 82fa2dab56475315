package uplink

import (
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// What a bulk transfer that is not a data stream (a self-update) needs
// from the uplink: the live session to subscribe on, the same link windows
// and data budget the streams obey, and the budget's counter for the bytes
// it costs. Nothing here changes how the streams behave.

// unsubscriber is the part of paho's client that unsubscribes.
type unsubscriber interface {
	Unsubscribe(topics ...string) mqtt.Token
}

// Session identifies the live connection: it changes at each connect, 0
// while disconnected. A subscription made on one session is gone with it
// (clean session).
func (u *Uplink) Session() uint64 {
	if !u.Connected() {
		return 0
	}
	return u.connects.Load()
}

// LinkOpen reports whether the link is inside a window ([mqtt] windows;
// always without). An essential stream may bring the link up outside: a
// bulk transfer must not ride on that.
func (u *Uplink) LinkOpen() bool {
	return len(u.windows) == 0 || openAt(u.windows, u.now())
}

// BudgetSpent reports whether [mqtt] budget is used up for today or this
// month, and how long until there is room again.
func (u *Uplink) BudgetSpent() (bool, time.Duration) { return u.meter.spent() }

// CountWire adds n bytes of a transfer (both directions, MQTT framing
// included) to the budget's MQTT estimate. The socket's own count has them
// already where it can count (tcp, tls); the budget takes the larger.
func (u *Uplink) CountWire(n int64) { u.meter.addSent(n) }

// Subscribe subscribes the live session to topic at QoS 1 and waits for
// the SUBACK (at most PublishTimeout). handler runs on paho's router
// goroutine, in order with every other message: it must hand the payload
// off and return.
func (u *Uplink) Subscribe(topic string, handler func(topic string, payload []byte)) error {
	s, _ := u.current()
	if s == nil || s.lost() {
		return ErrNotConnected
	}
	sub, ok := s.client.(subscriber)
	if !ok {
		return fmt.Errorf("uplink: subscribe %s: the client cannot subscribe", topic)
	}
	tok := sub.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { handler(m.Topic(), m.Payload()) })
	return u.waitToken(s, tok, "subscribe "+topic)
}

// Unsubscribe ends a subscription made with Subscribe on the live session.
func (u *Uplink) Unsubscribe(topic string) error {
	s, _ := u.current()
	if s == nil || s.lost() {
		return ErrNotConnected
	}
	un, ok := s.client.(unsubscriber)
	if !ok {
		return fmt.Errorf("uplink: unsubscribe %s: the client cannot unsubscribe", topic)
	}
	return u.waitToken(s, un.Unsubscribe(topic), "unsubscribe "+topic)
}

func (u *Uplink) waitToken(s *session, tok mqtt.Token, what string) error {
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("uplink: %s: %w", what, err)
		}
		return nil
	case <-s.done:
		return fmt.Errorf("uplink: %s: connection lost: %w", what, s.reason)
	case <-time.After(u.cfg.PublishTimeout.Duration):
		return fmt.Errorf("uplink: %s: no answer within %s", what, u.cfg.PublishTimeout.Duration)
	}
}
