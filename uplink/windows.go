package uplink

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/cron"
)

// Link windows ([mqtt] windows = ["0 6 * * * 30m"]): for a modem that is
// powered only at times, the link may be up only inside a window, a 5-field
// cron expression (UTC) giving its starts and a duration. Outside every
// window the uplink does not connect; when a window ends it asks every
// stream to publish what is buffered, waits until that is acknowledged
// (streams held by the data budget excepted), publishes the retained
// offline status with reason "window" and disconnects cleanly. An
// essential stream with matching readings pending may bring the link up
// outside a window; the link then goes down again the same way once they
// are sent (other streams send too while it is up). Matching readings are
// looked for incrementally, so a week of other readings is scanned once,
// not at every poll.

// Windows is [mqtt] windows: entries "<minute> <hour> <dom> <month> <dow>
// <duration>". It decodes from a list of strings (or one string); entries
// are kept joined with "; " so that MQTTConfig stays comparable.
type Windows string

// window is one parsed entry.
type window struct {
	sched cron.Schedule
	dur   time.Duration
}

// maxWindow bounds a window's length: a longer one is "always up".
const maxWindow = 31 * 24 * time.Hour

// UnmarshalTOML accepts a list of strings or one string.
func (w *Windows) UnmarshalTOML(v any) error {
	entries, err := config.Strings(v, "windows", "0 6 * * * 30m")
	if err != nil {
		return err
	}
	_, list := v.([]any) // one string may hold several windows, "a; b"
	for i, s := range entries {
		if list && strings.Contains(s, ";") {
			return fmt.Errorf("windows[%d] %q: one window per string", i, s)
		}
		if list {
			entries[i] = strings.TrimSpace(s)
		}
	}
	nw := Windows(strings.Join(entries, "; "))
	if _, err := nw.Parse(); err != nil {
		return err
	}
	*w = nw
	return nil
}

// Entries returns the windows one per string.
func (w Windows) Entries() []string {
	if strings.TrimSpace(string(w)) == "" {
		return nil
	}
	var out []string
	for e := range strings.SplitSeq(string(w), ";") {
		out = append(out, strings.TrimSpace(e))
	}
	return out
}

// Parse checks every entry.
func (w Windows) Parse() ([]window, error) {
	var out []window
	for i, e := range w.Entries() {
		f := strings.Fields(e)
		if len(f) != 6 {
			return nil, fmt.Errorf("windows[%d] %q: want a 5-field cron expression and a duration, e.g. \"0 6 * * * 30m\"", i, e)
		}
		s, err := cron.Parse(strings.Join(f[:5], " "))
		if err != nil {
			return nil, fmt.Errorf("windows[%d]: %w", i, err)
		}
		d, err := time.ParseDuration(f[5])
		if err != nil || d < time.Minute || d > maxWindow {
			return nil, fmt.Errorf("windows[%d] %q: duration %q must be from 1m to %s", i, e, f[5], maxWindow)
		}
		if s.Next(time.Now().UTC()).IsZero() {
			return nil, fmt.Errorf("windows[%d] %q: the schedule never matches", i, e)
		}
		out = append(out, window{s, d})
	}
	return out, nil
}

// openAt reports whether t is inside a window: a start in (t-dur, t].
func openAt(ws []window, t time.Time) bool {
	t = t.UTC()
	for _, w := range ws {
		if s := w.sched.Next(t.Add(-w.dur)); !s.IsZero() && !s.After(t) {
			return true
		}
	}
	return false
}

// nextOpen is the next window start after t (zero: none).
func nextOpen(ws []window, t time.Time) time.Time {
	var n time.Time
	for _, w := range ws {
		if s := w.sched.Next(t.UTC()); !s.IsZero() && (n.IsZero() || s.Before(n)) {
			n = s
		}
	}
	return n
}

// waitForLink blocks, outside every window, until one opens or an
// essential stream has readings pending.
func (u *Uplink) waitForLink(ctx context.Context) {
	logged := false
	for len(u.windows) > 0 && ctx.Err() == nil {
		now := u.now()
		if openAt(u.windows, now) {
			return
		}
		if s := u.essentialPending(); s != nil {
			u.log.Info("outside the link windows; essential data pending, bringing the link up", "stream", s.name)
			return
		}
		next := nextOpen(u.windows, now)
		if !logged {
			u.log.Info("outside the link windows; link down", "next_window", next.Format(time.RFC3339), "backlog", u.backlog())
			logged = true
		}
		u.sleepUrgent(ctx, min(next.Sub(now), u.windowPoll))
	}
}

// essentialPending returns an essential stream with matching readings past
// its cursor, or nil.
func (u *Uplink) essentialPending() *stream {
	for _, s := range u.list() {
		if !s.cfg.Essential {
			continue
		}
		from := max(s.cursor.Load(), s.quiet.Load(), s.scanned.Load()) + 1
		rs, err := u.src.Read(from, 10000)
		if err != nil || len(rs) == 0 {
			continue
		}
		for i := range rs {
			for _, g := range s.cfg.Match {
				if ok, _ := path.Match(g, rs[i].Name); ok {
					return s
				}
			}
		}
		s.scanned.Store(rs[len(rs)-1].Seq)
	}
	return nil
}

// windowClosed returns a channel closed once the link should go down:
// outside every window and with what was buffered then acknowledged. Nil
// without windows.
func (u *Uplink) windowClosed(ctx context.Context, sess *session) <-chan struct{} {
	if len(u.windows) == 0 {
		return nil
	}
	ch := make(chan struct{})
	go func() {
		t := time.NewTicker(u.windowPoll)
		defer t.Stop()
		var target uint64
		closing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-sess.done:
				return
			case <-t.C:
			}
			if !closing {
				if openAt(u.windows, u.now()) {
					continue
				}
				closing = true
				_, target = u.src.Bounds()
				u.log.Info("link window over; sending what is buffered, then disconnecting", "up_to_seq", target)
				u.Flush()
			}
			if u.drainedUpTo(target) {
				close(ch)
				return
			}
		}
	}()
	return ch
}

// drainedUpTo reports whether every stream has sent what it can up to seq:
// acknowledged, or (an aggregate stream) nothing complete left, or waiting
// for the budget.
func (u *Uplink) drainedUpTo(seq uint64) bool {
	first, _ := u.src.Bounds()
	for _, s := range u.list() {
		c := max(s.cursor.Load(), s.quiet.Load())
		if first > 0 {
			c = max(c, first-1)
		}
		if c < seq && !u.budgetBlocks(s) {
			return false
		}
	}
	return true
}

// closeForWindow ends the session cleanly: the retained offline status
// with reason "window", then an MQTT DISCONNECT.
func (u *Uplink) closeForWindow(s *session) {
	ctx, cancel := context.WithTimeout(context.Background(), u.cfg.PublishTimeout.Duration)
	defer cancel()
	doc := u.finalDoc(s, "window")
	tok, err := publishAsync(ctx, s, u.topicStatus, true, doc)
	if err == nil {
		u.meter.add(u.topicStatus, len(doc))
		select {
		case <-tok.Done():
			err = tok.Error()
		case <-ctx.Done():
			err = errors.New("no PUBACK")
		}
	}
	if err == nil {
		s.client.Disconnect(250)
	} else {
		u.log.Info("offline status not published; cutting the connection so the broker publishes the will", "error", err)
	}
	s.end(errors.New("link window over"))
	s.cut()
	u.disconnects.Add(1)
	u.log.Info("disconnected", "broker", u.cfg.Broker, "reason", "link window over", "backlog", u.backlog())
}
