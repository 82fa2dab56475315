package agent

import (
	"fmt"
	"path"
	"strings"

	"github.com/karana-energy/karana-edge/reading"
	"github.com/karana-energy/karana-edge/uplink"
)

// StreamsFor explains, one line per stream, whether and how each stream
// takes the series (`karana-edge check -series NAME`): the glob that matches
// it, raw readings or which aggregates, the format (and compression),
// batch period and topic. A last line says so when no
// stream takes it (it is buffered but never sent), when its sensor is
// disabled, or when no sensor makes it.
func (c *Config) StreamsFor(series string) []string {
	if !reading.ValidName(series) {
		return []string{fmt.Sprintf("%q is not a valid series name: use ASCII letters, digits, '-', '_' and '.'", series)}
	}
	var lines []string
	taken := false
	for _, s := range c.Streams {
		glob := ""
		for _, g := range s.Match {
			if ok, _ := path.Match(g, series); ok {
				glob = g
				break
			}
		}
		if glob == "" {
			lines = append(lines, fmt.Sprintf("stream %s: not taken (match %s)", s.Name, quoteAll(s.Match)))
			continue
		}
		taken = true
		what := "raw readings"
		if fns := s.AggregateFunctions(); fns != nil {
			what = fmt.Sprintf("%s aggregates (%s as %s_<function>)", s.AggregateName(), strings.Join(fns, ","), series)
		}
		enc := s.Format
		if s.Compress != "" && s.Compress != "none" {
			enc += "+" + s.Compress
		}
		line := fmt.Sprintf("stream %s: taken by glob %q; %s, %s batches every %s to %s",
			s.Name, glob, what, enc, s.Period.Duration, c.Topic(s.TopicLevels()...))
		// link-cost settings only when they differ from the defaults
		if s.Priority != 0 {
			line += fmt.Sprintf("; priority %d", s.Priority)
		}
		if s.Backfill != "" && s.Backfill != uplink.BackfillOldestFirst {
			line += "; backfill " + s.Backfill
		}
		if s.Essential {
			line += "; essential (sends past the budget)"
		}
		lines = append(lines, line)
	}
	if !taken {
		lines = append(lines, "no stream takes it: it is buffered but never sent")
	}
	for _, sc := range c.Sensors {
		if series == sc.Name || strings.HasPrefix(series, sc.Name+".") {
			if sc.Disabled {
				lines = append(lines, fmt.Sprintf("sensor %s is disabled: it makes no readings", sc.Name))
			}
			return lines
		}
	}
	return append(lines, "no configured sensor makes it (series are <sensor>.<field>)")
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
