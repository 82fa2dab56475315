// Package agent wires karana-edge's pipeline: the sampler feeds the buffer,
// the buffer feeds the uplink's streams, and the control socket lets
// `karana-edge buffer stats|export` look inside while the daemon runs.
//
// It is the one place that knows bbolt feeds MQTT; every other package only
// declares the small interface it needs from its neighbour.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/karana-energy/karana-edge/boards"
	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/clock"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/uplink"
)

// BufferFile is the ring's file name inside data_dir.
const BufferFile = "buffer.db"

// ControlSocket is the unix socket inside data_dir through which the CLI
// reaches a running daemon (bbolt's writer holds an exclusive lock, so a
// second process cannot open the file while the daemon runs).
const ControlSocket = "control.sock"

// ShutdownBudget bounds the whole shutdown: systemd's default stop timeout
// is far longer, but a box on battery backup has seconds, not minutes.
const ShutdownBudget = 5 * time.Second

// Info identifies the running build in the status document.
type Info struct {
	Version string
	Commit  string
}

// Agent is one running daemon.
type Agent struct {
	cfg     *Config
	info    Info
	log     *slog.Logger
	started time.Time
	board   string

	ring    *buffer.Ring
	sampler *sensors.Sampler
	up      *uplink.Uplink
}

// BuildSensors constructs every enabled sensor of cfg. Drivers open their
// hardware only on first read, so this touches no bus.
func BuildSensors(cfg *Config) ([]sensors.Configured, error) {
	var list []sensors.Configured
	for i, sc := range cfg.Sensors {
		if sc.Disabled {
			continue
		}
		d, ok := sensors.Lookup(sc.Driver)
		if !ok {
			return nil, fmt.Errorf("sensor[%d] %q: unknown driver %q", i, sc.Name, sc.Driver)
		}
		s, err := d.New(sc.Name, sc.Options)
		if err != nil {
			closeAll(list)
			return nil, fmt.Errorf("sensor[%d] %q (%s): %w", i, sc.Name, sc.Driver, err)
		}
		list = append(list, sensors.Configured{Config: sc, Sensor: s})
	}
	return list, nil
}

func closeAll(list []sensors.Configured) {
	for _, c := range list {
		c.Sensor.Close()
	}
}

// New opens the buffer and builds the pipeline; Run starts it.
func New(cfg *Config, info Info, log *slog.Logger) (*Agent, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Device.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", cfg.Device.DataDir, err)
	}
	a := &Agent{cfg: cfg, info: info, log: log, started: time.Now().UTC(), board: boards.Detect("/").Name}

	ring, err := buffer.Open(filepath.Join(cfg.Device.DataDir, BufferFile), cfg.Buffer, log.With("component", "buffer"))
	if err != nil {
		return nil, err
	}
	a.ring = ring
	names := make([]string, len(cfg.Streams))
	for i, s := range cfg.Streams {
		names[i] = s.Name
	}
	ring.SetStreams(names)

	list, err := BuildSensors(cfg)
	if err != nil {
		ring.Close()
		return nil, err
	}
	a.sampler = sensors.NewSampler(list, ring, sensors.SamplerOptions{
		Log:    log.With("component", "sampler"),
		Synced: clock.Synced,
	})

	a.up, err = uplink.New(cfg.MQTT, cfg.Streams, ring, uplink.Options{
		DeviceID: cfg.Device.ID,
		Version:  info.Version,
		Topic:    cfg.Topic,
		Status:   a.status,
		Log:      log.With("component", "uplink"),
	})
	if err != nil {
		closeAll(list)
		ring.Close()
		return nil, err
	}
	return a, nil
}

