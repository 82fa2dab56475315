package buffer

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Stats is the buffer's state for `karana-edge buffer stats` and the MQTT
// status document. Counters marked "since open" restart with the process.
type Stats struct {
	Path      string `json:"path"`
	FileBytes int64  `json:"file_bytes"` // the database file on disk
	DataBytes int64  `json:"data_bytes"` // stored blocks, keys included
	MaxBytes  int64  `json:"max_bytes"`  // 0 when opened read-only
	Readings  uint64 `json:"readings"`   // depth: readings stored
	FirstSeq  uint64 `json:"first_seq"`  // first available (last_seq+1 when empty)
	LastSeq   uint64 `json:"last_seq"`   // last committed
	// Oldest and Newest are the sample times of the first and last stored
	// readings (zero, and omitted, when empty).
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
	// Cursors holds the last acknowledged seq of every stream the file
	// knows, active or not; Unsent is last_seq minus it: the seqs after
	// the cursor, holes (drops, a seq jump, thinned spans) included, so at
	// most the readings the stream has still to read plus what it will
	// announce as dropped. Readings counts stored readings, holes not
	// included. Active lists the streams given to SetStreams (sorted): only
	// they hold data back.
	Cursors map[string]uint64 `json:"cursors"`
	Unsent  map[string]uint64 `json:"unsent"`
	Active  []string          `json:"active_streams,omitempty"`
	// DroppedTotal counts readings lost to overflow or failed commits, over
	// the life of the file.
	DroppedTotal uint64 `json:"dropped_total"`
	// ThinnedTotal counts raw readings replaced by per-minute aggregates
	// past thin_at (thin.go), and Thinnings the runs of blocks thinned, over
	// the life of the file.
	ThinnedTotal uint64 `json:"thinned_total"`
	Thinnings    uint64 `json:"thinnings"`
	Commits      uint64 `json:"commits"`       // since open
	CommitErrors uint64 `json:"commit_errors"` // since open
	Pending      int    `json:"pending"`       // readings waiting for a commit
	Compactions  uint64 `json:"compactions"`   // since open
	// RecoveredFrom is where a corrupt file was moved by this open;
	// RecoveredAt and Recovery say when and why, also when there was
	// nothing to move (a missing file the .seq reservation says held
	// readings) or the file was rolled back to its previous commit (a
	// damaged meta page). SeqJump is how many seqs numbering skipped then:
	// every stream announces them as dropped.
	RecoveredFrom string    `json:"recovered_from,omitempty"`
	RecoveredAt   time.Time `json:"recovered_at,omitzero"`
	Recovery      string    `json:"recovery,omitempty"`
	SeqJump       uint64    `json:"seq_jump,omitempty"`
	// DiskReadOnly: the data directory refuses writes (a card gone
	// read-only), at Open (the stored readings are served, cursors move
	// in memory only, new readings wait in memory without a seq) or since
	// (commits fail with EROFS, FailingSince and Pending as on a full
	// disk). A disk too full to create the file at Open is the same but
	// for this flag: LastError says why.
	DiskReadOnly bool   `json:"disk_read_only,omitempty"`
	Series       int    `json:"series"` // dictionary size
	ReadOnly     bool   `json:"read_only,omitempty"`
	LastError    string `json:"last_error,omitempty"` // last commit error since open
	// FailingSince is when the current run of failed commits began (disk
	// full, read-only data dir): zero, and omitted, while commits succeed.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// LastCommit and MaxCommit are the duration of the last successful
	// commit and the longest since open (fdatasyncs included): an SD card
	// wearing out shows here first.
	LastCommit time.Duration `json:"last_commit_ns"`
	MaxCommit  time.Duration `json:"max_commit_ns"`
	// Keep is how long delivered readings are kept ([buffer] keep, or
	// more when the agent needs it: keep.go); Readings, DataBytes and
	// Oldest include them.
	Keep time.Duration `json:"keep_ns,omitempty"`
}

