package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// handleExport is `karana-edge buffer export` as a download: format jsonl
// or csv, a seq range (from, to; to 0: the newest) or the readings of the
// last `since` (a duration, "24h"), for a technician to carry the data out
// on a laptop when the link has been down for weeks.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "jsonl" {
		http.Error(w, fmt.Sprintf("format %q: want csv or jsonl", format), http.StatusBadRequest)
		return
	}
	from, to, err := s.exportRange(q.Get("from"), q.Get("to"), q.Get("since"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctype := "text/csv; charset=utf-8"
	if format == "jsonl" {
		ctype = "application/jsonl; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	name := fmt.Sprintf("%s-%s.%s", s.opts.DeviceID, s.opts.Now().UTC().Format("20060102T150405Z"), format)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if r.Method == http.MethodHead {
		return
	}
	if err := s.opts.Ring.Export(w, format, from, to); err != nil {
		// Part of the file may be out: the download ends short, and the
		// log says why.
		s.opts.Log.Warn("http: export", "format", format, "from", from, "to", to, "err", err)
	}
}

func (s *Server) exportRange(fromS, toS, sinceS string) (from, to uint64, err error) {
	parse := func(key, v string) (uint64, error) {
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: want a seq (a whole number)", key, v)
		}
		return n, nil
	}
	if from, err = parse("from", fromS); err != nil {
		return 0, 0, err
	}
	if to, err = parse("to", toS); err != nil {
		return 0, 0, err
	}
	if to != 0 && from > to {
		return 0, 0, fmt.Errorf("from %d is after to %d", from, to)
	}
	if sinceS == "" {
		return from, to, nil
	}
	d, err := time.ParseDuration(sinceS)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("since %q: want a duration such as 24h", sinceS)
	}
	seq, ok, err := seqAt(s.opts.Ring, s.opts.Now().Add(-d))
	if err != nil {
		return 0, 0, fmt.Errorf("since %s: %w", sinceS, err)
	}
	if !ok {
		_, last := s.opts.Ring.Bounds()
		seq = last + 1 // nothing that recent: an empty export, not all of it
	}
	return max(from, seq), to, nil
}