// status adds the buffer's view to the uplink's status document.
func (a *Agent) status() map[string]any {
	st, err := a.ring.Stats()
	if err != nil {
		return map[string]any{"buffer_error": err.Error()}
	}
	m := map[string]any{
		"commit":        a.info.Commit,
		"buffer_depth":  st.Readings,
		"buffer_bytes":  st.FileBytes,
		"dropped_total": st.DroppedTotal,
		"clock_synced":  clock.Synced(),
		"board":         a.board,
	}
	// The oldest unsent reading is the one after the slowest configured
	// stream's cursor (the file may remember streams no longer configured).
	var minCursor uint64
	for i, sc := range a.cfg.Streams {
		if c := a.ring.Cursor(sc.Name); i == 0 || c < minCursor {
			minCursor = c
		}
	}
	if rs, err := a.ring.Read(minCursor+1, 1); err == nil && len(rs) == 1 {
		m["oldest_unsent_age_s"] = int64(time.Since(rs[0].Time).Seconds())
	} else {
		m["oldest_unsent_age_s"] = 0
	}
	return m
}

// Run runs the pipeline until ctx is cancelled (SIGTERM/SIGINT), then shuts
// down in order within ShutdownBudget: stop sampling, commit, publish what
// the broker takes, close the buffer.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("karana-edge starting", "version", a.info.Version, "device", a.cfg.Device.ID,
		"sensors", len(a.cfg.Sensors), "streams", len(a.cfg.Streams), "broker", a.cfg.MQTT.Broker,
		"data_dir", a.cfg.Device.DataDir)

	sampleCtx, stopSampling := context.WithCancel(context.Background())
	upCtx, stopUplink := context.WithCancel(context.Background())
	defer stopSampling()
	defer stopUplink()

	var wg sync.WaitGroup
	samplerDone := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(samplerDone)
		if err := a.sampler.Run(sampleCtx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("sampler stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := a.up.Run(upCtx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("uplink stopped", "err", err)
		}
	}()

	ctl, err := listenControl(filepath.Join(a.cfg.Device.DataDir, ControlSocket), a.ring, a.log)
	if err != nil {
		// The daemon's job is sampling; a missing control socket only costs
		// the technician the live `buffer stats`.
		a.log.Warn("control socket unavailable", "err", err)
	} else {
		defer ctl.Close()
	}

	stopWatchdog := notifyReady(ctx, a.log, a.maxQuiet(), a.progress)
	defer stopWatchdog()

	<-ctx.Done()
	a.log.Info("shutting down", "reason", context.Cause(ctx))
	deadline := time.Now().Add(ShutdownBudget - 500*time.Millisecond)

	stopSampling()
	select {
	case <-samplerDone:
	case <-time.After(time.Until(deadline) / 3):
		a.log.Warn("sampler did not stop in time; committing what it produced")
	}
	if err := a.ring.Flush(); err != nil {
		a.log.Error("final commit failed", "err", err)
	}
	if err := a.up.Shutdown(time.Until(deadline) - 500*time.Millisecond); err != nil {
		a.log.Warn("uplink shutdown", "err", err)
	}
	stopUplink()
	waitTimeout(&wg, time.Until(deadline))
	if err := a.ring.Close(); err != nil {
		return fmt.Errorf("closing buffer: %w", err)
	}
	a.log.Info("stopped")
	return nil
}

// progress is what the watchdog watches: it moves while the sample loop
// attempts reads or decides to skip them (failed ones too: a box whose
// sensors are all unplugged is
// alive, and restarting it would not help) and the buffer commits.
func (a *Agent) progress() uint64 {
	var n uint64
	for _, s := range a.sampler.Stats() {
		n += s.Reads + s.Errors + s.BackoffSlots + s.SkippedSlots
	}
	st, _ := a.ring.Stats()
	return n + st.Commits
}

// maxQuiet is the longest a healthy pipeline goes without a read attempt:
// twice the shortest sensor interval, plus a failing sensor's longest
// backoff, plus a commit window.
func (a *Agent) maxQuiet() time.Duration {
	shortest := 24 * time.Hour
	for _, s := range a.cfg.Sensors {
		if !s.Disabled {
			shortest = min(shortest, s.Interval.Duration)
		}
	}
	return 2*shortest + sensors.MaxBackoff + a.cfg.Buffer.CommitInterval.Duration
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(max(d, 0)):
	}
}