// Stats returns the current figures. It reads one or two blocks for the
// oldest and newest times and is safe to call at any time.
func (r *Ring) Stats() (Stats, error) {
	r.mu.Lock()
	s := Stats{
		Path:          r.path,
		DataBytes:     r.dataBytes,
		MaxBytes:      int64(r.cfg.MaxBytes),
		Readings:      r.count,
		FirstSeq:      r.first,
		LastSeq:       r.last,
		Cursors:       make(map[string]uint64, len(r.cursors)),
		Unsent:        make(map[string]uint64, len(r.cursors)),
		DroppedTotal:  r.dropped,
		ThinnedTotal:  r.thinned,
		Thinnings:     r.thinnings,
		Pending:       len(r.pending),
		Compactions:   r.compactions,
		RecoveredFrom: r.recovery.aside,
		RecoveredAt:   r.recovery.at,
		Recovery:      r.recovery.reason,
		SeqJump:       r.recovery.jump,
		ReadOnly:      r.readOnly,
		Keep:          r.keepLocked(),
	}
	for k := range r.active {
		s.Active = append(s.Active, k)
	}
	slices.Sort(s.Active)
	for k, c := range r.cursors {
		s.Cursors[k] = c
		if r.last > c {
			s.Unsent[k] = r.last - c
		} else {
			s.Unsent[k] = 0
		}
	}
	r.mu.Unlock()
	r.health.fill(&s)
	s.Series = len(r.dict.snapshot())
	if fi, err := os.Stat(r.path); err == nil {
		s.FileBytes = fi.Size()
	}
	if s.Readings == 0 {
		return s, nil
	}
	err := r.view(func(tx *bolt.Tx) error {
		names := r.dict.snapshot()
		meta, data := tx.Bucket(bucketMeta), tx.Bucket(bucketData)
		if meta == nil || data == nil {
			return fmt.Errorf("buckets missing")
		}
		c := data.Cursor()
		_, oldest := c.First()
		_, newest := c.Last()
		if recent := recentBlocks(tx, meta); len(recent) > 0 {
			if oldest == nil {
				oldest = recent[0].v
			}
			newest = recent[len(recent)-1].v
		}
		if oldest != nil {
			_, _ = decodeBlock(oldest, len(names), func(_ int, e entry) bool {
				s.Oldest = timeOf(e.ts)
				return false
			})
		}
		if newest != nil {
			_, _ = decodeBlock(newest, len(names), func(_ int, e entry) bool {
				s.Newest = timeOf(e.ts)
				return true
			})
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("buffer %s: stats: %w", r.path, err)
	}
	return s, nil
}

// WriteText renders s for a technician's terminal.
func (s Stats) WriteText(w io.Writer) {
	p := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-15s "+format+"\n", append([]any{label}, args...)...)
	}
	p("path", "%s", s.Path)
	if s.MaxBytes > 0 {
		p("file", "%s of %s max (data %s)", size(s.FileBytes), size(s.MaxBytes), size(s.DataBytes))
	} else {
		p("file", "%s (data %s)", size(s.FileBytes), size(s.DataBytes))
	}
	if s.Readings == 0 {
		p("readings", "0 (empty; next seq %d)", s.FirstSeq)
	} else {
		p("readings", "%d (seq %d..%d)", s.Readings, s.FirstSeq, s.LastSeq)
		p("oldest", "%s", fmtTime(s.Oldest))
		p("newest", "%s", fmtTime(s.Newest))
	}
	p("dropped total", "%d", s.DroppedTotal)
	if s.Keep > 0 {
		p("keep", "delivered readings kept %s (capacity first)", s.Keep)
	}
	p("series", "%d", s.Series)
	if s.ReadOnly {
		p("opened", "read-only (daemon stopped)")
	} else {
		p("commits", "%d (%d failed), %d pending, %d compactions since start", s.Commits, s.CommitErrors, s.Pending, s.Compactions)
	}
	if !s.ReadOnly && s.Commits > 0 {
		p("commit time", "last %s, max %s", s.LastCommit.Round(time.Microsecond), s.MaxCommit.Round(time.Microsecond))
	}
	if s.LastError != "" {
		p("last error", "%s", s.LastError)
	}
	if !s.FailingSince.IsZero() {
		p("FAILING", "commits fail since %s; readings wait in memory (%d pending)", fmtTime(s.FailingSince), s.Pending)
	}
	names := make([]string, 0, len(s.Cursors))
	for k := range s.Cursors {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		note := ""
		if len(s.Active) > 0 && !slices.Contains(s.Active, k) {
			note = " (not configured)"
		}
		p("stream "+k, "cursor %d, unsent %d%s", s.Cursors[k], s.Unsent[k], note)
	}
	if s.DiskReadOnly {
		p("READ-ONLY", "the data directory refuses writes: stored readings are served, new ones wait in memory (%d pending)", s.Pending)
	}
	if s.RecoveredFrom != "" {
		p("RECOVERED", "the previous file was unusable and was moved to %s (%s)", s.RecoveredFrom, s.Recovery)
	} else if s.Recovery != "" {
		p("RECOVERED", "%s", s.Recovery)
	}
	if s.SeqJump > 0 {
		p("SEQ JUMP", "%d seqs skipped at %s, announced to every stream as dropped", s.SeqJump, fmtTime(s.RecoveredAt))
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(tsLayout)
}
