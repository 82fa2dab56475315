package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// spread summarises the reconnect times: the fraction of the fleet that
// reconnected in the busiest window of width w. A stampede puts nearly the
// whole fleet in one window; jittered backoff spreads it over the backoff
// range.
func spread(ts []time.Duration, w time.Duration) (peak int) {
	j := 0
	for i := range ts {
		for ts[i]-ts[j] >= w {
			j++
		}
		if n := i - j + 1; n > peak {
			peak = n
		}
	}
	return peak
}

// histogram prints the reconnect times in buckets of width w.
func histogram(out io.Writer, ts []time.Duration, buckets int) {
	if len(ts) == 0 {
		fmt.Fprintln(out, "(no reconnects recorded)")
		return
	}
	last := ts[len(ts)-1]
	w := last/time.Duration(buckets) + 1
	counts := make([]int, buckets)
	for _, t := range ts {
		i := int(t / w)
		if i >= buckets {
			i = buckets - 1
		}
		counts[i]++
	}
	maxc := 1
	for _, c := range counts {
		maxc = max(maxc, c)
	}
	fmt.Fprintln(out, "```")
	for i, c := range counts {
		bar := strings.Repeat("#", (c*50+maxc-1)/maxc)
		fmt.Fprintf(out, "%8s–%-8s %5d %s\n", (time.Duration(i) * w).Round(time.Millisecond), (time.Duration(i+1) * w).Round(time.Millisecond), c, bar)
	}
	fmt.Fprintln(out, "```")
}

func pct(ts []time.Duration, p float64) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	i := int(p * float64(len(ts)-1))
	return ts[i]
}

// Print writes the report as markdown.
func (r *Report) Print(out io.Writer) {
	fmt.Fprintf(out, "## Fleet: %d boxes × %d sim sensors, broker %s\n\n", r.Boxes, r.Sensors, r.Broker)
	fmt.Fprintln(out, "| Figure | Value |\n|---|---|")
	fmt.Fprintf(out, "| Fleet up (every box delivering) | %s%s |\n", r.StartedIn.Round(time.Millisecond), mark(r.StartupTimedOut, " (TIMED OUT)"))
	fmt.Fprintf(out, "| Steady messages/s at the broker | %.0f |\n", r.SteadyMsgsPerSec)
	fmt.Fprintf(out, "| Steady readings/s at the broker | %.0f |\n", r.SteadyReadingsPerSec)
	if r.Outage > 0 {
		fmt.Fprintf(out, "| Broker outage | %s |\n", r.Outage)
		fmt.Fprintf(out, "| Drain time after restart (all boxes caught up) | %s%s |\n", r.DrainTime.Round(time.Millisecond), mark(r.DrainTimedOut, " (TIMED OUT)"))
		fmt.Fprintf(out, "| Boxes caught up | %d / %d |\n", r.Drained, r.Boxes)
		fmt.Fprintf(out, "| Drain messages/s, readings/s | %.0f, %.0f |\n", r.DrainMsgsPerSec, r.DrainReadingsPerSec)
		ts := r.Reconnects
		fmt.Fprintf(out, "| Reconnects after restart | %d boxes; p10 %s, p50 %s, p90 %s, last %s |\n", len(ts),
			pct(ts, .1).Round(time.Millisecond), pct(ts, .5).Round(time.Millisecond), pct(ts, .9).Round(time.Millisecond), pct(ts, 1).Round(time.Millisecond))
		fmt.Fprintf(out, "| Busiest 100 ms of reconnects | %d boxes (%.0f %% of the fleet) |\n", spread(ts, 100*time.Millisecond), 100*float64(spread(ts, 100*time.Millisecond))/float64(max(1, r.Boxes)))
	}
	c := r.Complete
	fmt.Fprintf(out, "| Boxes with every reading delivered (gap-free from seq 1) | %d / %d |\n", c.Complete, c.Devices)
	fmt.Fprintf(out, "| Gaps, announced drops, duplicate batches | %d, %d, %d |\n", c.Gaps, c.Dropped, c.Dups)
	fmt.Fprintf(out, "| Total batches, readings received | %d, %d |\n", r.TotalMessages, r.TotalReadings)
	fmt.Fprintf(out, "| Harness peak RSS (boxes + broker), goroutines, fds | %.0f MiB, %d, %d |\n", r.PeakRSSMiB, r.Goroutines, r.FDs)
	if len(c.Missing) > 0 {
		fmt.Fprintf(out, "\nIncomplete or silent boxes (first %d): %s\n", len(c.Missing), strings.Join(c.Missing, ", "))
	}
	if r.Outage > 0 {
		fmt.Fprintln(out, "\nReconnect times after the broker restart:")
		histogram(out, r.Reconnects, 10)
	}
}

func mark(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

// OK reports whether the run proved what it must: every box up, drained and
// complete, with no malformed batch.
func (r *Report) OK() error {
	var errs []string
	if r.StartupTimedOut {
		errs = append(errs, "not every box delivered before the steady window")
	}
	if r.Outage > 0 && (r.DrainTimedOut || r.Drained != r.Boxes) {
		errs = append(errs, fmt.Sprintf("%d of %d boxes drained", r.Drained, r.Boxes))
	}
	if r.Complete.Complete != r.Complete.Devices {
		errs = append(errs, fmt.Sprintf("%d of %d boxes have gaps or are silent", r.Complete.Devices-r.Complete.Complete, r.Complete.Devices))
	}
	if r.Complete.Dropped > 0 {
		errs = append(errs, fmt.Sprintf("%d readings announced dropped", r.Complete.Dropped))
	}
	if r.BadBatches > 0 {
		errs = append(errs, fmt.Sprintf("%d malformed batches", r.BadBatches))
	}
	if r.StartErrors > 0 {
		errs = append(errs, fmt.Sprintf("%d boxes stopped with an error", r.StartErrors))
	}
	if len(errs) > 0 {
		return fmt.Errorf("fleet: %s", strings.Join(errs, "; "))
	}
	return nil
}
