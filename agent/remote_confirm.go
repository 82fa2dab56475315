package agent

import (
	"context"
	"os"
	"time"

	"github.com/karana-energy/karana-edge/remote"
)

// confirmPoll is how often a pending remote config is checked.
const confirmPoll = 100 * time.Millisecond

// probation is a remote document applied and not yet confirmed: the
// config a rollback restores and the overlay that goes with it.
type probation struct {
	version     int64
	prev        *Config
	prevOverlay *remote.Doc
}

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
	a.remote.probation = &probation{version: version, prev: prev, prevOverlay: prevOverlay}
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
					a.remote.mu.Lock()
					a.remote.probation = nil
					a.remote.mu.Unlock()
					if err := a.confirmPending(); err != nil {
						a.log.Error("remote: config confirmed but not persisted", "version", version, "err", err)
					} else {
						a.log.Info("remote: config confirmed", "version", version)
					}
					return
				}
			case <-deadline.C:
				a.applyMu.Lock() // a SIGHUP must not rebase the probation under us
				p := a.probationOf(version)
				var res SetResult
				if p != nil {
					res = a.rollbackLocked(*p, timeout)
				}
				a.applyMu.Unlock()
				if p != nil {
					a.sendResult(ctx, res)
					a.publishState(ctx)
				}
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
	a.remote.probation = nil
	a.remote.mu.Unlock()
	if c != nil {
		c()
	}
}

// probationOf returns the probation of version, nil when it has ended.
func (a *Agent) probationOf(version int64) *probation {
	a.remote.mu.Lock()
	defer a.remote.mu.Unlock()
	if p := a.remote.probation; p != nil && p.version == version {
		cp := *p
		return &cp
	}
	return nil
}

// rollbackLocked restores p's previous config and returns the result to
// send; the caller holds applyMu.
func (a *Agent) rollbackLocked(p probation, timeout time.Duration) SetResult {
	version, prev, prevOverlay := p.version, p.prev, p.prevOverlay
	_, s, u := a.parts()
	a.log.Warn("remote: config not confirmed; rolling back", "version", version, "timeout", timeout,
		"uplink_connected", u.Connected(), "sampler_reads", s.Progress())
	res := SetResult{Version: version, Status: StatusRolledBack, Errors: []ResultError{{
		Message: "not confirmed within confirm_timeout " + timeout.String() + ": uplink connected " +
			boolStr(u.Connected()) + ", sampler produced readings " + boolStr(s.Progress() > 0) + "; previous config restored"}}}
	if err := a.applyLocked(prev); err != nil {
		a.log.Error("remote: rollback failed", "err", err)
		res.Errors = append(res.Errors, ResultError{Message: "rollback: " + err.Error()})
	}
	a.remote.mu.Lock()
	a.remote.overlay = prevOverlay
	a.remote.probation = nil
	a.remote.mu.Unlock()
	if err := a.dropPending(); err != nil {
		a.log.Error("remote: rollback not persisted", "err", err)
	}
	return res
}

func boolStr(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// rebaseProbation is SIGHUP during a probation: base is the new local file
// with the confirmed overlay. The document on probation stays on probation
// over the new file, and a rollback now restores base. When the two no
// longer fit together the file wins: the document is rolled back at once.
// It returns the config to run; the caller holds applyMu.
func (a *Agent) rebaseProbation(base *Config) *Config {
	a.remote.mu.Lock()
	p, doc, ctx := a.remote.probation, a.remote.overlay, a.remote.ctx
	a.remote.mu.Unlock()
	if p == nil || doc == nil || doc.Version != p.version {
		return base
	}
	local, err := os.ReadFile(base.File)
	var next *Config
	if err == nil {
		next, err = mergeConfig(base.File, local, base, doc)
	}
	if err == nil {
		a.remote.mu.Lock()
		if a.remote.probation == p {
			p.prev, p.prevOverlay = base, base.overlay
		}
		a.remote.mu.Unlock()
		return next
	}
	LogConfigError(a.log, "remote: the reloaded file and the config on probation do not fit together; rolling it back", err)
	a.stopConfirm()
	if derr := a.dropPending(); derr != nil {
		a.log.Error("remote: rollback not persisted", "err", derr)
	}
	res := SetResult{Version: p.version, Status: StatusRolledBack, Errors: resultErrors(err)}
	res.Errors = append(res.Errors, ResultError{Message: "rolled back: the local file was reloaded (SIGHUP) and no longer admits this document"})
	if ctx == nil {
		ctx = context.Background()
	}
	a.sendResult(ctx, res)
	return base
}
