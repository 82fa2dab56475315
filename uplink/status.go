package uplink

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// The status topic carries one retained document, so whoever subscribes
// later sees the device's last known state:
//
//	{"state":"online","device":"site-042","version":"1.2.0","started_at":"...","connected_at":"...",
//	 "bytes_sent_today":1234,"bytes_sent_month":56789,"wire_bytes_today":4321,"wire_bytes_month":98765,
//	 "budget_left_today":...,"budget_left_month":..., +Options.Status()}
//	{"state":"offline","device":"site-042"}                                  // the will: the link died
//	{"state":"offline","device":"site-042","reason":"shutdown","at":"...",  // a clean stop (or "window")
//	 "bytes_sent_today":...,"bytes_sent_month":...,"wire_bytes_today":...,"wire_bytes_month":...}
//
// The offline document of a clean stop carries the day's final figures:
// the wire counts include what this document, its PUBACK, the DISCONNECT
// and the TLS close cost (finalDoc), so the last retained word of the day
// is what the SIM saw at the socket.
//
// The will is set at CONNECT, so the broker publishes it when the
// connection dies without an MQTT DISCONNECT (power cut, dead link, or the
// uplink cutting a stalled socket). A clean DISCONNECT discards the will, so
// a clean stop publishes its own offline document first.

// onlineDoc builds the online document and returns the Options.Health
// digest it reflects, taken first (a change in between goes out again) and
// recorded as published already, so that a slow PUBACK does not make the
// health watch send the same state twice.
func (u *Uplink) onlineDoc(s *session) ([]byte, string) {
	var digest string
	if u.opts.Health != nil {
		digest = u.opts.Health()
		u.health.published(digest)
	}
	doc := map[string]any{}
	if u.opts.Status != nil {
		for k, v := range u.opts.Status() {
			doc[k] = v
		}
	}
	// our fields win over same-named extra fields
	doc["state"] = "online"
	doc["device"] = u.opts.DeviceID
	doc["version"] = u.opts.Version
	doc["started_at"] = u.startedAt.UTC().Format(time.RFC3339)
	doc["connected_at"] = s.connectedAt.UTC().Format(time.RFC3339)
	bs := u.meter.stats()
	doc["bytes_sent_today"] = bs.SentToday
	doc["bytes_sent_month"] = bs.SentMonth
	doc["wire_bytes_today"] = bs.WireToday
	doc["wire_bytes_month"] = bs.WireMonth
	if bs.LeftToday >= 0 {
		doc["budget_left_today"] = bs.LeftToday
	}
	if bs.LeftMonth >= 0 {
		doc["budget_left_month"] = bs.LeftMonth
	}
	b, err := json.Marshal(doc)
	if err != nil {
		u.log.Warn("status fields cannot be encoded; publishing the basic status", "error", err)
		b, _ = json.Marshal(map[string]any{
			"state": "online", "device": u.opts.DeviceID, "version": u.opts.Version,
			"started_at": doc["started_at"], "connected_at": doc["connected_at"],
		})
	}
	return b, digest
}

func (u *Uplink) offlineDoc(reason string) []byte {
	doc := map[string]any{"state": "offline", "device": u.opts.DeviceID}
	if reason != "" {
		doc["reason"] = reason
		doc["at"] = time.Now().UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(doc)
	return b
}

// finalDoc is the offline document of a clean stop on s, with the byte
// counters as they will stand once it is out: its PUBLISH and PUBACK, the
// DISCONNECT, and with TLS a record per packet and the close_notify alert.
// The document's length moves with the numbers in it, so the estimate is
// taken again until it holds still.
func (u *Uplink) finalDoc(s *session, reason string) []byte {
	at := time.Now().UTC().Format(time.RFC3339)
	bs := u.meter.stats()
	var b []byte
	for range 4 {
		prev := len(b)
		extra := closingBytes(s, u.topicStatus, prev)
		doc := map[string]any{"state": "offline", "device": u.opts.DeviceID, "reason": reason, "at": at,
			"bytes_sent_today": bs.SentToday + wireBytes(u.topicStatus, prev),
			"bytes_sent_month": bs.SentMonth + wireBytes(u.topicStatus, prev),
			"wire_bytes_today": bs.WireToday + extra, "wire_bytes_month": bs.WireMonth + extra}
		b, _ = json.Marshal(doc)
		if len(b) == prev {
			break
		}
	}
	return b
}

// closingBytes is what the socket carries to publish a payload of n bytes
// on topic at QoS 1 and disconnect: PUBLISH, PUBACK (4 B), DISCONNECT
// (2 B), and with TLS one record around each of the three and the
// close_notify alert (a 2-byte record). A record costs 5 B of header and,
// with the AEAD suites TLS 1.3 has, a 16-byte tag and the 1-byte inner
// content type (RFC 8446 5.2); TLS 1.2's GCM suites add an 8-byte explicit
// nonce instead of the content type (RFC 5288 3).
func closingBytes(s *session, topic string, n int) int64 {
	b := wireBytes(topic, n) + 2
	st := s.tlsState()
	if st == nil {
		return b
	}
	rec := int64(5 + 16 + 8)
	if st.Version == tls.VersionTLS13 {
		rec = 5 + 16 + 1
	}
	return b + 4*rec + 2
}

// publishOnline publishes the retained online document on s. With done nil
// it does not wait: at connect the data streams must not queue behind it.
func (u *Uplink) publishOnline(s *session, done chan<- error) {
	doc, digest := u.onlineDoc(s)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), u.cfg.PublishTimeout.Duration)
		defer cancel()
		tok, err := publishAsync(ctx, s, u.topicStatus, true, doc)
		if err == nil {
			u.meter.add(u.topicStatus, len(doc))
			select {
			case <-tok.Done():
				err = tok.Error()
			case <-ctx.Done():
				err = fmt.Errorf("no PUBACK within %s", u.cfg.PublishTimeout.Duration)
			case <-s.done:
				err = fmt.Errorf("connection lost: %w", s.reason)
			}
		}
		if err != nil {
			err = fmt.Errorf("uplink: status %s: %w", u.topicStatus, err)
			u.log.Info("online status not published", "error", err)
			u.health.failed(digest)
		}
		if done != nil {
			done <- err
		}
	}()
}

