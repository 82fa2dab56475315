package agent

import (
	"context"
	"time"

	"github.com/karana-energy/karana-edge/remote"
)

// confirmPoll is how often a pending remote config is checked.
const confirmPoll = 100 * time.Millisecond

// startConfirm watches the remote config version just applied: within
// [remote] confirm_timeout the uplink must be connected and the sampler
// must have produced a reading, else prev (the config running before) and
// its overlay are restored and rolled_back is reported once the link is
// back. The version stays burned: resending it is a replay.
func (a *Agent) startConfirm(ctx context.Context, version int64, prev *Config, prevOverlay *remote.Doc) {
	timeout := a.Config().Remote.ConfirmTimeout.Duration
	cctx, cancel := context.WithCancel(ctx)
	a.remote.mu.Lock()
	a.remote.confirm = cancel
	a.remote.mu.Unlock()
	go func() {
		defer cancel()
		deadline := time.NewTimer(timeout)
		defer deadline.Stop()
		tick := time.NewTicker(confirmPoll)
		defer tick.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-tick.C:
				_, s, u := a.parts()
				if u.Connected() && s.Progress() > 0 {
					if err := a.confirmPending(); err != nil {
						a.log.Error("remote: config confirmed but not persisted", "version", version, "err", err)
					} else {
						a.log.Info("remote: config confirmed", "version", version)
					}
					return
				}
			case <-deadline.C:
				a.rollback(ctx, version, prev, prevOverlay, timeout)
				return
			}
		}
	}()
}

// stopConfirm ends a pending confirmation (a newer set supersedes it).
func (a *Agent) stopConfirm() {
	a.remote.mu.Lock()
	c := a.remote.confirm
	a.remote.confirm = nil
	a.remote.mu.Unlock()
	if c != nil {
		c()
	}
}

func (a *Agent) rollback(ctx context.Context, version int64, prev *Config, prevOverlay *remote.Doc, timeout time.Duration) {
	_, s, u := a.parts()
	a.log.Warn("remote: config not confirmed; rolling back", "version", version, "timeout", timeout,
		"uplink_connected", u.Connected(), "sampler_reads", s.Progress())
	res := SetResult{Version: version, Status: StatusRolledBack, Errors: []ResultError{{
		Message: "not confirmed within confirm_timeout " + timeout.String() + ": uplink connected " +
			boolStr(u.Connected()) + ", sampler produced readings " + boolStr(s.Progress() > 0) + "; previous config restored"}}}
	if err := a.Apply(prev); err != nil {
		a.log.Error("remote: rollback failed", "err", err)
		res.Errors = append(res.Errors, ResultError{Message: "rollback: " + err.Error()})
	}
	a.remote.mu.Lock()
	a.remote.overlay = prevOverlay
	a.remote.mu.Unlock()
	if err := a.dropPending(); err != nil {
		a.log.Error("remote: rollback not persisted", "err", err)
	}
	a.sendResult(ctx, res)
	a.publishState(ctx)
}

func boolStr(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
