package agent

// The modem and the link watchdog, wired: the modem's health joins the
// karana.* telemetry and the status document; the watchdog (package
// linkwatch) gets the uplink's last contact and the agent's means to act:
// a fresh uplink for "reconnect", ModemManager for "restart-modem",
// logind for "reboot".

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/linkwatch"
	"github.com/karana-energy/karana-edge/modem"
)

// linkState is the agent's part of the link: the modem client and the
// watchdog, both made on first use.
type linkState struct {
	once  sync.Once
	modem *modem.Client

	mu      sync.Mutex
	watch   *linkwatch.Watchdog
	lastErr string // the last modem read error logged (not "not fitted")
}

func (a *Agent) modemClient() *modem.Client {
	a.link.once.Do(func() {
		a.link.modem = modem.New(modem.Options{Log: a.log.With("component", "modem")})
	})
	return a.link.modem
}

// modemStatus reads the modem, bounded: a telemetry sample or a connect
// must not wait on a wedged ModemManager. ok is false when there is no
// modem or the read failed (logged when the failure changes).
func (a *Agent) modemStatus(timeout time.Duration) (modem.Status, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := a.modemClient().Status(ctx)
	a.link.mu.Lock()
	defer a.link.mu.Unlock()
	switch {
	case err == nil:
		a.link.lastErr = ""
		return st, true
	case errors.Is(err, modem.ErrNotFitted):
		return st, false // logged once by the client
	case err.Error() != a.link.lastErr:
		a.link.lastErr = err.Error()
		a.log.Warn("modem: cannot read its status", "err", err)
	}
	return st, false
}

// modemTelemetry adds the karana.modem.* fields (telemetry.go lists them).
func (a *Agent) modemTelemetry(add func(field string, v float64, unit string)) {
	st, ok := a.modemStatus(5 * time.Second)
	if !ok {
		return
	}
	add("modem.signal_quality", float64(st.SignalQuality), "%")
	add("modem.access_tech", float64(st.AccessTech), "")
	add("modem.generation", float64(st.AccessTech.Generation()), "")
	add("modem.state", float64(st.State), "")
	if st.Has3gpp {
		add("modem.registration", float64(st.Registration), "")
		if n, ok := st.OperatorNumber(); ok {
			add("modem.operator_code", n, "")
		}
	}
	if st.HasBytes {
		add("modem.rx_bytes", float64(st.RxBytes), "B")
		add("modem.tx_bytes", float64(st.TxBytes), "B")
	}
}

// linkStatus adds the status document's "modem" and "link_watchdog"
// fields. Neither is health (healthFields): the modem's numbers move on
// their own, and watchdog steps happen while offline, so the connect's
// document carries them anyway.
func (a *Agent) linkStatus(m map[string]any) {
	if st, ok := a.modemStatus(2 * time.Second); ok {
		md := map[string]any{
			"state":          st.State.String(),
			"access_tech":    st.AccessTech.String(),
			"signal_quality": st.SignalQuality,
		}
		if st.Has3gpp {
			md["operator"] = st.Operator
			md["operator_code"] = st.OperatorCode
			md["registration"] = st.Registration.String()
		}
		m["modem"] = md
	}
	a.link.mu.Lock()
	w := a.link.watch
	a.link.mu.Unlock()
	if w == nil {
		return
	}
	if r := w.Report(); r != nil {
		m["link_watchdog"] = r
	}
}

// linkPoll is how often the watchdog looks: no_contact is at least 15
// minutes, so a minute is a fine grain.
const linkPoll = time.Minute

