package uplink

import (
	"context"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Inbound messages: when Options.Inbound is set, every session subscribes
// at QoS 1 to <prefix>/config/set and <prefix>/cmd/+ right after CONNECT
// and hands each message to Inbound. The session is clean (see
// clientOptions), so a message sent while the box is offline is not queued
// by the broker for it: the sender retries, or publishes retained (the
// version check makes a retained config/set harmless on every reconnect).
//
// Inbound runs on paho's router goroutine, one message after the other in
// the order the broker sent them (SetOrderMatters(true)): it must hand the
// message off and return at once, never apply a config in place or wait
// for a publish: paho's incoming traffic (PUBACKs included) waits behind
// it, and applying may reconnect this very uplink.

// subscriber is the part of paho's client that subscribes; Client leaves it
// out so that test wrappers need not implement it.
type subscriber interface {
	Subscribe(topic string, qos byte, callback mqtt.MessageHandler) mqtt.Token
}

// InboundTopics are the topic filters subscribed when Options.Inbound is set.
func (u *Uplink) InboundTopics() []string {
	return []string{u.opts.Topic("config", "set"), u.opts.Topic("cmd", "+")}
}

// subscribeInbound subscribes s to the inbound topics, without blocking the
// connect path: data streams must not wait for SUBACK.
func (u *Uplink) subscribeInbound(s *session) {
	if u.opts.Inbound == nil {
		return
	}
	sub, ok := s.client.(subscriber)
	if !ok {
		u.log.Warn("client cannot subscribe; remote config and commands are off for this session")
		return
	}
	handler := u.opts.Inbound
	go func() {
		for _, topic := range u.InboundTopics() {
			tok := sub.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
				handler(m.Topic(), m.Payload())
			})
			select {
			case <-tok.Done():
				if err := tok.Error(); err != nil {
					u.log.Warn("subscribe failed", "topic", topic, "error", err)
				}
			case <-s.done:
				return
			case <-time.After(u.cfg.PublishTimeout.Duration):
				u.log.Warn("no SUBACK", "topic", topic, "waited", u.cfg.PublishTimeout.Duration)
			}
		}
	}()
}

// ErrNotConnected is returned by Publish while no session is up.
var ErrNotConnected = errors.New("uplink: not connected")

// Publish sends one message at QoS 1 on the live session and waits for the
// broker's PUBACK (at most PublishTimeout); it is for replies on
// config/result, config/state and cmd/<name>/result.
func (u *Uplink) Publish(topic string, payload []byte, retained bool) error {
	s, _ := u.current()
	if s == nil || s.lost() {
		return ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(context.Background(), u.cfg.PublishTimeout.Duration)
	defer cancel()
	tok, err := publishAsync(ctx, s, topic, retained, payload)
	if err != nil {
		return fmt.Errorf("uplink: publish %s: %w", topic, err)
	}
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("uplink: publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("uplink: publish %s: no PUBACK within %s", topic, u.cfg.PublishTimeout.Duration)
	case <-s.done:
		return fmt.Errorf("uplink: publish %s: connection lost: %w", topic, s.reason)
	}
}
