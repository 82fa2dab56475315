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

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/clock"
	"github.com/karana-energy/karana-edge/sensors"
	"github.com/karana-energy/karana-edge/uplink"
	"github.com/karana-energy/karana-edge/web"
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
	info    Info
	log     *slog.Logger
	started time.Time
	board   string

	ring *buffer.Ring
	// sampleSynced is clock sync as the sampler flags readings with it,
	// asked at most once a second (clock.CachedSynced).
	sampleSynced func() bool

	// mu guards cfg, sampler and up, which Apply swaps (reload.go).
	mu      sync.Mutex
	cfg     *Config
	sampler *sensors.Sampler
	up      *uplink.Uplink

	// applyMu serialises Apply, Reload, remote sets and shutdown; it guards
	// the fields below.
	applyMu  sync.Mutex
	running  bool
	stopped  bool
	samplerH handle
	upH      handle

	remote  remoteState // remote.go
	results resultQueue // remote_results.go
	link    linkState   // link.go: the modem and the link watchdog
	rules   *rulesHost  // rules.go

	latest *web.Latest // newest value of every series, for the page (http.go)
	http   httpState
	upd    updateState // update.go
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
	a := &Agent{cfg: cfg, info: info, log: log, started: time.Now().UTC(), board: cfg.Board.Name}
	a.sampleSynced = clock.CachedSynced(func() bool { return clockSynced() }, time.Second)

	ring, err := buffer.Open(filepath.Join(cfg.Device.DataDir, BufferFile), cfg.Buffer, log.With("component", "buffer"))
	if err != nil {
		return nil, err
	}
	a.ring = ring
	a.latest = web.NewLatest(ring)
	ring.SetClock(ringClock())
	ring.SetStreams(streamNames(cfg))

	list, err := BuildSensors(cfg)
	if err != nil {
		ring.Close()
		return nil, err
	}
	list = a.withTelemetry(cfg, list)
	if a.rules, err = newRulesHost(a, cfg); err != nil {
		closeAll(list)
		ring.Close()
		return nil, err
	}
	a.setKeep(cfg) // before any stream acknowledges: nothing the rules or page need is pruned
	restoreState(list, ring, log.With("component", "sampler"))
	a.sampler = a.newSampler(list)
	a.remoteLoaded(cfg)

	a.up, err = a.newUplink(cfg)
	if err != nil {
		closeAll(list)
		ring.Close()
		return nil, err
	}
	return a, nil
}

