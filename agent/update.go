package agent

// Self-update (package update holds the document, transfer, install and
// launcher): with [update] enabled the agent takes signed documents on
// <prefix>/update/doc, fetches the chunks within the link windows and the
// data budget, installs the binary on trial and re-executes the launcher;
// a binary started on trial confirms itself here once it is healthy by the
// same test as a remote config (uplink connected, sampler producing).

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/karana-energy/karana-edge/config"
	"github.com/karana-energy/karana-edge/update"
	"github.com/karana-energy/karana-edge/uplink"
)

// ErrUpdateRestart is the run context's cause when an update was
// installed: the daemon stops cleanly and re-executes the launcher.
var ErrUpdateRestart = errors.New("update installed: restarting into it")

// FaultEnv names the install step at which a test build (-tags
// karana_testhooks) kills itself with SIGKILL, a power cut at that point:
// "chunk:N" after the Nth verified chunk, "write" halfway through writing
// the binary, "rename" after its rename, "installed" after the trial is
// recorded, "confirm" when the trial is healthy, before it confirms. Other
// builds ignore it.
const FaultEnv = "KARANA_EDGE_TEST_FAULT"

// updateState is the agent's self-update side.
type updateState struct {
	exec atomic.Bool // Run returned for a re-exec into the update
}

// checkUpdate: updates are only ever taken signed.
func (c *Config) checkUpdate(doc *config.Doc) {
	if !c.Update.Enabled {
		return
	}
	if k, err := c.updateKey(); k == nil && err == nil {
		doc.Errorf("update.enabled", "updates must be signed: set [update] public_key (or public_key_file), or [remote] public_key")
	}
}

// updateKey is [update]'s own key, else [remote]'s.
func (c *Config) updateKey() (ed25519.PublicKey, error) {
	if k, err := c.Update.OwnKey(); k != nil || err != nil {
		return k, err
	}
	return c.Remote.Key()
}

// ExecUpdate reports whether Run returned to re-execute into an installed
// update (cmd/karana-edge then calls update.Reexec).
func (a *Agent) ExecUpdate() bool { return a.upd.exec.Load() }

// updateUplinkOptions bounds inbound messages when chunks may arrive: a
// chunk is at most update.MaxChunk, a document update.MaxDocument.
func updateUplinkOptions(opts *uplink.Options, cfg *Config) {
	if cfg.Update.Enabled {
		opts.MaxInbound = max(opts.MaxInbound, update.MaxDocument, update.MaxChunk)
	}
}

// selfPath is the running binary, readable even after dpkg replaced the
// file.
func selfPath() string {
	if runtime.GOOS == "linux" {
		return "/proc/self/exe"
	}
	p, _ := os.Executable()
	return p
}

// startUpdate starts the trial confirmation (when launched on trial) and
// the updater (when enabled); the returned func waits for both to end
// after ctx.
func (a *Agent) startUpdate(ctx context.Context, restart context.CancelCauseFunc) func() {
	cfg := a.Config()
	store := update.NewStore(cfg.Device.DataDir)
	role := os.Getenv(update.LaunchEnv)
	var wg sync.WaitGroup
	var up *update.Updater
	var upMu sync.Mutex
	if cfg.Update.Enabled {
		u, err := a.newUpdater(ctx, cfg, store, role, restart)
		if err != nil {
			a.log.Error("update: not started", "err", err)
		} else {
			up = u
			wg.Go(func() { u.Run(ctx) })
		}
	}
	if role == update.RoleCurrent {
		wg.Go(func() {
			producing := func() bool { _, s, _ := a.parts(); return s.Progress() > 0 }
			if err := update.Healthy(ctx, store, producing, time.Second); err != nil {
				a.log.Error("update: healthy start not recorded", "err", err)
			}
		})
	}
	if role == update.RoleTrial {
		wg.Go(func() {
			a.confirmTrial(ctx, store, func() *update.Updater { upMu.Lock(); defer upMu.Unlock(); return up })
		})
	}
	return wg.Wait
}

