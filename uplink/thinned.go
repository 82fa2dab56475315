package uplink

import (
	"strings"

	"github.com/karana-energy/karana-edge/reading"
)

// The buffer thins the oldest undelivered readings into per-minute
// aggregates when it passes thin_at during a long outage (buffer/thin.go).
// The seqs of the raw readings they replace are gone, and a stream must not
// count them as dropped: by the buffer's rule, the only seqs thinning
// consumes are the n-4 just before each reading.Thinned "<series>_count"
// reading of value n. A batch subtracts those within its range from its
// holes, so dropped stays exact, and reports in Thinned how many of its
// readings carry the flag.

// thinGap returns the seqs thinning consumed just before r that lie at or
// after from (a stream that had read into a range before it was thinned
// counts only its part).
func thinGap(r *reading.Reading, from uint64) uint64 {
	if r.Flags&reading.Thinned == 0 || !strings.HasSuffix(r.Name, "_count") || r.Seq <= from {
		return 0
	}
	if !(r.Value >= 4 && r.Value < 1<<53) {
		return 0
	}
	return min(uint64(r.Value)-4, r.Seq-from)
}

// thinGaps sums thinGap over rs.
func thinGaps(rs []reading.Reading, from uint64) uint64 {
	var n uint64
	for i := range rs {
		n += thinGap(&rs[i], from)
	}
	return n
}

// countThinned counts the readings that are (or, for an aggregate stream,
// summarize) the buffer's thinned aggregates.
func countThinned(rs []reading.Reading) uint64 {
	var n uint64
	for i := range rs {
		if rs[i].Flags&reading.Thinned != 0 {
			n++
		}
	}
	return n
}