// PublishStatus publishes the online status document again, with fresh
// Options.Status fields, and waits for the broker's acknowledgement.
func (u *Uplink) PublishStatus() error {
	s, _ := u.current()
	if s == nil || s.lost() {
		return errors.New("uplink: status: not connected")
	}
	done := make(chan error, 1)
	u.publishOnline(s, done)
	return <-done
}

// Health republish. The status document goes out at connect; a fault that
// starts later (the card fills up, commits fail) would wait for the next
// reconnect, and the karana.* telemetry that reports it sits in the same
// failing buffer. So while connected the uplink polls Options.Health every
// healthPoll and publishes the document again, retained, when the digest
// differs from the one the last published document carried: promptly for
// the first change, then at most once per healthMinGap, the newest state
// winning, so a fault and its recovery within a minute cost two documents
// (the recovery one a minute after the first), and a flapping fault at most
// one a minute (~600 B each; 864 kB a day at worst). Each one is counted in
// the bytes sent and the data budget like the connect-time document, and
// is not held back by a spent budget either: it is the news that matters
// then.
const (
	healthPoll   = 5 * time.Second
	healthMinGap = time.Minute
)

// healthState is the uplink's side of the health republish.
type healthState struct {
	mu   sync.Mutex
	last string    // digest the last status document published carried
	next time.Time // no health republish before this

	// poll and minGap replace healthPoll and healthMinGap when set (tests)
	poll, minGap time.Duration
}

func (h *healthState) published(digest string) {
	h.mu.Lock()
	h.last = digest
	h.mu.Unlock()
}

// SetHealthIntervals replaces the health poll (5s) and the least gap
// between health republishes (1m), for tests that cannot wait a minute.
// Call it before Run.
func (u *Uplink) SetHealthIntervals(poll, minGap time.Duration) {
	u.health.mu.Lock()
	u.health.poll, u.health.minGap = poll, minGap
	u.health.mu.Unlock()
}

// failed forgets digest as published, so the watch sends it again (the
// next connect's document carries it anyway).
func (h *healthState) failed(digest string) {
	h.mu.Lock()
	if h.last == digest {
		h.last = ""
	}
	h.mu.Unlock()
}

func (h *healthState) intervals() (poll, minGap time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return cmp.Or(h.poll, healthPoll), cmp.Or(h.minGap, healthMinGap)
}

// due reports whether digest, seen at now, is to be published now, and if
// so counts the publish against the rate.
func (h *healthState) due(digest string, now time.Time, minGap time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if digest == h.last || now.Before(h.next) {
		return false
	}
	h.next = now.Add(minGap)
	return true
}

// watchHealth republishes the status document on s when the health digest
// changes; it returns when s ends.
func (u *Uplink) watchHealth(s *session) {
	if u.opts.Health == nil {
		return
	}
	poll, minGap := u.health.intervals()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		if !u.health.due(u.opts.Health(), u.now(), minGap) {
			continue
		}
		u.log.Info("health changed; publishing the status again", "topic", u.topicStatus)
		done := make(chan error, 1)
		u.publishOnline(s, done)
		<-done // bounded by publish_timeout; a failure is logged there
	}
}