// status adds the buffer's view to the uplink's status document: the
// health fields and the counters.
func (a *Agent) status() map[string]any {
	st, err := a.ring.Stats()
	if err != nil {
		return map[string]any{"buffer_error": err.Error()}
	}
	m := a.healthFields(st)
	m["buffer_depth"] = st.Readings
	m["buffer_bytes"] = st.FileBytes
	m["dropped_total"] = st.DroppedTotal
	if !st.FailingSince.IsZero() {
		m["buffer_pending"] = st.Pending
	}
	a.linkStatus(m)
	// The oldest unsent reading is the one after the slowest configured
	// stream's cursor (the file may remember streams no longer configured).
	cfg, _, _ := a.parts()
	var minCursor uint64
	for i, sc := range cfg.Streams {
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

// healthFields are the status fields that say how the box is, not how much
// it holds: the uplink polls their digest every few seconds while
// connected (healthDigest), so they are cheap to compute: no buffer read,
// and the config hash only once per running config.
func (a *Agent) healthFields(st buffer.Stats) map[string]any {
	m := map[string]any{
		"commit":       a.info.Commit,
		"clock_synced": clockSynced(),
		"board":        a.board,
	}
	// Which config the box runs: the same hash as config/state's.
	m["config_hash"], m["config_version"] = a.configHash()
	if st.LastError != "" {
		m["buffer_last_error"] = st.LastError
	}
	if !st.FailingSince.IsZero() {
		// Commits fail (disk full, read-only card): readings wait in memory.
		m["buffer_failing_since"] = st.FailingSince.Format(time.RFC3339)
	}
	if st.DiskReadOnly {
		// The card refuses writes: the stored backlog is served, new
		// readings wait in memory until it is writable again.
		m["buffer_read_only"] = true
	}
	addRecovery(m, st)
	a.rules.addAlarms(m)
	return m
}

// addRecovery reports a buffer file lost or rolled back at this start: where
// it was moved, when, why, and the seq jump every stream announces as
// dropped.
func addRecovery(m map[string]any, st buffer.Stats) {
	if st.RecoveredAt.IsZero() {
		return
	}
	if st.RecoveredFrom != "" {
		m["buffer_recovered_from"] = st.RecoveredFrom
	}
	m["buffer_recovered_at"] = st.RecoveredAt.Format(time.RFC3339)
	m["buffer_recovery"] = st.Recovery
	m["buffer_seq_jump"] = st.SeqJump
}

// Run runs the pipeline until ctx is cancelled (SIGTERM/SIGINT), then shuts
// down in order within ShutdownBudget: stop sampling, commit, publish what
// the broker takes, close the buffer.
func (a *Agent) Run(ctx context.Context) error {
	cfg := a.Config()
	a.log.Info("karana-edge starting", "version", a.info.Version, "device", cfg.Device.ID,
		"sensors", len(cfg.Sensors), "streams", len(cfg.Streams), "broker", cfg.MQTT.Broker,
		"data_dir", cfg.Device.DataDir)

	a.applyMu.Lock()
	if a.running || a.stopped {
		a.applyMu.Unlock()
		return errors.New("agent: Run called twice")
	}
	a.running = true
	a.samplerH = a.startSampler(a.sampler)
	a.upH = a.startUplink(a.up)
	a.applyMu.Unlock()
	// The restart command cancels ctx with ErrRestartRequested: the same
	// clean shutdown as SIGTERM.
	ctx, restart := context.WithCancelCause(ctx)
	defer restart(nil)
	remoteDone := a.startRemote(ctx, restart)
	linkDone := a.startLink(ctx)
	go a.rules.run(ctx)
	defer a.startUpdate(ctx, restart)()
	clockDone := make(chan struct{})
	go func() {
		defer close(clockDone)
		watchClock(ctx, a.ring, a.log.With("component", "clock"))
	}()

	defer serveControl(ctx, filepath.Join(cfg.Device.DataDir, ControlSocket), a.ring, a.log)()
	defer a.serveHTTP()()

	stopWatchdog := notifyReady(ctx, a.log, a.maxQuiet(), a.progress)
	defer stopWatchdog()

	<-ctx.Done()
	a.log.Info("shutting down", "reason", context.Cause(ctx))
	deadline := time.Now().Add(ShutdownBudget - 500*time.Millisecond)

	// No Apply from here on: it would start parts we are stopping. An Apply
	// in flight finishes first (its stops are bounded like ours).
	a.applyMu.Lock()
	a.stopped = true
	sh, uh := a.samplerH, a.upH
	a.applyMu.Unlock()
	_, _, up := a.parts()

	sh.cancel()
	if !waitDone(sh.done, time.Until(deadline)/3) {
		a.log.Warn("sampler did not stop in time; committing what it produced")
	}
	a.rules.close() // outputs to their safe state, its readings in the final commit
	if err := a.ring.Flush(); err != nil {
		a.log.Error("final commit failed", "err", err)
	}
	if err := up.Shutdown(time.Until(deadline) - 500*time.Millisecond); err != nil {
		a.log.Warn("uplink shutdown", "err", err)
	}
	uh.cancel()
	waitDone(uh.done, time.Until(deadline))
	waitDone(remoteDone, time.Until(deadline))
	waitDone(linkDone, time.Until(deadline))
	a.stopLink()
	<-clockDone // never blocks: it only waits on ctx, done by now
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
	_, sampler, _ := a.parts()
	var n uint64
	for _, s := range sampler.Stats() {
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
	cfg, _, _ := a.parts()
	for _, s := range cfg.Sensors {
		// A scheduled sensor may be quiet for a day by design.
		if !s.Disabled && len(s.Schedule) == 0 {
			shortest = min(shortest, s.Interval.Duration)
		}
	}
	return 2*shortest + sensors.MaxBackoff + cfg.Buffer.CommitInterval.Duration
}
