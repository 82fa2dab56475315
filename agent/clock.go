package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/karana-energy/karana-edge/buffer"
	"github.com/karana-energy/karana-edge/clock"
)

// The clock as the agent sees it; variables so tests can fake a box whose
// clock syncs (or never does).
var (
	clockSynced = clock.Synced
	clockOffset = clock.Offset
	clockBootID = clock.BootID
	// syncPoll is how often the agent asks whether the clock synced: a
	// stat and an adjtimex, nothing that waits. Start-up never waits for
	// time sync (an offline site never gets it).
	syncPoll = 10 * time.Second
)

// ringClock is what the buffer needs to keep, correct and check reading
// times (see buffer/clock.go).
func ringClock() buffer.Clock {
	return buffer.Clock{
		BootID:    clockBootID(),
		Offset:    clockOffset,
		Synced:    clockSynced,
		Plausible: clock.Plausible,
	}
}

// watchClock records in the buffer, each time the clock becomes
// synchronized (at start-up too, for readings a previous run of this boot
// left unsynced), the wall-minus-boot offset after the sync: from then on
// the buffer re-stamps this boot's unsynced readings before they are sent.
// It returns when ctx is done.
func watchClock(ctx context.Context, ring *buffer.Ring, log *slog.Logger) {
	boot := clockBootID()
	if boot == "" {
		log.Warn("no boot id: readings taken before the clock syncs cannot be re-stamped")
		return
	}
	t := time.NewTicker(syncPoll)
	defer t.Stop()
	was := false
	for {
		synced := clockSynced()
		switch {
		case synced && !was:
			if off, ok := clockOffset(); ok {
				ring.MarkSynced(boot, off)
				log.Info("clock synchronized; readings taken before are re-stamped from their boot time",
					"boot_id", boot, "boot_time", time.Unix(0, int64(off)).UTC())
			}
		case !synced && was:
			log.Warn("clock no longer synchronized; new readings are flagged clock unsynced", "boot_id", boot)
		}
		was = synced
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
