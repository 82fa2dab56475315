package agent

// Live apply: a new config swaps the parts it changes while the buffer stays
// open. The sampler and the uplink each run once (their Run refuses a second
// call), so "restart" means: build the new one first (a failure leaves the
// old one running), stop the old one, start the new one. Readings already
// appended are in the ring (committed or pending), cursors live in the ring
// and are persisted by its commits, so a restarted uplink resends from the
// cursor what the old one had in flight: nothing is lost, a batch may be
// sent twice, as after any reconnect.
//
// Streams change in place (uplink.Reconfigure): the MQTT connection and
// its subscriptions stay up, so config/set messages sent close together
// are not lost to a reconnect. Only [mqtt] and [remote] enabled, what the
// connection is made of, reconnect on a new uplink.
//
// [device] and [buffer] are read once at start (the ring is open with them,
// every topic carries the device id): a reload that changes them applies
// the rest and keeps the running values, with a warning.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/karana-energy/karana-edge/clock"
	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/remote"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/uplink"
)

// handle is one running part: cancel stops it, done is closed when its Run
// returned.
type handle struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (h handle) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
}

// parts returns the current config, sampler and uplink.
func (a *Agent) parts() (*Config, *sensors.Sampler, *uplink.Uplink) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg, a.sampler, a.up
}

// Config returns the running (effective) config; callers must not modify it.
func (a *Agent) Config() *Config {
	c, _, _ := a.parts()
	return c
}

func (a *Agent) newSampler(list []sensors.Configured) *sensors.Sampler {
	return sensors.NewSampler(list, a.rules, sensors.SamplerOptions{
		Log:       a.log.With("component", "sampler"),
		Synced:    a.sampleSynced,
		Plausible: clock.Plausible,
	})
}

func (a *Agent) newUplink(cfg *Config) (*uplink.Uplink, error) {
	opts := uplink.Options{
		DeviceID: cfg.Device.ID,
		Version:  a.info.Version,
		Topic:    cfg.Topic,
		Status:   a.status,
		Health:   a.healthDigest,
		Log:      a.log.With("component", "uplink"),
		Severity: a.rules.severity,
	}
	if cfg.Remote.Enabled {
		opts.Inbound = a.inbound
		opts.InboundRetained = a.inboundRetained
		opts.MaxInbound = max(remote.MaxDocument, MaxCommand)
	}
	updateUplinkOptions(&opts, cfg)
	return uplink.New(cfg.MQTT, allStreams(cfg), a.ring, opts)
}

func streamNames(cfg *Config) []string {
	streams := allStreams(cfg)
	names := make([]string, len(streams))
	for i, s := range streams {
		names[i] = s.Name
	}
	return names
}

func (a *Agent) startSampler(s *sensors.Sampler) handle {
	ctx, cancel := context.WithCancel(context.Background())
	h := handle{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		if err := s.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("sampler stopped", "err", err)
		}
	}()
	return h
}

func (a *Agent) startUplink(u *uplink.Uplink) handle {
	ctx, cancel := context.WithCancel(context.Background())
	h := handle{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		if err := u.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("uplink stopped", "err", err)
		}
	}()
	return h
}

// ErrStopped is returned by Apply once the agent is shutting down.
var ErrStopped = errors.New("agent: stopped")

// Apply makes next the running config without a restart: sensors added,
// removed or re-timed restart the sampler; stream changes restart those
// streams on the live connection; [mqtt] or [remote] enabled changes
// restart the uplink (a reconnect). next must come from
// ParseConfig/LoadConfig (validated). On error nothing has changed.
func (a *Agent) Apply(next *Config) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	return a.applyLocked(next)
}