// startLink runs the watchdog while [link] no_contact is set (a reload may
// turn it on, off or change it) until ctx ends.
func (a *Agent) startLink(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(linkPoll)
		defer t.Stop()
		for {
			a.linkCheck(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done
}

// linkCheck makes the watchdog on first need and runs one check.
func (a *Agent) linkCheck(ctx context.Context) *linkwatch.Step {
	cfg := a.Config()
	if !cfg.Link.Enabled() {
		return nil
	}
	w := a.linkWatchdog(cfg)
	if w == nil {
		return nil
	}
	return w.Check(ctx)
}

func (a *Agent) linkWatchdog(cfg *Config) *linkwatch.Watchdog {
	a.link.mu.Lock()
	defer a.link.mu.Unlock()
	if a.link.watch != nil {
		a.link.watch.SetConfig(cfg.Link)
		return a.link.watch
	}
	w, err := linkwatch.New(linkwatch.Options{
		Config:  cfg.Link,
		DataDir: cfg.Device.DataDir,
		Contact: uplinkContact{a},
		Actions: linkActions{a},
		Synced:  func() bool { return clockSynced() },
		Log:     a.log.With("component", "linkwatch"),
	})
	if err != nil {
		a.log.Error("link watchdog: state", "err", err, "file", filepath.Join(cfg.Device.DataDir, linkwatch.StateFile))
	}
	a.link.watch = w
	return w
}

// uplinkContact is the uplink's last successful exchange with the broker:
// now while the connection is up (paho drops it when a keepalive goes
// unanswered), else the newest PUBACK of any stream. The uplink is
// replaced by a reconnect or a reload, which resets its stats; the
// watchdog keeps the latest contact it saw.
type uplinkContact struct{ a *Agent }

func (c uplinkContact) LastContact() time.Time {
	_, _, up := c.a.parts()
	if up == nil {
		return time.Time{}
	}
	if up.Connected() {
		return time.Now()
	}
	var last time.Time
	for _, s := range up.Stats().Streams {
		if s.LastPublish.After(last) {
			last = s.LastPublish
		}
	}
	return last
}

// LinkWanted: outside [mqtt] windows the link is down by design, and the
// watchdog does not count that as silence.
func (c uplinkContact) LinkWanted() bool {
	_, _, up := c.a.parts()
	return up == nil || up.LinkWanted()
}

// linkActions are the watchdog's steps as the agent carries them out.
type linkActions struct{ a *Agent }

func (l linkActions) Reconnect(context.Context) error { return l.a.reconnectUplink() }

func (l linkActions) RestartModem(ctx context.Context) error {
	return notFitted(l.a.modemClient().Restart(ctx))
}

func (l linkActions) ResetModem(ctx context.Context) error {
	return notFitted(l.a.modemClient().Reset(ctx))
}

func (l linkActions) Reboot(ctx context.Context) (string, error) {
	return linkwatch.Rebooter{}.Reboot(ctx)
}

// modemAbsent keeps the modem's own message and tells the watchdog the
// step does not apply.
type modemAbsent struct{ error }

func (modemAbsent) Is(target error) bool { return target == linkwatch.ErrNotFitted }
func (e modemAbsent) Unwrap() error      { return e.error }

func notFitted(err error) error {
	if errors.Is(err, modem.ErrNotFitted) {
		return modemAbsent{err}
	}
	return err
}

// reconnectUplink replaces the uplink with a fresh one on the running
// config: a new socket, DNS lookup and TLS session, and no reconnect
// backoff carried over. In-flight batches are resent from the cursors, as
// after any reconnect.
func (a *Agent) reconnectUplink() error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if a.stopped || !a.running {
		return ErrStopped
	}
	cfg := a.Config()
	up, err := a.newUplink(cfg)
	if err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	a.upH.stop()
	a.mu.Lock()
	a.up = up
	a.mu.Unlock()
	a.upH = a.startUplink(up)
	a.log.Info("link watchdog: uplink restarted", "broker", cfg.MQTT.Broker)
	return nil
}

// stopLink closes the modem's bus connection.
func (a *Agent) stopLink() {
	a.link.once.Do(func() {}) // orders the read after a concurrent first use
	if a.link.modem != nil {
		a.link.modem.Close()
	}
}
