package agent

import "encoding/json"

// The status document is published again while connected when its health
// changes (uplink.Options.Health): the buffer failing and recovering,
// read-only, recovered at start, the clock synchronized, another config.
// Every status field is health except the counters below, which move on
// their own while the box is healthy: a field added to status() joins the
// health by construction, and a counter must be listed here or it would
// republish the document once a minute (TestStatusDigestIgnoresCounters
// catches that).
var statusCounters = map[string]bool{
	"buffer_depth":        true,
	"buffer_bytes":        true,
	"buffer_pending":      true, // grows while commits fail; buffer_failing_since says they do
	"dropped_total":       true,
	"oldest_unsent_age_s": true,
}

// healthDigest is uplink.Options.Health: the status fields but the
// counters, as JSON (its map keys sorted, so equal health, equal digest).
func (a *Agent) healthDigest() string {
	st, err := a.ring.Stats()
	if err != nil {
		return "buffer_error: " + err.Error()
	}
	return statusDigest(a.healthFields(st))
}

func statusDigest(status map[string]any) string {
	h := make(map[string]any, len(status))
	for k, v := range status {
		if !statusCounters[k] {
			h[k] = v
		}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err.Error() // never: status() holds strings, numbers and bools
	}
	return string(b)
}