func (a *Agent) newUpdater(ctx context.Context, cfg *Config, store *update.Store, role string, restart context.CancelCauseFunc) (*update.Updater, error) {
	// The key comes from the local file alone: a remote document that may
	// set [remote] must not thereby choose who signs binaries.
	local, err := LoadConfig(cfg.File)
	if err != nil {
		return nil, fmt.Errorf("update: reading the local file for its keys: %w", err)
	}
	key, err := local.updateKey()
	if err != nil || key == nil {
		return nil, fmt.Errorf("update: no key to verify updates with (%v)", err)
	}
	link := &updateLink{a: a}
	return update.New(update.Options{
		Store: store,
		Box: update.Box{Target: update.Running(), Version: a.info.Version,
			AllowDowngrade: local.Update.AllowDowngrade},
		Key:        key,
		Self:       selfPath(),
		DocTopic:   cfg.Topic("update", "doc"),
		StateTopic: cfg.Topic("update", "state"),
		Link:       func() update.Link { return link },
		Role:       role,
		Installed: func() {
			// Installed while stopping (SIGTERM): the next start runs the
			// trial; re-executing now would defy systemd's stop.
			if ctx.Err() == nil {
				a.upd.exec.Store(true)
				restart(ErrUpdateRestart)
			}
		},
		Fault: faultHook,
		Log:   a.log.With("component", "update"),
	})
}

// confirmTrial makes this binary the confirmed one once it is healthy.
func (a *Agent) confirmTrial(ctx context.Context, store *update.Store, up func() *update.Updater) {
	sum, err := update.SelfSHA(selfPath())
	if err != nil {
		a.log.Error("update: cannot read the running binary; the trial cannot confirm", "err", err)
		return
	}
	healthy := func() bool {
		_, s, u := a.parts()
		ok := u.Connected() && s.Progress() > 0
		if ok && faultHook != nil {
			faultHook("confirm")
		}
		return ok
	}
	ok, err := update.Confirm(ctx, store, sum, healthy, confirmPoll)
	switch {
	case err != nil:
		a.log.Error("update: trial healthy but not confirmed", "err", err)
	case ok:
		a.log.Info("update: trial confirmed; this binary is now the one that runs", "version", a.info.Version)
		if u := up(); u != nil {
			u.Rescan()
			u.PublishState()
		}
	}
}

// updateLink is the uplink as the updater sees it; the agent's uplink is
// replaced when [mqtt] changes, so each call takes the current one.
type updateLink struct {
	a        *Agent
	mu       sync.Mutex
	last     *uplink.Uplink
	lastSess uint64
	gen      uint64
}

func (l *updateLink) up() *uplink.Uplink {
	_, _, up := l.a.parts()
	return up
}

func (l *updateLink) Session() uint64 {
	up := l.up()
	s := up.Session()
	if s == 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if up != l.last || s != l.lastSess {
		l.gen++
		l.last, l.lastSess = up, s
	}
	return l.gen
}

func (l *updateLink) Ready() (bool, string) {
	up := l.up()
	switch {
	case !up.Connected():
		return false, "link down"
	case !up.LinkOpen():
		return false, "outside the [mqtt] windows"
	}
	if spent, wait := up.BudgetSpent(); spent {
		return false, "[mqtt] budget spent; room again in " + wait.Round(time.Minute).String()
	}
	return true, ""
}

func (l *updateLink) Subscribe(topic string, h func(string, []byte)) error {
	return l.up().Subscribe(topic, h)
}
func (l *updateLink) Unsubscribe(topic string) error { return l.up().Unsubscribe(topic) }
func (l *updateLink) CountWire(n int64)              { l.up().CountWire(n) }
func (l *updateLink) Publish(topic string, b []byte, retained bool) error {
	return l.up().Publish(topic, b, retained)
}
