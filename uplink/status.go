package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The status topic carries one retained document, so whoever subscribes
// later sees the device's last known state:
//
//	{"state":"online","device":"site-042","version":"1.2.0","started_at":"...","connected_at":"...",
//	 "bytes_sent_today":1234,"bytes_sent_month":56789,"budget_left_today":...,"budget_left_month":..., +Options.Status()}
//	{"state":"offline","device":"site-042"}                                  // the will: the link died
//	{"state":"offline","device":"site-042","reason":"shutdown","at":"..."}   // a clean stop
//
// The will is set at CONNECT, so the broker publishes it when the
// connection dies without an MQTT DISCONNECT (power cut, dead link, or the
// uplink cutting a stalled socket). A clean DISCONNECT discards the will, so
// a clean stop publishes its own offline document first.

func (u *Uplink) onlineDoc(s *session) []byte {
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
	if bs.LeftToday >= 0 {
		doc["budget_left_today"] = bs.LeftToday
	}
	if bs.LeftMonth >= 0 {
		doc["budget_left_month"] = bs.LeftMonth
	}
	b, err := json.Marshal(doc)
	if err != nil {
		u.log.Warn("uplink: status fields cannot be encoded; publishing the basic status", "error", err)
		b, _ = json.Marshal(map[string]any{
			"state": "online", "device": u.opts.DeviceID, "version": u.opts.Version,
			"started_at": doc["started_at"], "connected_at": doc["connected_at"],
		})
	}
	return b
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

// publishOnline publishes the retained online document on s. With done nil
// it does not wait: at connect the data streams must not queue behind it.
func (u *Uplink) publishOnline(s *session, done chan<- error) {
	doc := u.onlineDoc(s)
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
			u.log.Info("uplink: online status not published", "error", err)
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
