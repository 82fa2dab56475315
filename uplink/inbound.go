package uplink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Inbound messages: when Options.Inbound is set, every session subscribes
// at QoS 1 to <prefix>/config/set and <prefix>/cmd/+ right after CONNECT
// and hands each message to Inbound. With clean_session = false (the
// default) the broker keeps those subscriptions and queues what is sent
// while the box is offline; the queue comes right after CONNACK, before
// the SUBSCRIBE is answered, through paho's default handler (a message on
// a topic of an older session, another prefix, is acknowledged and
// dropped). With a clean session nothing is queued: the sender retries,
// or publishes config/set retained, which comes with the retain flag at
// every subscribe (Options.InboundRetained; the version check makes it
// harmless).
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
	go func() {
		for _, topic := range u.InboundTopics() {
			tok := sub.Subscribe(topic, 1, u.deliverInbound)
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

// deliverInbound hands one message from the broker to Inbound (or
// InboundRetained); on paho's router goroutine.
func (u *Uplink) deliverInbound(_ mqtt.Client, m mqtt.Message) {
	topic := m.Topic()
	if !u.isInbound(topic) {
		u.log.Info("message on a topic the box does not subscribe to now; dropped", "topic", topic)
		return
	}
	if m.Retained() && u.opts.InboundRetained != nil {
		u.opts.InboundRetained(topic, m.Payload())
		return
	}
	u.opts.Inbound(topic, m.Payload())
}

// isInbound reports whether topic is config/set or one level under cmd/.
func (u *Uplink) isInbound(topic string) bool {
	if topic == u.opts.Topic("config", "set") {
		return true
	}
	name, ok := strings.CutPrefix(topic, u.opts.Topic("cmd")+"/")
	return ok && name != "" && !strings.Contains(name, "/")
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