func (a *Agent) applyLocked(next *Config) error {
	if a.stopped {
		return ErrStopped
	}
	cur, _, _ := a.parts()
	n := *next
	next = &n
	if !reflect.DeepEqual(cur.Device, next.Device) || !reflect.DeepEqual(cur.Buffer, next.Buffer) || cur.Log != next.Log || cur.HTTP != next.HTTP {
		a.log.Warn("config: [device], [buffer], [log] and [http] changes take effect at the next restart; keeping the running values")
		next.Device, next.Buffer, next.Log, next.Board, next.HTTP = cur.Device, cur.Buffer, cur.Log, cur.Board, cur.HTTP
		if next.MQTT.ClientID == "" || next.MQTT.ClientID == n.Device.ID {
			next.MQTT.ClientID = cmpOr(cur.MQTT.ClientID, cur.Device.ID)
		}
	}
	sensorsChanged := !reflect.DeepEqual(cur.Sensors, next.Sensors) || cur.Telemetry != next.Telemetry
	uplinkChanged := !reflect.DeepEqual(cur.MQTT, next.MQTT) || cur.Remote.Enabled != next.Remote.Enabled
	streamsChanged := !reflect.DeepEqual(allStreams(cur), allStreams(next))

	var list []sensors.Configured
	if sensorsChanged {
		var err error
		if list, err = BuildSensors(next); err != nil {
			return fmt.Errorf("agent: apply: %w", err)
		}
		list = a.withTelemetry(next, list)
	}
	var up *uplink.Uplink
	if uplinkChanged {
		var err error
		if up, err = a.newUplink(next); err != nil {
			closeAll(list)
			return fmt.Errorf("agent: apply: %w", err)
		}
	} else if streamsChanged {
		// in place; nothing after this can fail
		if err := a.reconfigureStreams(cur, next); err != nil {
			closeAll(list)
			return fmt.Errorf("agent: apply: %w", err)
		}
	}

	if sensorsChanged {
		a.samplerH.stop() // closes the old sensors; state they saved is in the ring
		restoreState(list, a.ring, a.log.With("component", "sampler"))
		s := a.newSampler(list)
		a.mu.Lock()
		a.sampler = s
		a.mu.Unlock()
		if a.running {
			a.samplerH = a.startSampler(s)
		}
	}
	if uplinkChanged {
		a.upH.stop() // publishes the offline status; in-flight batches are resent from the cursor
		a.ring.SetStreams(streamNames(next))
		a.mu.Lock()
		a.up = up
		a.mu.Unlock()
		if a.running {
			a.upH = a.startUplink(up)
		}
	}
	if err := a.rules.apply(next); err != nil {
		a.log.Error("rules not applied; the last rules are off", "err", err)
	}
	a.setKeep(next)
	a.mu.Lock()
	a.cfg = next
	a.mu.Unlock()
	a.log.Info("config applied", "sensors", len(next.Sensors), "streams", len(next.Streams),
		"sampler_restarted", sensorsChanged, "uplink_restarted", uplinkChanged,
		"streams_reconfigured", streamsChanged && !uplinkChanged)
	return nil
}

// reconfigureStreams changes the running uplink's streams in place. While
// it switches, the ring keeps readings for the old streams and the new.
func (a *Agent) reconfigureStreams(cur, next *Config) error {
	_, _, up := a.parts()
	a.ring.SetStreams(append(streamNames(cur), streamNames(next)...))
	if err := up.Reconfigure(allStreams(next)); err != nil {
		a.ring.SetStreams(streamNames(cur))
		return err
	}
	a.ring.SetStreams(streamNames(next))
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Reload is SIGHUP: it re-reads the local file (and re-applies the
// persisted remote overlay over it) with the same validation as at start.
// A bad file is returned as config.Errors and the running config is kept.
func (a *Agent) Reload() error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	cur, _, _ := a.parts()
	next, reset, err := loadEffective(cur.File, a.log)
	if err != nil {
		return err
	}
	if reset {
		a.stopConfirm() // the overlay on probation is gone with the rest
	} else {
		next = a.rebaseProbation(next)
	}
	if err := a.applyLocked(next); err != nil {
		return err
	}
	a.remoteLoaded(next)
	if reset {
		a.remote.mu.Lock()
		a.remote.version = next.remoteVersion // down: remoteLoaded only raises it
		a.remote.mu.Unlock()
		a.publishState(context.Background())
	}
	return nil
}

// LogConfigError logs err, one line per config.Error when it holds some, so
// every mistake is logged with its position.
func LogConfigError(log interface{ Error(string, ...any) }, msg string, err error) {
	if errs, ok := config.AsErrors(err); ok {
		for _, e := range errs {
			log.Error(msg, "error", e.Error())
		}
		return
	}
	log.Error(msg, "error", err)
}

// waitDone waits for ch at most d.
func waitDone(ch <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}
