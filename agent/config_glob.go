package agent

import (
	"path"
	"slices"

	"github.com/karana-energy/karana-edge/config"
)

// warnUnmatchedGlobs warns about stream globs that no series of any
// configured sensor can match. Series are "<sensor>.<field>" (or "<sensor>"
// alone) and fields are only known once a driver reads, so a glob is taken
// to match a sensor when it matches the name or some name starting with
// "<sensor>.".
func (c *Config) warnUnmatchedGlobs(doc *config.Doc) {
	if len(c.Sensors) == 0 {
		return
	}
	for i, s := range c.Streams {
		for j, g := range s.Match {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				continue // Validate reported it
			}
			// The agent's own telemetry sensor (telemetry.go) counts too.
			matched := c.Telemetry.Interval.Duration > 0 && globMatchesPrefix(g, "karana.") || c.rulesMatch(g)
			for _, sc := range c.Sensors {
				// A driver may name a single series after the sensor alone.
				if ok, _ := path.Match(g, sc.Name); ok || globMatchesPrefix(g, sc.Name+".") {
					matched = true
					break
				}
			}
			if !matched {
				key := config.IndexKey(config.IndexKey("stream", i)+".match", j)
				if !doc.Keys().Has(key) {
					key = config.IndexKey("stream", i) + ".match"
				}
				doc.Warnf(key, "glob %q matches no series of the configured sensors (series are named <sensor>.<field>, e.g. %q)", g, c.Sensors[0].Name+".*")
			}
		}
	}
}

// globMatchesPrefix reports whether some series name that starts with prefix
// and has at least one more character can match the path.Match glob g. It
// runs g as a set of states over prefix; any state left that still wants
// input means yes. Series names hold no '/', so '*' matches any run.
func globMatchesPrefix(g, prefix string) bool {
	states := closure(g, []int{0})
	for i := 0; i < len(prefix) && len(states) > 0; i++ {
		var next []int
		for _, st := range states {
			if st >= len(g) {
				continue
			}
			switch g[st] {
			case '*':
				next = append(next, st) // '*' absorbs the byte and stays
			case '?':
				next = append(next, st+1)
			case '[':
				end, ok := classMatch(g, st, prefix[i])
				if ok {
					next = append(next, end)
				}
			case '\\':
				if st+1 < len(g) && g[st+1] == prefix[i] {
					next = append(next, st+2)
				}
			default:
				if g[st] == prefix[i] {
					next = append(next, st+1)
				}
			}
		}
		states = closure(g, dedup(next))
	}
	for _, st := range states {
		if st < len(g) {
			return true
		}
	}
	return false
}

// closure adds the states reachable by letting a '*' match nothing.
func closure(g string, states []int) []int {
	out := append([]int(nil), states...)
	for i := 0; i < len(out); i++ {
		if st := out[i]; st < len(g) && g[st] == '*' && !slices.Contains(out, st+1) {
			out = append(out, st+1)
		}
	}
	return out
}

func dedup(s []int) []int {
	slices.Sort(s)
	return slices.Compact(s)
}

// classMatch matches byte c against the [class] starting at g[st] and returns
// the state after the class.
func classMatch(g string, st int, c byte) (int, bool) {
	i := st + 1
	negate := false
	if i < len(g) && g[i] == '^' {
		negate = true
		i++
	}
	matched := false
	for first := true; i < len(g) && (first || g[i] != ']'); first = false {
		lo := g[i]
		if lo == '\\' && i+1 < len(g) {
			i++
			lo = g[i]
		}
		i++
		hi := lo
		if i+1 < len(g) && g[i] == '-' && g[i+1] != ']' {
			hi = g[i+1]
			if hi == '\\' && i+2 < len(g) {
				hi = g[i+2]
				i++
			}
			i += 2
		}
		if lo <= c && c <= hi {
			matched = true
		}
	}
	if i >= len(g) {
		return 0, false
	}
	return i + 1, matched != negate
}
