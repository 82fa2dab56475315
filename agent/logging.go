package agent

import (
	"io"
	"log/slog"
	"os"
)

// NewLogger builds the daemon's logger from [log]: level, and format "text"
// (logfmt, for a technician's terminal and journalctl) or "json" (one
// object a line, for a log shipper). Under systemd with stderr connected
// to the journal (JOURNAL_STREAM names stderr's device and inode) no time
// is written: journald stamps every line itself, and a second stamp costs
// SD-card bytes on every line. An unknown level or format falls back to
// info and text (Validate rejects them before a run).
func NewLogger(c LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if toJournal(w) {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	if c.Format == "json" {
		return slog.New(withRecent(slog.NewJSONHandler(w, opts), opts.Level))
	}
	return slog.New(withRecent(slog.NewTextHandler(w, opts), opts.Level))
}

// toJournal reports whether w is the stream systemd connected to the
// journal: JOURNAL_STREAM is "<dev>:<inode>" of that stream (systemd.exec),
// compared with w's so that a child whose stderr was redirected does not
// drop its timestamps.
func toJournal(w io.Writer) bool {
	js := os.Getenv("JOURNAL_STREAM")
	if js == "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	id, ok := devIno(f)
	return ok && id == js
}
