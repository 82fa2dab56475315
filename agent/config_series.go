package agent

import (
	"fmt"
	"path"
	"strings"

	"github.com/karana-energy/karana-edge/reading"
)

// StreamsFor explains, one line per stream, whether and how each stream
// takes the series (`karana-edge check -series NAME`): the glob that matches
// it, the topic, format and batch period. A last line says so when no
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
		lines = append(lines, fmt.Sprintf("stream %s: taken by glob %q; %s batches every %s to %s",
			s.Name, glob, s.Format, s.Period.Duration, c.Topic("data", s.Name)))
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
