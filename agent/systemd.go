package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notifyReady tells systemd the daemon is ready (buffer open, sampler
// running) and, when WatchdogSec is set, pings the watchdog only while
// progress() moves: a wedged sample loop or buffer stops the pings and
// systemd restarts the process. Outside systemd it does nothing.
//
// maxQuiet is how long a healthy pipeline may go without progress (a box
// whose only sensor reads every 10 minutes makes none in between): pings
// continue until the stall exceeds it.
func notifyReady(ctx context.Context, log *slog.Logger, maxQuiet time.Duration, progress func() uint64) (stop func()) {
	if ok, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("sd_notify READY failed", "err", err)
	} else if !ok {
		return func() {}
	}
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return func() { daemon.SdNotify(false, daemon.SdNotifyStopping) }
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(interval / 3)
		defer t.Stop()
		last := progress()
		stalled := time.Duration(0)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := progress()
			if now != last {
				last, stalled = now, 0
				daemon.SdNotify(false, daemon.SdNotifyWatchdog)
				continue
			}
			stalled += interval / 3
			if stalled <= maxQuiet {
				daemon.SdNotify(false, daemon.SdNotifyWatchdog)
				continue
			}
			log.Warn("no progress in sampler or buffer; withholding watchdog ping", "stalled", stalled)
		}
	}()
	return func() {
		cancel()
		daemon.SdNotify(false, daemon.SdNotifyStopping)
	}
}
